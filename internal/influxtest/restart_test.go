package influxtest

import (
	"net"
	"net/http"
	"slices"
	"testing"
)

// TestRestartKeepsData: a point written before Stop is there after
// Restart on the same data folder and, when its port stayed free, the
// same URL; while stopped the server refuses connections. When the port
// was taken meanwhile, Restart moves to a new one.
func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.CreateDatabase(t, "db")
	s.Write(t, "db", "m v=1i 1700000000000000000\n")
	url := s.URL()
	s.Stop(t)
	if resp, err := http.Get(url + "/ping"); err == nil {
		resp.Body.Close()
		t.Fatalf("GET /ping of a stopped server: %s, want a connection error", resp.Status)
	}
	s.Restart(t)
	if s.URL() != url {
		t.Logf("the port was taken meanwhile: %s, then %s", url, s.URL())
	}
	want := []string{"m v=1i 1700000000000000000"}
	if got := s.Dump(t, "db"); !slices.Equal(got, want) {
		t.Fatalf("after Restart: %q, want %q", got, want)
	}

	// Take the port, and Restart must move.
	s.Stop(t)
	l, err := net.Listen("tcp", s.URL()[len("http://"):])
	if err != nil {
		t.Fatalf("take the stopped server's port: %v", err)
	}
	defer l.Close()
	s.Restart(t)
	if s.URL() == "http://"+l.Addr().String() {
		t.Fatalf("Restart reused the taken address %s", s.URL())
	}
	if got := s.Dump(t, "db"); !slices.Equal(got, want) {
		t.Fatalf("after Restart on a new port: %q, want %q", got, want)
	}
}
