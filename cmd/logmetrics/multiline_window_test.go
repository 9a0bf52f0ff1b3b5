package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// TestMultilineIdleWindowWaitsForTimeout: the log pauses after three
// records of one window, the last with a continuation line, so the
// tailer holds it until the multiline timeout (2 s), longer than the
// window and lateness (1 s) after which run writes a quiet source's
// windows. The window must still count all three records, as test and
// backfill do: written before, it made the last record late (count 2).
func TestMultilineIdleWindowWaitsForTimeout(t *testing.T) {
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "w")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.hcl"), `
agent {
  state_dir = "state"
  listen    = ""
}
influxdb {
  url            = "`+srv.URL()+`"
  bucket         = "w/autogen"
  flush_interval = "10ms"
}
source "app" {
  paths    = ["app.log"]
  start_at = "beginning"
  multiline {
    start   = "^t="
    timeout = "2s"
  }
  rule "agg" {
    regex = "^t=(?P<t>\\d+) n=(?P<n>\\d+)"
    time {
      from   = "t"
      layout = "unix"
    }
    fields = { n = "int" }
    aggregate {
      window   = "1s"
      lateness = "0s"
      stats    = ["count"]
    }
  }
}
`)
	logPath := filepath.Join(dir, "app.log")
	writeFile(t, logPath, "")
	a := startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	appendFile(t, logPath, "t=1760000000 n=1\nt=1760000000 n=2\nt=1760000000 n=3\n\tat frame(x.go:1)\n")
	deadline := time.Now().Add(15 * time.Second)
	for len(srv.Dump(t, "w")) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // the record, had it been late
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("run: %v\n%s", err, a.logged())
	}
	got := srv.Dump(t, "w")
	want := []string{"agg count=3i 1760000000000000000"}
	if len(got) != 1 || got[0] != want[0] {
		t.Errorf("InfluxDB holds %q, want %q\n%s", got, want, a.logged())
	}
}

// TestBackfillSummaryAltered: a record's newline captured into a tag is
// written as U+FFFD, and backfill's summary says how many points were
// altered so, as /metrics does for run (logmetrics_points_altered_total).
func TestBackfillSummaryAltered(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.hcl"), `
agent {
  state_dir = "state"
  listen    = ""
}
source "app" {
  paths = ["app.log"]
  multiline {
    start = "^t="
  }
  rule "r" {
    regex = "(?s)^t=(?P<t>\\d+) n=(?P<n>\\d+) (?P<what>.*)$"
    time {
      from   = "t"
      layout = "unix"
    }
    tags   = ["what"]
    fields = { n = "int" }
  }
}
`)
	writeFile(t, filepath.Join(dir, "app.log"), "t=1760000000 n=1 boom\n\tat frame\nt=1760000001 n=2 calm\n")
	f := runOnce(t, dir, "backfill", "-config", "rules.hcl")
	f.exited(t, exitOK)
	if !strings.Contains(string(f.stdout), "r,what=boom\uFFFD\uFFFDat\\ frame n=1i") {
		t.Errorf("stdout %q: the newline and tab not as U+FFFD", f.stdout)
	}
	if !strings.Contains(f.stderr, "\n1 points written with bytes line protocol cannot carry replaced by U+FFFD") {
		t.Errorf("the summary does not count the altered point:\n%s", f.stderr)
	}
}
