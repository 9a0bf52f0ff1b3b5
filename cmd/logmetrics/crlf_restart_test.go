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

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// crlfWindow is the window TestAggregateCRLFMultilineRestart watches:
// [crlfWindow, +1 min).
const crlfWindow = 1760000040

// crlfRecord is a record of a Windows stack trace: its first line and
// frames lines, all ending in "\r\n".
func crlfRecord(at, n, frames int) string {
	s := fmt.Sprintf("t=%d n=%d\r\n", at, n)
	for i := range frames {
		s += fmt.Sprintf("\tat frame%d(x.go:1)\r\n", i)
	}
	return s
}

// TestAggregateCRLFMultilineRestart: an aggregate rule of a multiline
// source whose records are "\r\n" stack traces; the agent stops (SIGTERM,
// SIGKILL) while the window of its first records is open, and the rest
// of the file comes after the restart. The window in InfluxDB must be
// test's. The window holds the file where its first record starts; held
// from the record's text (its lines joined by "\n", one byte fewer per
// line), the hold fell past the record's first line, so the restart
// replayed that line alone as a record of a window delivered before (a
// ghost, which dropped the window's records) and read the rest as a
// record of frames.
func TestAggregateCRLFMultilineRestart(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(aggSignalName[sig], func(t *testing.T) {
			dir := t.TempDir()
			db := "crlf_" + aggSignalName[sig]
			srv.CreateDatabase(t, db)
			// A window of a minute and a lateness of 30 s: the idle
			// flush (90 s) never comes within the test.
			writeFile(t, filepath.Join(dir, "rules.hcl"), `
agent {
  state_dir = "state"
  listen    = ""
}
influxdb {
  url            = "`+srv.URL()+`"
  bucket         = "`+db+`/autogen"
  flush_interval = "20ms"
}
source "app" {
  paths    = ["app.log"]
  start_at = "beginning"
  multiline {
    start   = "^t="
    timeout = "200ms"
  }
  rule "agg" {
    regex = "^t=(?P<t>\\d+) n=(?P<n>\\d+)"
    time {
      from   = "t"
      layout = "unix"
    }
    fields = { n = "int" }
    aggregate {
      window   = "1m"
      lateness = "30s"
      stats    = ["count", "sum"]
    }
  }
}
`)
			logPath := filepath.Join(dir, "app.log")
			writeFile(t, logPath, crlfRecord(crlfWindow, 1, 30)+crlfRecord(crlfWindow+1, 2, 3))
			a := startAgent(t, dir, "run", "-config", "rules.hcl")
			waitPositionLatest(t, filepath.Join(dir, "state"), (crlfWindow+1)*1e9, a)
			if sig == syscall.SIGKILL {
				if err := a.cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				_ = a.exit()
			} else if _, err := a.stop(sig); err != nil {
				t.Fatalf("run after SIGTERM: %v, want exit 0; stderr:\n%s", err, a.logged())
			}
			if got := srv.Dump(t, db); len(got) != 0 {
				t.Fatalf("before the restart InfluxDB holds %q, want nothing: the window is open", got)
			}

			a = startAgent(t, dir, "run", "-config", "rules.hcl")
			a.waitStderr("following files")
			// The last record closes the window (its time less the
			// lateness passes the window's end) at its timeout.
			appendFile(t, logPath, crlfRecord(crlfWindow+2, 4, 5)+crlfRecord(crlfWindow+200, 8, 0))
			deadline := time.Now().Add(10 * time.Second)
			for len(srv.Dump(t, db)) == 0 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond) // polling InfluxDB, not synchronising
			}
			if _, err := a.stop(syscall.SIGTERM); err != nil {
				t.Errorf("restarted run after SIGTERM: %v; stderr:\n%s", err, a.logged())
			}

			cfg, _, diags := config.Load(filepath.Join(dir, "rules.hcl"))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			inWindow := func(dump []string) []string {
				var out []string
				for _, p := range dump {
					if strings.HasSuffix(p, fmt.Sprintf(" %d000000000", crlfWindow)) {
						out = append(out, p)
					}
				}
				return out
			}
			want := inWindow(expectedDump(t, cfg))
			if len(want) != 1 || want[0] != fmt.Sprintf("agg count=3i,n_sum=7i %d000000000", crlfWindow) {
				t.Fatalf("test gives %q for the window, want its 3 records", want)
			}
			if diff := cmp.Diff(want, inWindow(srv.Dump(t, db))); diff != "" {
				t.Errorf("the window after %s and a restart (-test +InfluxDB):\n%s\nstderr:\n%s", aggSignalName[sig], diff, a.logged())
			}
		})
	}
}

// waitPositionLatest polls the positions file until its one entry records
// the source's latest time as at least want (Unix ns): the records read
// so far are delivered, and the file's position is held where the window
// open holds it.
func waitPositionLatest(t *testing.T, state string, want int64, a *agent) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(state, "positions.json"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		var doc struct {
			Files []struct {
				SourceLatest int64 `json:"source_latest"`
			} `json:"files"`
		}
		if err == nil {
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("positions file: %v\n%s", err, b)
			}
			if len(doc.Files) == 1 && doc.Files[0].SourceLatest >= want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("positions do not record %d as the source's latest time:\n%s\nstderr:\n%s", want, b, a.logged())
		}
		time.Sleep(50 * time.Millisecond) // polling a file, not synchronising
	}
}
