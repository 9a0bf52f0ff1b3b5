package influxtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

func TestServer(t *testing.T) {
	s := Start(t)
	s.CreateDatabase(t, "db")
	s.Write(t, "db", strings.Join([]string{
		`cpu,host=a,region=eu usage=1,cores=4i,ok=true,name="x \"y\"" 1000000000000000001`,
		`cpu,host=b usage=0.5 2`,
		`disk,host=a free=-3i -5`,
	}, "\n"))

	want := []string{
		`cpu,host=a,region=eu cores=4i,name="x \"y\"",ok=true,usage=1 1000000000000000001`,
		`cpu,host=b usage=0.5 2`,
		`disk,host=a free=-3i -5`,
	}
	if diff := cmp.Diff(want, s.Dump(t, "db")); diff != "" {
		t.Errorf("Dump (-want +got):\n%s", diff)
	}

	// Query keeps numbers exact: the nanosecond time above does not fit a
	// float64, and the float 1 and the integer 4 both come as json.Number.
	wantSeries := []Series{{
		Name:    "cpu",
		Tags:    map[string]string{"host": "a"},
		Columns: []string{"time", "cores", "usage"},
		Values:  [][]any{{json.Number("1000000000000000001"), json.Number("4"), json.Number("1")}},
	}}
	got := s.Query(t, "db", `SELECT cores, usage FROM cpu WHERE host = 'a' GROUP BY host`)
	if diff := cmp.Diff(wantSeries, got); diff != "" {
		t.Errorf("Query (-want +got):\n%s", diff)
	}
}

func TestDumpPoint(t *testing.T) {
	p := pipeline.Point{
		Measurement: "m",
		Tags:        []pipeline.Tag{{Key: "z", Value: "1"}, {Key: "a", Value: "2"}},
		Fields: []pipeline.Field{
			{Key: "s", Value: pipeline.StringValue("a\nb")},
			{Key: "f", Value: pipeline.FloatValue(1)},
			{Key: "i", Value: pipeline.IntValue(-1)},
			{Key: "u", Value: pipeline.UintValue(2)},
			{Key: "b", Value: pipeline.BoolValue(false)},
		},
		Time: 42,
	}
	want := `m,a=2,z=1 b=false,f=1,i=-1i,s="a\nb",u=2u 42`
	if got := DumpPoint(&p); got != want {
		t.Errorf("DumpPoint = %q, want %q", got, want)
	}
}

// The server started in a subtest is gone when the subtest ends.
func TestServerStopsAtCleanup(t *testing.T) {
	var url string
	t.Run("run", func(t *testing.T) {
		url = Start(t).URL()
	})
	resp, err := http.Get(url + "/ping")
	if err == nil {
		resp.Body.Close()
		t.Errorf("GET /ping after cleanup: %s, want a connection error", resp.Status)
	}
}

// fatalRecorder stands in for a test to catch Fatalf.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// findInfluxdMessage runs findInfluxd and returns its path, or the
// message it failed the test with.
func findInfluxdMessage(t *testing.T) (path, fatal string) {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		path = findInfluxd(rec)
	}()
	<-done
	return path, rec.msg
}

func TestFindInfluxd(t *testing.T) {
	t.Run("missing binary fails with a hint", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		sub := filepath.Join(dir, "a", "b")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Chdir(sub)
		t.Setenv("LOGMETRICS_INFLUXD", "")
		_, fatal := findInfluxdMessage(t)
		want := "bin/influxd not found: run `make influxd` (looked for " + filepath.Join(dir, "bin", "influxd") + ")"
		if fatal != want {
			t.Errorf("fatal = %q, want %q", fatal, want)
		}
	})
	t.Run("environment wins", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "my-influxd")
		if err := os.WriteFile(bin, nil, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("LOGMETRICS_INFLUXD", bin)
		if path, fatal := findInfluxdMessage(t); path != bin || fatal != "" {
			t.Errorf("findInfluxd = %q, %q; want %q", path, fatal, bin)
		}
	})
}

// TestStartTLS: a StartTLS server answers HTTPS with a certificate the
// test CA signed, and nothing over plain HTTP.
func TestStartTLS(t *testing.T) {
	s := StartTLS(t)
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") || s.CAFile() == "" {
		t.Fatalf("URL %s, CA file %q", s.URL(), s.CAFile())
	}
	s.CreateDatabase(t, "tls")
	s.Write(t, "tls", "m v=1i 1\n")
	if got := s.Dump(t, "tls"); len(got) != 1 {
		t.Fatalf("dump: %v", got)
	}
	resp, err := http.Get("http" + strings.TrimPrefix(s.URL(), "https") + "/ping")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusNoContent {
			t.Errorf("plain HTTP /ping answered %s: the server is not HTTPS only", resp.Status)
		}
	}
}
