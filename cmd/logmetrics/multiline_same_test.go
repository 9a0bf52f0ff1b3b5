package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/influxtest"
)

func sameRules(url, db, paths string) string {
	return `
agent {
  state_dir = "state"
  listen    = ""
}
influxdb {
  url            = "` + url + `"
  bucket         = "` + db + `/autogen"
  batch_size     = 40
  flush_interval = "20ms"
}
source "app" {
  paths    = ` + paths + `
  start_at = "beginning"
  multiline {
    start   = "^t="
    timeout = "4s"
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
  rule "agg" {
    regex = "(?s)^t=(?P<t>\\d+) k=(?P<k>\\w) n=(?P<n>\\d+)"
    time {
      from   = "t"
      layout = "unix"
    }
    tags   = ["k"]
    fields = { n = "int" }
    aggregate {
      window   = "2s"
      stats    = ["count", "sum"]
      lateness = "1s"
    }
  }
}
`
}

// atRecordStart reports whether off is 0, the end of data, or the start
// of a line starting with "t=".
func atRecordStart(data []byte, off int64) bool {
	if off == 0 || off == int64(len(data)) {
		return true
	}
	if off > int64(len(data)) {
		return false
	}
	return data[off-1] == '\n' && strings.HasPrefix(string(data[off:]), "t=")
}

// TestMultilineRunSameAsBackfill: records of 1 to 4 lines, several per
// series and second (the collision separator), some late for an aggregate
// rule, are written while the agent runs, InfluxDB is stopped and the
// agent SIGKILLed during the outage, the log is rotated (renamed, then
// gzipped while the agent is stopped) and the last record waits for its
// timeout. A backfill of the rotated archive and the final file into
// another database gives exactly the same points, windows included.
// Before 2963110 and 05e1c92 the windows of two records
// differed: the rotated file's last record and the last one before the
// pause, both held to their timeout, came late in run.
func TestMultilineRunSameAsBackfill(t *testing.T) {
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "live")
	srv.CreateDatabase(t, "back")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.hcl"), sameRules(srv.URL(), "live", `["app.log"]`))
	logPath := filepath.Join(dir, "app.log")
	writeFile(t, logPath, "")
	i := 0
	write := func(n int) {
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for range n {
			ts := 1760000000 + i/10
			if i%37 == 36 {
				ts -= 6 // late
			}
			lines := []string{fmt.Sprintf("t=%d k=%c n=%d boom\n", ts, 'a'+rune(i%2), i)}
			for j := range i % 4 {
				lines = append(lines, fmt.Sprintf("\tat f%d(x.go:%d)\n", j, i))
			}
			for _, l := range lines {
				if _, err := f.WriteString(l); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Millisecond)
			}
			i++
		}
	}
	// The position committed after a SIGKILL is the end of a record.
	checkPos := func(stage string) {
		_, off, ok := positionsOf(t, filepath.Join(dir, "state"), logPath)
		data, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || !atRecordStart(data, off) {
			t.Errorf("%s: position %d (found %v) of %d bytes is not at a record's start", stage, off, ok, len(data))
		}
	}
	a := startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	write(200)
	time.Sleep(500 * time.Millisecond)
	srv.Stop(t)
	write(100)
	time.Sleep(500 * time.Millisecond)
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	_ = a.exit()
	checkPos("SIGKILL during an outage")
	srv.Restart(t)
	writeFile(t, filepath.Join(dir, "rules.hcl"), sameRules(srv.URL(), "live", `["app.log"]`)) // its port may have moved
	a = startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	write(100)
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, logPath, "")
	write(100)
	time.Sleep(time.Second)
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("%v\n%s", err, a.logged())
	}
	gzipFile(t, logPath+".1")
	a = startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	write(100)
	time.Sleep(9 * time.Second)
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("%v\n%s", err, a.logged())
	}

	elsewhere := t.TempDir()
	writeFile(t, filepath.Join(elsewhere, "rules.hcl"), sameRules(srv.URL(), "back", fmt.Sprintf("[%q]", logPath)))
	runOnce(t, elsewhere, "backfill", "-config", "rules.hcl").exited(t, exitOK)
	live, back := srv.Dump(t, "live"), srv.Dump(t, "back")
	if len(live) < 650 {
		t.Errorf("run wrote %d points, want 600 records and their windows", len(live))
	}
	if diff := cmp.Diff(live, back); diff != "" {
		t.Errorf("run vs backfill (-run +backfill):\n%s", firstLines(diff, 60))
	}
}

// TestMultilineAdoptionSplit: run begins the file at its end (start_at =
// "end") in the middle of a record, then backfill reads the part before:
// as the README says, the record is split at that offset; every record
// makes one point (the one split, its first part's), none twice, and the
// aggregate windows count every record once.
func TestMultilineAdoptionSplit(t *testing.T) {
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "live")
	dir := t.TempDir()
	rules := strings.Replace(sameRules(srv.URL(), "live", `["app.log"]`), `start_at = "beginning"`, `start_at = "end"`, 1)
	writeFile(t, filepath.Join(dir, "rules.hcl"), rules)
	logPath := filepath.Join(dir, "app.log")
	var b strings.Builder
	rec := func(i int) string {
		s := fmt.Sprintf("t=%d k=%c n=%d boom\n", 1760000000+i/10, 'a'+rune(i%2), i)
		for j := range i % 4 {
			s += fmt.Sprintf("\tat f%d(x.go:%d)\n", j, i)
		}
		return s
	}
	for i := range 103 {
		b.WriteString(rec(i))
	}
	// record 103 half written: its first line and one continuation.
	r103 := rec(103)
	cut := strings.Index(r103, "\n\tat f1")
	before := b.String() + r103[:cut+1]
	writeFile(t, logPath, before)
	a := startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	time.Sleep(500 * time.Millisecond)
	var after strings.Builder
	after.WriteString(r103[cut+1:])
	for i := 104; i < 200; i++ {
		after.WriteString(rec(i))
	}
	appendFile(t, logPath, after.String())
	time.Sleep(9 * time.Second)
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("%v\n%s", err, a.logged())
	}
	if rf, _, _ := positionsOf(t, filepath.Join(dir, "state"), logPath); rf != int64(len(before)) {
		t.Fatalf("run began at %d, want %d", rf, len(before))
	}
	runOnce(t, dir, "backfill", "-config", "rules.hcl").exited(t, exitOK)
	seen := map[string]int{}
	for _, sr := range srv.Query(t, "live", "SELECT n, rest FROM r") {
		for _, v := range sr.Values {
			seen[fmt.Sprint(v[1])]++
			if fmt.Sprint(v[1]) == "103" && v[2] != " boom\n\tat f0(x.go:103)" {
				t.Errorf("the record split at run's start: rest %q, want its part before", v[2])
			}
		}
	}
	for i := range 200 {
		if seen[fmt.Sprint(i)] != 1 {
			t.Errorf("n=%d: %d points, want 1", i, seen[fmt.Sprint(i)])
		}
	}
	got := srv.Query(t, "live", "SELECT sum(count), sum(n_sum) FROM agg")
	if len(got) != 1 || fmt.Sprint(got[0].Values[0][1:]) != "[200 19900]" {
		t.Errorf("the windows count %v, want 200 records summing 19900", got)
	}
}
