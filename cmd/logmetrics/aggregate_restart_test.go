package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// restartRules aggregates "t=SECONDS v=INT" lines of source app in windows
// of 10 s with a lateness of 30 s: the idle flush (40 s) never comes
// within a test.
func restartRules(url, db, paths string) string {
	return `
agent {
  state_dir = "state"
  listen    = ""
}
influxdb {
  url            = "` + url + `"
  bucket         = "` + db + `/autogen"
  flush_interval = "50ms"
}
source "app" {
  paths    = ` + paths + `
  start_at = "beginning"
  rule "agg" {
    logfmt = true
    time {
      from   = "t"
      layout = "unix"
    }
    fields = { v = "int" }
    aggregate {
      window   = "10s"
      stats    = ["count", "sum"]
      lateness = "30s"
    }
  }
}
`
}

// restartWindow is the window the tests watch: [1000000000 s, +10 s).
const restartWindow = "1000000000s"

// windowValue is the window's point in db as "count=C sum=S", or "" when
// there is none.
func windowValue(t *testing.T, srv *influxtest.Server, db string) string {
	t.Helper()
	res := srv.Query(t, db, `SELECT "count", "v_sum" FROM "agg" WHERE time = `+restartWindow)
	if len(res) == 0 || len(res[0].Values) == 0 {
		return ""
	}
	v := res[0].Values[0]
	return fmt.Sprintf("count=%v sum=%v", v[1], v[2])
}

// waitWindow polls InfluxDB until the window is want.
func waitWindow(t *testing.T, srv *influxtest.Server, db, want string, a *agent) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for got := windowValue(t, srv, db); got != want; got = windowValue(t, srv, db) {
		if time.Now().After(deadline) {
			t.Fatalf("window %s is %q, want %q; stderr:\n%s", restartWindow, got, want, a.logged())
		}
		time.Sleep(50 * time.Millisecond) // polling InfluxDB, not synchronising
	}
}

// waitSourceLatest polls the positions file until every entry records the
// source's latest time as want (Unix ns): the window's point is then
// delivered and known to be, whichever file the restart reads first.
func waitSourceLatest(t *testing.T, state string, want int64, a *agent) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(state, "positions.json"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		var doc struct {
			Files []struct {
				Path         string `json:"path"`
				SourceLatest int64  `json:"source_latest"`
			} `json:"files"`
		}
		if err == nil {
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("positions file: %v\n%s", err, b)
			}
		}
		all := len(doc.Files) == 2
		for _, f := range doc.Files {
			all = all && f.SourceLatest == want
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("positions do not record %d as the latest time of both files:\n%s\nstderr:\n%s", want, b, a.logged())
		}
		time.Sleep(50 * time.Millisecond) // polling a file, not synchronising
	}
}

// TestAggregateRestartKeepsWindow: a window written whole whose lines span
// two files of one source (a rotation whose old file is released, or two
// files read in either order at startup) is not overwritten after a
// restart by a partial point of the lines read again: the positions keep
// the source's latest time, and the restart takes the windows it closed
// as closed, so their lines read again are late.
func TestAggregateRestartKeepsWindow(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	line := func(ts, v int) string { return fmt.Sprintf("t=%d v=%d\n", ts, v) }
	const latest = int64(1000000045) * 1e9
	cases := []struct {
		name  string
		paths string
		// first writes the files and makes the agent read them; the
		// window is then want.
		first func(t *testing.T, dir string, a *agent)
		want  string
	}{
		{
			// Repro A: a.log is rotated; the old file, with the window's
			// first lines, is released before the last ones come.
			name:  "rotation",
			paths: `["a.log"]`,
			first: func(t *testing.T, dir string, a *agent) {
				a.waitStderr("following files")
				if err := os.Rename(filepath.Join(dir, "a.log"), filepath.Join(dir, "a.log.1")); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "a.log"), line(1000000012, 10))
				a.waitStderr("file released")
				appendFile(t, filepath.Join(dir, "a.log"), line(1000000008, 100)+line(1000000045, 20))
			},
			want: "count=3 sum=103",
		},
		{
			// Repro B: b.log has the window's first line, a.log the
			// rest; a restart reads a.log first.
			name:  "two files",
			paths: `["*.log"]`,
			first: func(t *testing.T, dir string, a *agent) {
				a.waitStderr("following files")
				writeFile(t, filepath.Join(dir, "a.log"), line(1000000012, 10)+line(1000000005, 100)+line(1000000045, 20))
			},
			want: "count=2 sum=101",
		},
	}
	for _, tc := range cases {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			t.Run(tc.name+"/"+aggSignalName[sig], func(t *testing.T) {
				dir := t.TempDir()
				db := strings.NewReplacer(" ", "_", "/", "_").Replace(t.Name())
				srv.CreateDatabase(t, db)
				writeFile(t, filepath.Join(dir, "rules.hcl"), restartRules(srv.URL(), db, tc.paths))
				if tc.name == "rotation" {
					writeFile(t, filepath.Join(dir, "a.log"), line(1000000001, 1)+line(1000000002, 2))
				} else {
					writeFile(t, filepath.Join(dir, "b.log"), line(1000000001, 1))
				}
				a := startAgent(t, dir, "run", "-config", "rules.hcl")
				tc.first(t, dir, a)
				waitWindow(t, srv, db, tc.want, a)
				waitSourceLatest(t, filepath.Join(dir, "state"), latest, a)
				if sig == syscall.SIGKILL {
					if err := a.cmd.Process.Signal(sig); err != nil {
						t.Fatal(err)
					}
					_ = a.exit()
				} else if _, err := a.stop(sig); err != nil {
					t.Fatalf("run after SIGTERM: %v, want exit 0; stderr:\n%s", err, a.logged())
				}

				// The restart reads the window's line of a.log again
				// (its position is held by the window after it): late.
				a = startAgent(t, dir, "run", "-config", "rules.hcl")
				deadline := time.Now().Add(10 * time.Second)
				for !strings.Contains(a.logged(), "late line dropped") {
					if got := windowValue(t, srv, db); got != tc.want {
						t.Fatalf("after %s and a restart the window is %q, want %q (written whole before); stderr:\n%s", aggSignalName[sig], got, tc.want, a.logged())
					}
					if time.Now().After(deadline) {
						t.Fatalf("the restart did not drop the window's line as late; window %q; stderr:\n%s", windowValue(t, srv, db), a.logged())
					}
					time.Sleep(50 * time.Millisecond) // polling, not synchronising
				}
				if _, err := a.stop(syscall.SIGTERM); err != nil {
					t.Errorf("restarted run after SIGTERM: %v; stderr:\n%s", err, a.logged())
				}
				if got := windowValue(t, srv, db); got != tc.want {
					t.Errorf("after %s and a restart the window is %q, want %q", aggSignalName[sig], got, tc.want)
				}
			})
		}
	}
}

// appendFile appends data to the file name.
func appendFile(t *testing.T, name, data string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}
