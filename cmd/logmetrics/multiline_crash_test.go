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

	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// TestMultilineCrashRestartExact: a writer appends multi-line records line
// by line (some lines in two writes, some ending in "\r\n", some empty),
// while the agent is killed with SIGKILL at random moments and started
// again. In the end InfluxDB holds exactly the points of `logmetrics test`
// on the final file: every record once and whole, its continuation lines
// (raw newlines) in a string field read back as written, and no record
// made of the end of another (rule "orphan").
func TestMultilineCrashRestartExact(t *testing.T) {
	const records = 600
	const kills = 4
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 3))
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
  batch_size     = 50
  flush_interval = "20ms"
}
source "app" {
  paths    = ["app.log"]
  start_at = "beginning"
  multiline {
    start   = "^t="
    timeout = "3s"
  }
  rule "r" {
    regex = "(?s)^t=(?P<t>\\d+) k=(?P<k>\\w) n=(?P<n>\\d+)(?P<rest>.*)$"
    time {
      from   = "t"
      layout = "unix"
    }
    tags   = ["k"]
    fields = { n = "int", rest = "string" }
  }
  # A record that does not start with its first line: none, unless a
  # restart splits one.
  rule "orphan" {
    regex  = "^(?P<first>[^t])"
    fields = { first = "string" }
  }
}
`)
	logPath := filepath.Join(dir, "app.log")
	writeFile(t, logPath, "")

	// The writer: record i has i%5 continuation lines, each line its own
	// write (every 7th in two), 10 records a second of log time.
	written := make(chan struct{})
	go func() {
		defer close(written)
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		n := 0
		put := func(line string) bool {
			n++
			if n%7 == 0 {
				half := len(line) / 2
				if _, err := f.WriteString(line[:half]); err != nil {
					t.Error(err)
					return false
				}
				time.Sleep(time.Millisecond)
				line = line[half:]
			}
			if _, err := f.WriteString(line); err != nil {
				t.Error(err)
				return false
			}
			if n%2 == 0 {
				time.Sleep(4 * time.Millisecond) // about 4 s in all
			}
			return true
		}
		for i := range records {
			if !put(fmt.Sprintf("t=%d k=%c n=%d boom\n", 1760000000+i/10, 'a'+rune(i%3), i)) {
				return
			}
			for j := range i % 5 {
				line := fmt.Sprintf("\tat frame%d(x.go:%d)\n", j, i)
				switch {
				case j == 2:
					line = "\n"
				case (i+j)%4 == 0:
					line = strings.TrimSuffix(line, "\n") + "\r\n"
				}
				if !put(line) {
					return
				}
			}
		}
	}()

	// The last record goes on at its timeout.
	want := crashRuns(t, dir, srv, rng, kills, written, records, 20*time.Second)
	if !strings.Contains(strings.Join(want, ""), `\n\tat frame0(x.go:1)"`) {
		t.Fatalf("the clean pass has no joined record: %q", want[:3])
	}
}

// TestMultilineRestartAfterTimeouts: the writer pauses longer than the
// timeout inside every record, so that its first line is passed on alone
// and its continuation lines later as a record of their own, while the
// agent is stopped and started again. Every record's first line makes one
// point: a restart's replay must not join a delivered first line with its
// late continuation and deliver it again. The rule has no time block, so
// such a second delivery is a second point (read later); the agent stops
// with SIGTERM, which commits all it delivered, so that no other cause
// (at-least-once after SIGKILL) makes one.
func TestMultilineRestartAfterTimeouts(t *testing.T) {
	const records = 20
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 4))
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
  flush_interval = "10ms"
}
source "app" {
  paths    = ["app.log"]
  start_at = "beginning"
  multiline {
    start   = "^n="
    timeout = "100ms"
  }
  rule "r" {
    regex  = "^n=(?P<n>\\d+)"
    fields = { n = "int" }
  }
}
`)
	logPath := filepath.Join(dir, "app.log")
	writeFile(t, logPath, "")
	written := make(chan struct{})
	go func() {
		defer close(written)
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for i := range records {
			for _, part := range []string{fmt.Sprintf("n=%d\n", i), "\tat late\n\tat later\n"} {
				if _, err := f.WriteString(part); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(250 * time.Millisecond)
			}
		}
	}()
	for k := 0; ; k++ {
		a := startAgent(t, dir, "run", "-config", "rules.hcl")
		time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
		done := false
		select {
		case <-written:
			done = true
			deadline := time.Now().Add(15 * time.Second)
			for count(t, srv) < records && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
		default:
		}
		if _, err := a.stop(syscall.SIGTERM); err != nil {
			t.Fatalf("run: %v\n%s", err, a.logged())
		}
		if done {
			t.Logf("%d restarts", k)
			break
		}
	}
	seen := map[string]int{}
	for _, s := range srv.Query(t, "crash", "SELECT n FROM r") {
		for _, v := range s.Values {
			seen[fmt.Sprint(v[1])]++
		}
	}
	for i := range records {
		if n := seen[fmt.Sprint(i)]; n != 1 {
			t.Errorf("record %d: %d points, want 1", i, n)
		}
	}
	if len(seen) != records {
		t.Errorf("values of n %v, want 0 to %d once each", seen, records-1)
	}
}
