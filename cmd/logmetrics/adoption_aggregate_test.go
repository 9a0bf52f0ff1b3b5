package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// adoptionAggRules reads "t=SECONDS n=N v=INT" lines of app.log from its end
// with an aggregate rule "agg" (windows of 10 s, lateness 2 s, count and sum
// of v) and a per-line rule "line" (one point per line, n and v).
func adoptionAggRules(url, db string) string {
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
  paths    = ["app.log"]
  start_at = "end"
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
      lateness = "2s"
    }
  }
  rule "line" {
    logfmt = true
    time {
      from   = "t"
      layout = "unix"
    }
    fields = { n = "int", v = "int" }
  }
}
`
}

// adoptionLine is one line of the test's log: its time in seconds after
// adoptionBase, its number and value.
type adoptionLine struct{ sec, n, v int64 }

const adoptionBase = 1_000_000_000 // a window start

func adoptionText(lines []adoptionLine) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "t=%d n=%d v=%d\n", adoptionBase+l.sec, l.n, l.v)
	}
	return b.String()
}

// adoptionWindows are the windows of "agg" in db as "count=C sum=S" by
// start (Unix ns).
func adoptionWindows(t *testing.T, srv *influxtest.Server, db string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, s := range srv.Query(t, db, `SELECT "count", "v_sum" FROM "agg"`) {
		for _, v := range s.Values {
			got[fmt.Sprint(v[0])] = fmt.Sprintf("count=%v sum=%v", v[1], v[2])
		}
	}
	return got
}

// windowKey is the key of adoptionWindows of the window that starts sec
// seconds after adoptionBase.
func windowKey(sec int64) string { return fmt.Sprint((adoptionBase + sec) * int64(time.Second)) }

// adoptionExpected is the aggregate of every line by window start.
func adoptionExpected(lines []adoptionLine) map[string]string {
	type agg struct{ count, sum int64 }
	by := map[int64]*agg{}
	for _, l := range lines {
		ws := (adoptionBase + l.sec) / 10 * 10
		if by[ws] == nil {
			by[ws] = &agg{}
		}
		by[ws].count++
		by[ws].sum += l.v
	}
	want := map[string]string{}
	for ws, a := range by {
		want[windowKey(ws-adoptionBase)] = fmt.Sprintf("count=%d sum=%d", a.count, a.sum)
	}
	return want
}

// TestBackfillAdoptionAggregate: the adoption sequence with an aggregate
// rule. run begins app.log at its end in the middle of a window that has
// lines on both sides of that point; run leaves the windows up to that one
// to backfill, which writes them whole (its lines before the point, and
// those after it read again only for them). With backfill run while run
// runs, and run restarted after it (the first line read again is replayed
// and still adopted), every window holds exactly the aggregate of all its
// lines, and there is one per-line point per line. Without the adoption
// handling the window where run began holds only one side's lines.
func TestBackfillAdoptionAggregate(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "adopt")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.hcl"), adoptionAggRules(srv.URL(), "adopt"))
	log := filepath.Join(dir, "app.log")
	state := filepath.Join(dir, "state")

	before := []adoptionLine{{-8, 0, 100}, {1, 1, 10}, {3, 2, 20}}
	after := []adoptionLine{
		{4, 3, 1}, {2, 4, 2}, // the window where run began: [base, base+10)
		{12, 5, 4}, {15, 6, 8}, // [base+10, base+20)
		{25, 7, 16}, // closes [base+10, base+20)
		{38, 8, 32}, // closes [base+20, base+30)
		{60, 9, 64}, // closes [base+30, base+40)
	}
	last := adoptionLine{75, 10, 128} // after the restart: closes [base+60, base+70)
	writeFile(t, log, adoptionText(before))
	info, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}

	a := startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	waitUntil(t, "app.log in positions.json", func() bool { _, _, ok := positionsOf(t, state, log); return ok })
	if replayFrom, _, _ := positionsOf(t, state, log); replayFrom != info.Size() {
		t.Fatalf("run began app.log at %d, its size, but positions.json has replay_from %d", info.Size(), replayFrom)
	}
	appendFile(t, log, adoptionText(after))
	// run writes the windows after the one where it began, and a point
	// per line it read.
	runWindows := adoptionExpected(after[2:6])
	waitUntil(t, "run's windows and per-line points written", func() bool {
		got := adoptionWindows(t, srv, "adopt")
		for ws, v := range runWindows {
			if got[ws] != v {
				return false
			}
		}
		return aggStored(t, srv, "adopt", "line") == len(after)
	})

	res := runOnce(t, dir, "backfill", "-config", "rules.hcl")
	res.exited(t, exitOK)
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Errorf("run after SIGTERM: %v\n%s", err, a.logged())
	}
	a = startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	appendFile(t, log, adoptionText([]adoptionLine{last}))
	all := append(append(append([]adoptionLine(nil), before...), after...), last)
	want := adoptionExpected(all[:len(all)-1]) // the last line's window stays open
	closed := windowKey(60)
	if want[closed] != "count=1 sum=64" {
		t.Fatalf("expected windows %v: no %s", want, closed)
	}
	waitUntil(t, "the window closed by the last line written", func() bool {
		return adoptionWindows(t, srv, "adopt")[closed] == want[closed]
	})
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Errorf("run after SIGTERM: %v\n%s", err, a.logged())
	}

	got := adoptionWindows(t, srv, "adopt")
	// The last line's window [base+70, base+80) is written by run's idle
	// flush or not at all before the test ends: whole if it is.
	lastStart := windowKey(70)
	if v, ok := got[lastStart]; ok && v != "count=1 sum=128" {
		t.Errorf("window %s: %s, want count=1 sum=128", lastStart, v)
	}
	delete(got, lastStart)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("windows by start (-want +got):\n%s", diff)
	}
	var ns []string
	for _, s := range srv.Query(t, "adopt", `SELECT "n", "v" FROM "line"`) {
		for _, v := range s.Values {
			ns = append(ns, fmt.Sprintf("t=%v n=%v v=%v", v[0], v[1], v[2]))
		}
	}
	var wantNs []string
	for _, l := range all {
		wantNs = append(wantNs, fmt.Sprintf("t=%d n=%d v=%d", (adoptionBase+l.sec)*int64(time.Second), l.n, l.v))
	}
	slices.Sort(ns)
	slices.Sort(wantNs)
	if diff := cmp.Diff(wantNs, ns); diff != "" {
		t.Errorf("per-line points (-want +got):\n%s", diff)
	}
	if t.Failed() {
		t.Logf("windows in InfluxDB: %v", slices.Sorted(maps.Keys(got)))
		t.Logf("backfill stderr:\n%s", firstLines(res.stderr, 40))
		t.Logf("run stderr:\n%s", a.logged())
	}
}
