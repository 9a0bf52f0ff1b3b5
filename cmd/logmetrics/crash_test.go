package main

import (
	"fmt"
	"math/rand/v2"
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

// TestCrashRestartExact: a writer appends lines, many of a series sharing a
// second and some written in two pieces, while the agent is killed with
// SIGKILL at random moments and started again. In the end InfluxDB holds
// exactly the points of one clean pass over the file: every line once, with
// the timestamps an uninterrupted run gives (so no restart inside a busy
// second overwrote a point written before it).
func TestCrashRestartExact(t *testing.T) {
	const lines = 3000
	const kills = 4
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	seed := rng.Uint64()
	rng = rand.New(rand.NewPCG(seed, 2))
	t.Logf("seed %d", seed)

	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "crash")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.hcl"), `
agent {
  state_dir = "state"
  listen    = ""
}
influxdb {
  url            = "`+srv.URL()+`"
  bucket         = "crash/autogen"
  batch_size     = 100
  flush_interval = "20ms"
}
source "app" {
  paths    = ["app.log"]
  start_at = "beginning"
  rule "r" {
    logfmt = true
    time {
      from   = "t"
      layout = "unix"
    }
    tags   = ["k"]
    fields = { n = "int" }
  }
}
`)
	logPath := filepath.Join(dir, "app.log")
	writeFile(t, logPath, "")

	// The writer: 3 series, 40 lines a second of log time, every 97th
	// line in two writes.
	written := make(chan struct{})
	go func() {
		defer close(written)
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for i := range lines {
			line := fmt.Sprintf("t=%d k=%c n=%d\n", 1760000000+i/40, 'a'+rune(i%3), i)
			if i%97 == 0 {
				half := len(line) / 2
				if _, err := f.WriteString(line[:half]); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(2 * time.Millisecond)
				line = line[half:]
			}
			if _, err := f.WriteString(line); err != nil {
				t.Error(err)
				return
			}
			if i%2 == 0 {
				time.Sleep(3 * time.Millisecond) // about 5 s in all
			}
		}
	}()

	crashRuns(t, dir, srv, rng, kills, written, lines, 15*time.Second)
}

// crashRuns starts the agent on dir/rules.hcl kills times, each killed
// with SIGKILL after 0.3 to 1.8 s (positions are saved every second: most
// runs live past a save). Once written is closed it runs the agent a last
// time, until the measurement of the crash tests holds n points or wait
// has passed, and stops it with SIGTERM. InfluxDB must then hold exactly
// the points of one clean pass over the files, n of them, which it returns.
func crashRuns(t *testing.T, dir string, srv *influxtest.Server, rng *rand.Rand, kills int, written <-chan struct{}, n int, wait time.Duration) []string {
	t.Helper()
	for k := range kills {
		a := startAgent(t, dir, "run", "-config", "rules.hcl")
		time.Sleep(time.Duration(300+rng.IntN(1500)) * time.Millisecond)
		if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = a.exit()
		t.Logf("kill %d: %d points stored", k+1, count(t, srv))
	}
	<-written
	a := startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	deadline := time.Now().Add(wait)
	for count(t, srv) < int64(n) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Errorf("run: %v\n%s", err, a.logged())
	}

	cfg, _, diags := config.Load(filepath.Join(dir, "rules.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := expectedDump(t, cfg)
	if len(want) != n {
		t.Fatalf("the clean pass gives %d points, want %d", len(want), n)
	}
	if diff := cmp.Diff(want, srv.Dump(t, "crash")); diff != "" {
		t.Errorf("InfluxDB after %d kills (-clean pass +stored):\n%s", kills, firstLines(diff, 40))
	}
	return want
}

// count is how many points the crash test's measurement holds.
func count(t *testing.T, srv *influxtest.Server) int64 {
	t.Helper()
	res := srv.Query(t, "crash", "SELECT count(n) FROM r")
	if len(res) == 0 {
		return 0
	}
	n, err := res[0].Values[0][1].(interface{ Int64() (int64, error) }).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// firstLines keeps a long diff readable.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines[n] = "..."
	}
	return strings.Join(lines, "\n")
}
