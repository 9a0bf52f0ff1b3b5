package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/config"
)

// unavailable starts a fake InfluxDB that answers every write with 503, or
// never answers when hang is set, and returns its URL and a channel that
// gets a value per write attempt.
func unavailable(t *testing.T, hang bool) (string, <-chan struct{}) {
	t.Helper()
	attempts := make(chan struct{}, 100)
	release := make(chan struct{}) // ends hanging requests when the test is over
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case attempts <- struct{}{}:
		default:
		}
		if hang {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first
	return srv.URL, attempts
}

// stuckPipeline is a pipeline with lines read and a sink that cannot
// deliver them: its writes fail with 503, or hang for timeout.
func stuckPipeline(t *testing.T, hang bool, timeout string) (*agentPipeline, <-chan struct{}) {
	t.Helper()
	url, attempts := unavailable(t, hang)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.log"), []byte("v=1\nv=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rules := `
influxdb {
  url            = "` + url + `"
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
	p, err := newPipeline(cfg, &env{stdout: io.Discard, stderr: io.Discard}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return p, attempts
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
	}
}

// startRun runs p in the background; signals go to the returned channel.
func startRun(p *agentPipeline) (chan<- os.Signal, <-chan error) {
	sigs := make(chan os.Signal, 2)
	done := make(chan error, 1)
	go func() { done <- p.run(context.Background(), sigs) }()
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
// run at once, reporting that not everything was delivered.
func TestRunSecondSignalStopsAtOnce(t *testing.T) {
	p, attempts := stuckPipeline(t, false, "200ms")
	sigs, done := startRun(p)
	waitFor(t, attempts, "write attempt")
	sigs <- os.Interrupt
	sigs <- os.Interrupt
	if err := stopped(t, done, 2*time.Second); err == nil || !strings.Contains(err.Error(), "second signal") {
		t.Errorf("run = %v, want the second-signal error", err)
	}
}

// TestRunGraceRunsOut: with InfluxDB down, one signal ends run after the
// grace (0.3s) and one last write bounded by the timeout (0.2s), with an
// error; the limit leaves slack for a loaded machine.
func TestRunGraceRunsOut(t *testing.T) {
	p, attempts := stuckPipeline(t, false, "200ms")
	p.grace = 300 * time.Millisecond
	sigs, done := startRun(p)
	waitFor(t, attempts, "write attempt")
	sigs <- os.Interrupt
	if err := stopped(t, done, 5*time.Second); err == nil {
		t.Error("run = nil, want an error: the points were not delivered")
	}
}

// TestRunSignalDuringLastWrite: once the grace has run out, a signal still
// cuts the last write short instead of waiting for its 30s timeout.
func TestRunSignalDuringLastWrite(t *testing.T) {
	p, attempts := stuckPipeline(t, true, "30s")
	p.grace = 200 * time.Millisecond
	sigs, done := startRun(p)
	waitFor(t, attempts, "write attempt")
	sigs <- os.Interrupt
	waitFor(t, attempts, "last write after the grace")
	sigs <- os.Interrupt
	if err := stopped(t, done, 5*time.Second); err == nil || !strings.Contains(err.Error(), "second signal") {
		t.Errorf("run = %v, want the second-signal error", err)
	}
}
