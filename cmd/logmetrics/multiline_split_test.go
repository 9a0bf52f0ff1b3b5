package main

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// TestMultilineRestartKeepsTimeoutSplit: in a continue-mode source whose
// continuation lines carry the time and level too (as Firefox CI's log
// does), a record is passed on at its timeout and its late continuation
// makes a point of its own, one nanosecond after it (collision
// separator). After a restart, the next point of that series and second
// must take the nanosecond after both: the replay joined the two records
// into one, and C overwrote B in InfluxDB.
func TestMultilineRestartKeepsTimeoutSplit(t *testing.T) {
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "s")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.hcl"), `
agent {
  state_dir = "state"
  listen    = ""
}
influxdb {
  url            = "`+srv.URL()+`"
  bucket         = "s/autogen"
  flush_interval = "10ms"
}
source "app" {
  paths    = ["app.log"]
  start_at = "beginning"
  multiline {
    continue = "^\\S+ [A-Z]+ -  "
    timeout  = "200ms"
  }
  rule "lines" {
    regex = "^(?P<t>\\d+) (?P<level>[A-Z]+) - (?P<msg>[^\\n]*)"
    time {
      from   = "t"
      layout = "unix"
    }
    tags   = ["level"]
    fields = { msg = "string" }
  }
}
`)
	logPath := filepath.Join(dir, "app.log")
	writeFile(t, logPath, "")
	a := startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	appendFile(t, logPath, "1760000000 INFO - A\n")
	time.Sleep(time.Second)
	appendFile(t, logPath, "1760000000 INFO -   B continues A after the timeout\n")
	time.Sleep(time.Second)
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a = startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	appendFile(t, logPath, "1760000000 INFO - C\n")
	time.Sleep(time.Second)
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`lines,level=INFO msg="  B continues A after the timeout" 1760000000000000001`,
		`lines,level=INFO msg="A" 1760000000000000000`,
		`lines,level=INFO msg="C" 1760000000000000002`,
	}
	if diff := cmp.Diff(want, srv.Dump(t, "s")); diff != "" {
		t.Errorf("InfluxDB (-want +got):\n%s", diff)
	}
}
