package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/config"
)

// outage is how the fake InfluxDB fails.
type outage int

const (
	answers503 outage = iota // every write gets 503 at once
	hangs                    // writes get no answer until the client gives up
	refuses                  // nothing listens: connections are refused
)

// fakeInflux is an InfluxDB that stores nothing.
type fakeInflux struct {
	url      string
	mode     outage
	requests atomic.Int64  // write requests received
	attempts chan struct{} // a value per request, while there is room
	release  chan struct{} // ends hanging requests when the test is over
}

func startFakeInflux(t *testing.T, mode outage) *fakeInflux {
	t.Helper()
	f := &fakeInflux{attempts: make(chan struct{}, 100), release: make(chan struct{}), mode: mode}
	if mode == refuses {
		// A port that was just free and is closed again: connects to it
		// fail at once, as with InfluxDB down on its host.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f.url = "http://" + l.Addr().String()
		l.Close()
		return f
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		f.requests.Add(1)
		select {
		case f.attempts <- struct{}{}:
		default:
		}
		if f.mode == hangs {
			select {
			case <-r.Context().Done():
			case <-f.release:
			}
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(f.release) }) // runs first
	f.url = srv.URL
	return f
}

// logCapture is a slog.Handler that keeps the records a pipeline logs and
// calls onLog, if set, as each is logged.
type logCapture struct {
	mu    sync.Mutex
	recs  []slog.Record
	onLog func(slog.Record)
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCapture) WithAttrs([]slog.Attr) slog.Handler       { return c } // the stages' own attributes are not needed
func (c *logCapture) WithGroup(string) slog.Handler            { return c }

func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	c.recs = append(c.recs, r.Clone())
	c.mu.Unlock()
	if c.onLog != nil {
		c.onLog(r)
	}
	return nil
}

// stopped returns the attributes of run's last log line, err left out,
// with its level, or fails the test.
func (c *logCapture) stopped(t *testing.T) map[string]string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.recs) - 1; i >= 0; i-- {
		r := c.recs[i]
		if r.Message != "stopped" {
			continue
		}
		got := map[string]string{"level": r.Level.String()}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key != "err" {
				got[a.Key] = a.Value.String()
			}
			return true
		})
		return got
	}
	t.Fatal("no final log line (msg=stopped)")
	return nil
}

// undelivered is the final log line of a run that read n lines of one point
// each and delivered none.
func undelivered(n int) map[string]string {
	s := fmt.Sprint(n)
	return map[string]string{
		"level": "ERROR", "lines_read": s, "lines_not_delivered": s, "points_not_delivered": s, "lines_not_extracted": "0",
	}
}

// stuckPipeline is a pipeline whose sink cannot deliver, as the fake says,
// with writes bounded by timeout. The file it follows holds lines lines of
// one point each; run it with startRun, which waits until all are
// extracted.
func stuckPipeline(t *testing.T, fake *fakeInflux, timeout string, lines int, logs *logCapture) *agentPipeline {
	t.Helper()
	dir := t.TempDir()
	var log strings.Builder
	for i := range lines {
		fmt.Fprintf(&log, "v=%d\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.log"), []byte(log.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rules := `
agent {
  state_dir = "state"
  listen    = ""
}
influxdb {
  url            = "` + fake.url + `"
  bucket         = "db"
  flush_interval = "10ms"
  timeout        = "` + timeout + `"
}
source "s" {
  paths    = ["app.log"]
  start_at = "beginning"
  rule "r" {
    logfmt = true
    fields = { v = "int" }
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "rules.hcl"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, diags := config.Load(filepath.Join(dir, "rules.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p, err := newPipeline(cfg, &env{stdout: io.Discard, stderr: io.Discard}, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.tl.Close)
	return p
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
	}
}

// waitUntil polls cond until it holds, failing the test after 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("not %s within 10s", what)
		}
	}
}

// startRun runs p in the background and returns once it has extracted
// lines lines, so that the figures of its final log line are known; signals
// go to the returned channel.
func startRun(t *testing.T, p *agentPipeline, lines int) (chan<- os.Signal, <-chan error) {
	t.Helper()
	sigs := make(chan os.Signal, 2)
	done := make(chan error, 1)
	go func() { done <- p.run(context.Background(), sigs) }()
	waitUntil(t, fmt.Sprintf("%d lines extracted", lines), func() bool {
		var n uint64
		for _, s := range p.ex.Stats().Sources {
			n += s.Lines
		}
		return n == uint64(lines)
	})
	return sigs, done
}

// stopped waits for run to return, failing the test after within.
func stopped(t *testing.T, done <-chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("run still running %v after the signal", within)
		return nil
	}
}

// TestRunSecondSignalStopsAtOnce: with InfluxDB down, a second signal ends
// run at once, and its last line says exactly what was not delivered, the
// records still queued for the sink included.
func TestRunSecondSignalStopsAtOnce(t *testing.T) {
	fake := startFakeInflux(t, answers503)
	var logs logCapture
	// 7,500 lines: a full batch of 5,000 in the sink, the rest queued.
	p := stuckPipeline(t, fake, "200ms", 7500, &logs)
	sigs, done := startRun(t, p, 7500)
	waitFor(t, fake.attempts, "write attempt")
	sigs <- os.Interrupt
	sigs <- os.Interrupt
	if err := stopped(t, done, 2*time.Second); err == nil || !strings.Contains(err.Error(), "second signal") {
		t.Errorf("run = %v, want the second-signal error", err)
	}
	if diff := cmp.Diff(undelivered(7500), logs.stopped(t)); diff != "" {
		t.Errorf("final log line (-want +got):\n%s", diff)
	}
}

// TestRunGraceRunsOut: with InfluxDB down, one signal ends run after the
// grace and exactly one more write, which only a server that does not
// answer can make last the whole timeout; the final log line counts the
// 7,500 lines read, none delivered.
func TestRunGraceRunsOut(t *testing.T) {
	const grace = 200 * time.Millisecond
	tests := []struct {
		name    string
		outage  outage
		timeout time.Duration
		// The shutdown takes at least grace+min and less than
		// grace+max after the signal.
		min, max time.Duration
	}{
		// Between the signal and the end of the grace the sink makes no
		// request: its first retry comes 0.5s to 1s after the first
		// attempt. Before the one last attempt, retries and their waits
		// used to fill the timeout.
		{name: "503", outage: answers503, timeout: 2 * time.Second, max: 2 * time.Second},
		{name: "connection refused", outage: refuses, timeout: 2 * time.Second, max: 2 * time.Second},
		// The slack covers a loaded machine.
		{name: "no answer", outage: hangs, timeout: time.Second, min: time.Second, max: 3 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := startFakeInflux(t, tc.outage)
			var graceOut atomic.Int64 // requests when the grace ran out, +1
			logs := logCapture{onLog: func(r slog.Record) {
				if strings.HasPrefix(r.Message, "shutdown grace ran out") {
					graceOut.Store(fake.requests.Load() + 1)
				}
			}}
			p := stuckPipeline(t, fake, tc.timeout.String(), 7500, &logs)
			p.grace = grace
			sigs, done := startRun(t, p, 7500)
			if tc.outage != refuses {
				waitFor(t, fake.attempts, "write attempt")
			}
			start := time.Now()
			sigs <- os.Interrupt
			if err := stopped(t, done, grace+tc.max+5*time.Second); err == nil {
				t.Error("run = nil, want an error: the points were not delivered")
			}
			took := time.Since(start)
			if took < grace+tc.min || took >= grace+tc.max {
				t.Errorf("shutdown took %v, want from %v to under %v", took, grace+tc.min, grace+tc.max)
			}
			if graceOut.Load() == 0 {
				t.Fatal("the grace did not run out")
			}
			if tc.outage != refuses {
				if after := fake.requests.Load() - (graceOut.Load() - 1); after != 1 {
					t.Errorf("%d write requests after the grace, want exactly 1", after)
				}
			}
			if diff := cmp.Diff(undelivered(7500), logs.stopped(t)); diff != "" {
				t.Errorf("final log line (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunSignalDuringLastWrite: once the grace has run out, a signal still
// cuts the last write short instead of waiting for its 30s timeout, and
// says what was lost.
func TestRunSignalDuringLastWrite(t *testing.T) {
	fake := startFakeInflux(t, hangs)
	var logs logCapture
	p := stuckPipeline(t, fake, "30s", 2, &logs)
	p.grace = 200 * time.Millisecond
	sigs, done := startRun(t, p, 2)
	waitFor(t, fake.attempts, "write attempt")
	sigs <- os.Interrupt
	waitFor(t, fake.attempts, "last write after the grace")
	sigs <- os.Interrupt
	if err := stopped(t, done, 5*time.Second); err == nil || !strings.Contains(err.Error(), "second signal") {
		t.Errorf("run = %v, want the second-signal error", err)
	}
	if diff := cmp.Diff(undelivered(2), logs.stopped(t)); diff != "" {
		t.Errorf("final log line (-want +got):\n%s", diff)
	}
}
