//go:build unix

package main

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// rotationRate is the writer's pace in lines a second of real time.
const rotationRate = 1000

// TestRotationUnderWrites: the application appends numbered lines (busy
// seconds, some lines in two writes) while its log is rotated, round after
// round, and `logmetrics run` follows it into a real InfluxDB. Afterwards
// InfluxDB holds exactly one point per line written, with the timestamps
// of a clean pass that takes each file (each rotated file, each content
// after a truncation) as its own unit: zero lost, zero duplicated.
func TestRotationUnderWrites(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	// Each file lives 1.5 s or more under the followed name, past the
	// 1 s discovery interval: TestRotationFasterThanDiscovery is the case
	// where it does not.
	rounds := scaled(3, 20)
	perRound := scaled(1500, 3000)
	for _, tc := range []struct {
		name   string
		paths  string
		rotate func(w *logWriter, dir string, round int)
	}{
		{
			name:  "rename and create, reopened at once",
			paths: `["app.log"]`,
			rotate: func(w *logWriter, dir string, round int) {
				w.renameCreate(filepath.Join(dir, fmt.Sprintf("app.log.%d", round)), 0, rotationRate)
			},
		},
		{
			// The lines written to the renamed file in those 200 ms
			// must be read from it.
			name:  "rename and create, reopened 200 ms later",
			paths: `["app.log"]`,
			rotate: func(w *logWriter, dir string, round int) {
				w.renameCreate(filepath.Join(dir, fmt.Sprintf("app.log.%d", round)), 200*time.Millisecond, rotationRate)
			},
		},
		{
			// The writer pauses a second first, so that the agent is not
			// behind when the file is truncated; the case where it is
			// behind is TestRotationCopytruncateBehind.
			name:  "copytruncate",
			paths: `["app.log"]`,
			rotate: func(w *logWriter, dir string, round int) {
				time.Sleep(time.Second)
				w.copyTruncate(filepath.Join(dir, fmt.Sprintf("app.log.%d", round)))
			},
		},
		{
			name:  "delete and recreate",
			paths: `["app.log"]`,
			rotate: func(w *logWriter, dir string, round int) {
				w.deleteCreate()
			},
		},
		{
			// dateext: the rotated name matches the glob too, and must
			// not be read again as a new file.
			name:  "dateext, rotated name matched by the glob",
			paths: `["app.log*"]`,
			rotate: func(w *logWriter, dir string, round int) {
				w.renameCreate(filepath.Join(dir, fmt.Sprintf("app.log-202503%02d", 10+round)), 0, rotationRate)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := fmt.Sprintf("rot%d", time.Now().UnixNano())
			srv.CreateDatabase(t, db)
			dir := t.TempDir()
			rules := filepath.Join(dir, "rules.hcl")
			writeFile(t, rules, e2eRules(srv.URL(), db, tc.paths, ""))
			w := newLogWriter(t, filepath.Join(dir, "app.log"), filepath.Join(t.TempDir(), "segments"))

			limit := scaled(agentLimit, 10*time.Minute)
			a := startAgentFor(t, limit, dir, "run", "-config", "rules.hcl")
			a.waitStderr("following files")
			start := time.Now()
			for round := range rounds {
				w.write(perRound, rotationRate)
				tc.rotate(w, dir, round+1)
			}
			w.write(perRound, rotationRate)
			lines := w.written()
			wrote := time.Since(start)
			took := waitStored(t, srv, db, lines, 15*time.Second, nil)
			t.Logf("%d lines in %d rotations written in %v; stored %v after the last write", lines, rounds, wrote.Round(time.Millisecond), took.Round(time.Millisecond))
			if _, err := a.stop(syscall.SIGTERM); err != nil {
				t.Errorf("run after SIGTERM: %v", err)
			}
			checkExact(t, srv, db, w.cleanPass(t, rules), nil, lines)
			if t.Failed() {
				t.Logf("agent stderr:\n%s", a.logged())
			}
		})
	}
}

// TestRotationWhileStopped: the agent is stopped (SIGTERM) while the
// application goes on writing; the log is rotated and the rotated file
// compressed (logrotate's rename, create and compress, shifting
// app.log.1.gz to app.log.2.gz the second time) before the agent starts
// again. The lines written between the stop and the rotation are only in
// the compressed file: the agent must find it by identity and read it on
// from the committed offset before the new app.log.
func TestRotationWhileStopped(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "stopped")
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.hcl")
	writeFile(t, rules, e2eRules(srv.URL(), "stopped", `["app.log"]`, ""))
	w := newLogWriter(t, filepath.Join(dir, "app.log"), filepath.Join(t.TempDir(), "segments"))
	perStep := scaled(500, 5000)
	limit := scaled(agentLimit, 10*time.Minute)
	rounds := scaled(2, 5)

	a := startAgentFor(t, limit, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	for round := range rounds {
		w.write(perStep, rotationRate)
		if _, err := a.stop(syscall.SIGTERM); err != nil {
			t.Fatalf("run after SIGTERM: %v\n%s", err, a.logged())
		}
		// Written while the agent is down, before the rotation.
		w.write(perStep, rotationRate)
		for i := round; i >= 1; i-- { // shift the older rotations
			renameTo(t, filepath.Join(dir, fmt.Sprintf("app.log.%d.gz", i)), filepath.Join(dir, fmt.Sprintf("app.log.%d.gz", i+1)))
		}
		w.renameCreate(filepath.Join(dir, "app.log.1"), 0, rotationRate)
		w.write(perStep/5, rotationRate)
		gzipFile(t, filepath.Join(dir, "app.log.1"))
		w.write(perStep/5, rotationRate)
		a = startAgentFor(t, limit, dir, "run", "-config", "rules.hcl")
		a.waitStderr("following files")
	}
	w.write(perStep, rotationRate)
	lines := w.written()
	took := waitStored(t, srv, "stopped", lines, 15*time.Second, nil)
	t.Logf("%d lines, %d stops with rotation and gzip; stored %v after the last write", lines, rounds, took.Round(time.Millisecond))
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Errorf("run after SIGTERM: %v", err)
	}
	checkExact(t, srv, "stopped", w.cleanPass(t, rules), nil, lines)
	if t.Failed() {
		t.Logf("agent stderr:\n%s", a.logged())
	}
}

// TestRotationCopytruncateBehind: copytruncate while the agent is behind.
// InfluxDB is unreachable (a proxy in front of it is down) for a few
// seconds with max_pending small, so the agent stops reading well before
// the end of the file; the file is then copied and truncated. The unread
// part exists only in the copy (same first bytes, the same fingerprint):
// the agent must read the rest from the copy before the truncated
// original.
func TestRotationCopytruncateBehind(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	t.Run("InfluxDB unreachable", func(t *testing.T) {
		t.Parallel()
		srv.CreateDatabase(t, "behind")
		px := startTCPProxy(t, srv.URL()[len("http://"):])
		dir := t.TempDir()
		rules := filepath.Join(dir, "rules.hcl")
		writeFile(t, rules, e2eRules("http://"+px.addr, "behind", `["app.log"]`, "  max_pending = 400\n"))
		w := newLogWriter(t, filepath.Join(dir, "app.log"), filepath.Join(t.TempDir(), "segments"))
		limit := scaled(agentLimit, 10*time.Minute)
		a := startAgentFor(t, limit, dir, "run", "-config", "rules.hcl")
		a.waitStderr("following files")
		rounds := scaled(1, 5)
		outage := scaled(3*time.Second, 20*time.Second)
		for round := range rounds {
			w.write(500, rotationRate)
			px.down()
			w.writeFor(outage, rotationRate)
			// max_pending and the lines channel (at most 1,024 lines)
			// let the agent read at most about 1,500 lines past what
			// InfluxDB holds: make sure it is behind.
			if written, got := w.written(), stored(t, srv, "behind"); written-got < 2000 {
				t.Fatalf("only %d lines written past the %d stored: the agent is not behind", written-got, got)
			} else {
				t.Logf("copytruncate with %d lines written and %d stored", written, got)
			}
			w.copyTruncate(filepath.Join(dir, fmt.Sprintf("app.log.%d", round+1)))
			w.write(500, rotationRate)
			px.up(srv.URL()[len("http://"):])
		}
		w.write(500, rotationRate)
		lines := w.written()
		took := waitStored(t, srv, "behind", lines, 15*time.Second, nil)
		t.Logf("%d lines, %d copytruncates behind an outage of %v; stored %v after the last write", lines, rounds, outage, took.Round(time.Millisecond))
		if _, err := a.stop(syscall.SIGTERM); err != nil {
			t.Errorf("run after SIGTERM: %v", err)
		}
		checkExact(t, srv, "behind", w.cleanPass(t, rules), nil, lines)
		if t.Failed() {
			t.Logf("agent stderr:\n%s", firstLines(a.logged(), 60))
		}
	})
}

// TestRotationCopytruncateNoPause: copytruncate every 0.4 s while the
// writer never pauses, so the agent is behind by whatever it had not
// polled yet at each truncation, and the new content is itself truncated
// soon after.
func TestRotationCopytruncateNoPause(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "nopause")
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.hcl")
	writeFile(t, rules, e2eRules(srv.URL(), "nopause", `["app.log"]`, ""))
	w := newLogWriter(t, filepath.Join(dir, "app.log"), filepath.Join(t.TempDir(), "segments"))
	limit := scaled(agentLimit, 10*time.Minute)
	a := startAgentFor(t, limit, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	rounds := scaled(6, 30)
	for round := range rounds {
		w.write(400, rotationRate)
		w.copyTruncate(filepath.Join(dir, fmt.Sprintf("app.log.%d", round+1)))
	}
	w.write(400, rotationRate)
	lines := w.written()
	took := waitStored(t, srv, "nopause", lines, 15*time.Second, nil)
	t.Logf("%d lines, %d copytruncates without a pause; stored %v after the last write", lines, rounds, took.Round(time.Millisecond))
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Errorf("run after SIGTERM: %v", err)
	}
	checkExact(t, srv, "nopause", w.cleanPass(t, rules), nil, lines)
	if t.Failed() {
		t.Logf("agent stderr:\n%s", firstLines(a.logged(), 60))
	}
}

func renameTo(t *testing.T, from, to string) {
	t.Helper()
	if err := syscall.Rename(from, to); err != nil && err != syscall.ENOENT {
		t.Fatal(err)
	}
}

// TestRotationFasterThanDiscovery: an application that rotates its log
// every 0.4 s (size-based rotation at a high rate), faster than the 1 s
// discovery interval. A new app.log that is renamed away before a
// discovery saw it under the followed name must still be read: it was a
// followed file's successor, and its lines reached the log.
func TestRotationFasterThanDiscovery(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "fast")
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.hcl")
	writeFile(t, rules, e2eRules(srv.URL(), "fast", `["app.log"]`, ""))
	w := newLogWriter(t, filepath.Join(dir, "app.log"), filepath.Join(t.TempDir(), "segments"))
	a := startAgentFor(t, scaled(agentLimit, 10*time.Minute), dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	rounds := scaled(8, 100)
	for round := range rounds {
		w.write(400, rotationRate)
		w.renameCreate(filepath.Join(dir, fmt.Sprintf("app.log.%d", round+1)), 0, rotationRate)
	}
	w.write(400, rotationRate)
	lines := w.written()
	took := waitStored(t, srv, "fast", lines, 10*time.Second, nil)
	t.Logf("%d lines, %d rotations 0.4 s apart; stored %v after the last write", lines, rounds, took.Round(time.Millisecond))
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Errorf("run after SIGTERM: %v", err)
	}
	checkExact(t, srv, "fast", w.cleanPass(t, rules), nil, lines)
}
