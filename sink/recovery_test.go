package sink

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// pingDst is a fakeDst whose server also answers pings: ping says how
// the nth ping, made at (bubble) time at, is answered.
type pingDst struct {
	*fakeDst
	ping func(at time.Duration) error

	mu    sync.Mutex
	pings []time.Duration
}

func (p *pingDst) Ping(context.Context) error {
	at := time.Since(p.start)
	p.mu.Lock()
	p.pings = append(p.pings, at)
	p.mu.Unlock()
	return p.ping(at)
}

func (p *pingDst) Pings() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.pings...)
}

// refused is a write or ping error of a server that is not listening.
var refused = &WriteError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}

// While the sink backs off after a network error or a 5xx, it pings the
// server every second and retries as soon as a ping succeeds after one
// failed (or after a write that could not connect); never while waiting
// for a Retry-After, after a 429, or when the server answered pings all
// along. Backoff without jitter: 0.5, 1, 2, 4, 8, 15, 15 ... s.
func TestRunResumesWhenServerBack(t *testing.T) {
	const back = 20 * time.Second // the server answers again
	downUntil := func(fail error) func(time.Duration) error {
		return func(at time.Duration) error {
			if at < back {
				return fail
			}
			return nil
		}
	}
	tests := []struct {
		name      string
		write     func(at time.Duration) error
		ping      func(at time.Duration) error
		wantLast  time.Duration // the successful write
		wantPings int
	}{
		{
			// Writes at 0, .5, 1.5, 3.5, 7.5, 15.5; pings from 16.5
			// fail until 20.5.
			name:      "connection refused until the server is back",
			write:     downUntil(refused),
			ping:      downUntil(refused),
			wantLast:  back + 500*time.Millisecond,
			wantPings: 1 + 3 + 7 + 5, // in the 2 s, 4 s and 8 s waits; then 16.5 ... 20.5
		},
		{
			// The write at 15.5 s is cut (EOF through a proxy); the
			// server is back at 16 s, so every ping of that wait
			// succeeds: the failed write alone says it was down.
			name: "connection cut, server back just after the write",
			write: func(at time.Duration) error {
				if at < 16*time.Second {
					return &WriteError{Err: io.ErrUnexpectedEOF}
				}
				return nil
			},
			ping: func(at time.Duration) error {
				if at < 16*time.Second {
					return io.ErrUnexpectedEOF
				}
				return nil
			},
			wantLast:  16500 * time.Millisecond,
			wantPings: 1 + 3 + 7 + 1,
		},
		{
			name:      "503 from a proxy while the server behind it is down",
			write:     downUntil(&WriteError{StatusCode: 503}),
			ping:      downUntil(errors.New("ping: status 502")),
			wantLast:  back + 500*time.Millisecond,
			wantPings: 1 + 3 + 7 + 5,
		},
		{
			name:      "500 from a server that answers pings: the whole backoff",
			write:     downUntil(&WriteError{StatusCode: 500}),
			ping:      func(time.Duration) error { return nil },
			wantLast:  30500 * time.Millisecond, // 15.5 + 15
			wantPings: 1 + 3 + 7 + 14,
		},
		{
			name: "Retry-After is waited out without probes",
			write: func(at time.Duration) error {
				if at == 0 {
					return &WriteError{StatusCode: 503, RetryAfter: 25 * time.Second}
				}
				return nil
			},
			ping:     func(time.Duration) error { return nil },
			wantLast: 25 * time.Second,
		},
		{
			name: "429 without Retry-After: no probes",
			write: func(at time.Duration) error {
				if at < 3*time.Second {
					return &WriteError{StatusCode: 429}
				}
				return nil
			},
			ping:     func(time.Duration) error { return nil },
			wantLast: 3500 * time.Millisecond,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dst := &pingDst{fakeDst: newFakeDst(), ping: tc.ping}
				dst.fail = func(n int) error { return tc.write(dst.writes[n].At) } // under dst.mu
				s, err := New(Config{FlushInterval: time.Hour}, dst, nil)
				if err != nil {
					t.Fatal(err)
				}
				s.jitter = func(time.Duration) time.Duration { return 0 }
				acks, err := runAll(t, s, record("f", 1, point("a", 1)))
				if err != nil {
					t.Fatal(err)
				}
				writes := dst.Writes()
				if got := writes[len(writes)-1].At; got != tc.wantLast {
					t.Errorf("delivered at %v, want %v", got, tc.wantLast)
				}
				if got := len(dst.Pings()); got != tc.wantPings {
					t.Errorf("%d pings at %v, want %d", got, dst.Pings(), tc.wantPings)
				}
				if diff := cmp.Diff([]pipeline.Ack{ack("f", 1)}, acks); diff != "" {
					t.Errorf("acks (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// Shutdown during a probed backoff ends it at once, with the probe.
func TestRunProbeStopsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dst := &pingDst{fakeDst: newFakeDst(), ping: func(time.Duration) error { return refused }}
		dst.fail = func(int) error { return refused }
		_, after, err := stopAfter(t, Config{FlushInterval: time.Second, Timeout: time.Second}, dst, 10*time.Second,
			record("f", 1, point("a", 1)))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want canceled", err)
		}
		if after != 10*time.Second {
			t.Errorf("Run returned %v after the start, want 10s (at the cancel)", after)
		}
	})
}

// Against a real HTTP server on loopback that is not listening and then
// is: the write arrives within about a second of its return, although the
// backoff then running lasts 4 s.
func TestInfluxDBResumesAfterOutage(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down: connection refused
	wrote := make(chan time.Time, 10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v2/write" {
			wrote <- time.Now()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	cfg := Config{URL: "http://" + addr, Bucket: "db", FlushInterval: time.Hour}
	dst, err := NewInfluxDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Close)
	s, err := New(cfg, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Backoff 0.5, 1, 2, 4 s: writes at 0, 0.5, 1.5, 3.5, 7.5 s.
	s.jitter = func(time.Duration) time.Duration { return 0 }
	errc := make(chan error, 1)
	go func() {
		_, err := runAll(t, s, record("f", 1, point("a", 1)))
		errc <- err
	}()
	time.Sleep(4 * time.Second) // the outage, real time: inside the 4 s backoff
	if srv.Listener, err = net.Listen("tcp", addr); err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	srv.Start()
	up := time.Now()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	got := (<-wrote).Sub(up)
	t.Logf("delivered %v after the server came back", got)
	if got > 1500*time.Millisecond {
		t.Errorf("delivered %v after the server came back, want within 1.5 s", got)
	}
}

// Ping is a GET of /ping under the URL's path; only a 2xx is nil.
func TestInfluxDBPing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		wantErr bool
	}{
		{"204", 204, false},
		{"503", 503, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScripted(t, func(int, string) reply { return reply{status: tc.status} })
			dst, err := NewInfluxDB(Config{URL: sc.srv.URL + "/influx", Bucket: "db", Token: "user:pw"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(dst.Close)
			if err := dst.Ping(t.Context()); (err != nil) != tc.wantErr {
				t.Errorf("Ping: %v, want error %v", err, tc.wantErr)
			}
			reqs := sc.requests()
			if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/influx/ping" {
				t.Errorf("requests %+v, want one GET /influx/ping", reqs)
			}
		})
	}
}
