//go:build linux

package main

import (
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// TestOutageSameDataFolder: InfluxDB is stopped in the middle of the
// stream while lines keep coming faster than max_pending can hold, then
// started again on the same data folder. Every line arrives exactly once
// with the clean pass's timestamps (the points written before the outage
// included), and the agent's RSS, sampled through the outage, stays
// within what max_pending = 10000 allows: under 64 MiB (a race-detector
// build, as under `make test`, may take twice that: its shadow memory).
func TestOutageSameDataFolder(t *testing.T) {
	t.Parallel()
	const rate = 4000
	outage := scaled(4*time.Second, 60*time.Second)
	bound := 64 << 10 // KiB
	if raceEnabled {
		bound *= 2
	}

	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "outage")
	// The agent reaches InfluxDB through a proxy, so that a restart that
	// had to move to another port is still the same address to it.
	hostPort := func() string { return strings.TrimPrefix(srv.URL(), "http://") }
	px := startTCPProxy(t, hostPort())
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.hcl")
	writeFile(t, rules, e2eRules("http://"+px.addr, "outage", `["app.log"]`,
		"  max_pending = 10000\n  batch_size = 1000\n  flush_interval = \"100ms\"\n"))
	w := newLogWriter(t, filepath.Join(dir, "app.log"), filepath.Join(t.TempDir(), "segments"))
	a := startAgentFor(t, scaled(agentLimit, 5*time.Minute), dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	pid := a.cmd.Process.Pid

	var wg sync.WaitGroup
	stopWriting := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stopWriting:
				return
			default:
				w.write(100, rate)
			}
		}
	})
	defer func() { // on a failure too
		select {
		case <-stopWriting:
		default:
			close(stopWriting)
		}
		wg.Wait()
	}()

	time.Sleep(time.Second)
	before := rssKiB(t, pid)
	srv.Stop(t)
	down := time.Now()
	atStop := w.written()
	maxRSS, samples := 0, 0
	for time.Since(down) < outage {
		maxRSS = max(maxRSS, rssKiB(t, pid))
		samples++
		time.Sleep(100 * time.Millisecond) // sampling, not synchronising
	}
	srv.Restart(t)
	px.up(hostPort())
	up := time.Now()
	atRestart := w.written()
	heldAtRestart := stored(t, srv, "outage")
	t.Logf("outage of %v at %d lines/s: %d lines written during it; InfluxDB held %d points at the restart", outage, rate, atRestart-atStop, heldAtRestart)
	t.Logf("agent RSS: %.1f MiB before the outage, at most %.1f MiB over %d samples during it (bound %d MiB, race detector %v)",
		float64(before)/1024, float64(maxRSS)/1024, samples, bound>>10, raceEnabled)
	if maxRSS > bound {
		t.Errorf("RSS reached %.1f MiB during the outage, want under %d MiB with max_pending = 10000", float64(maxRSS)/1024, bound>>10)
	}

	recovered := waitStored(t, srv, "outage", atRestart, 15*time.Second, nil)
	if got := stored(t, srv, "outage"); got < atRestart {
		t.Errorf("delivery did not resume: %d of the %d lines written before the restart stored %v after it", got, atRestart, recovered.Round(time.Millisecond))
	} else {
		t.Logf("the %d lines written before the restart were all stored %v after it", atRestart, recovered.Round(time.Millisecond))
	}
	time.Sleep(time.Until(up.Add(time.Second)))
	close(stopWriting)
	wg.Wait()
	lines := w.written()
	waitStored(t, srv, "outage", lines, scaled(15*time.Second, 5*time.Minute), nil)
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Errorf("run after SIGTERM: %v", err)
	}
	checkExact(t, srv, "outage", w.cleanPass(t, rules), nil, lines)
	if t.Failed() {
		t.Logf("agent stderr:\n%s", firstLines(a.logged(), 60))
	}
}
