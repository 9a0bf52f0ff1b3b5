//go:build unix

package main

// The end-to-end proof of aggregation by log time (issue 8): one log read
// by `test`, by `backfill` and by `run` (killed twice with SIGKILL and
// stopped once with SIGTERM while windows are open) gives the same points
// in a real InfluxDB 1.8.10, the windows' aggregates and the per-line
// points alike.

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/logmetrics/logmetrics/internal/influxtest"
	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// The log of the test: aggLines lines "t=SECONDS.MMM k=TAG n=INT d=FLOAT
// i=LINE", one every aggStep of log time (a minute in all, 50 lines a
// second over four tags), some going back in time by up to aggBack (within
// the lateness: taken), aggLate going back past a window the watermark has
// closed (late: dropped, and never a second point for their window).
// Rule raw writes the late lines' points too, most of them after times the
// collision separator forgot (they go back past a series' last 64 times):
// displaced, and displaced alike in every mode.
const (
	aggLines  = 3000
	aggStep   = 20 * time.Millisecond
	aggBack   = 1500 * time.Millisecond
	aggLate   = 12
	aggSeed   = 8 // the log is the same every run
	aggEpochS = 1760000000
)

// The rule's aggregate block. The idle flush of run comes after
// aggWindow+aggLateness of wall time without a line: the kills come well
// within that, so that the windows are still open at them, and the last
// windows of the log come by it.
const (
	aggWindow   = 2 * time.Second
	aggLateness = 2 * time.Second
	aggIdle     = aggWindow + aggLateness
)

// run's writer appends the log aggChunk lines at a time (1.5 s of log
// time, so a chunk ends inside a window), aggPause apart: 40 chunks in
// about 6 s of wall time. The agent is stopped after the chunks of
// aggStops.
const (
	aggChunk = 75
	aggPause = 150 * time.Millisecond
)

var aggStops = map[int]syscall.Signal{8: syscall.SIGKILL, 18: syscall.SIGKILL, 28: syscall.SIGTERM}

var aggSignalName = map[syscall.Signal]string{syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM"}

// aggRules is the rules file: rule agg aggregates the lines per window
// and tag k; rule raw makes a point of every line, late ones included.
func aggRules(url, db, paths string) string {
	return `
agent {
  state_dir = "state"
  listen    = ""
}
influxdb {
  url            = "` + url + `"
  bucket         = "` + db + `/autogen"
  batch_size     = 200
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
    tags   = ["k"]
    fields = { n = "int", d = "float" }
    aggregate {
      window     = "` + aggWindow.String() + `"
      stats      = ["count", "sum", "min", "max", "mean", "p50", "p99"]
      lateness   = "` + aggLateness.String() + `"
      buckets    = [0.1, 1]
      max_series = 1000
    }
  }
  rule "raw" {
    logfmt = true
    time {
      from   = "t"
      layout = "unix"
    }
    tags   = ["k"]
    fields = { n = "int", d = "float" }
  }
}
`
}

// aggLine is one line of the log and what the test knows of it.
type aggLine struct {
	text       string
	t          int64 // log time, Unix nanoseconds
	k          string
	n          int64
	start, end int64 // its bytes in the log
	late       bool  // older than a window the watermark closed before it
}

// aggWindowOf is the start of the window of t (windows are aligned to
// multiples of the window since the epoch).
func aggWindowOf(t int64) int64 { return t - t%int64(aggWindow) }

// aggLog makes the log and classifies its lines as the issue defines it: a
// line is late when the watermark (the latest log time seen before it,
// minus the lateness) has passed the end of its window. Every line keeps
// 100 ms away from the edges of that definition, so that whether the
// watermark "passes" an end when it reaches it, or a line is late when it
// is older than the watermark, changes nothing.
func aggLog(t *testing.T) []aggLine {
	t.Helper()
	rng := rand.New(rand.NewPCG(aggSeed, 2026))
	planted := map[int]bool{}
	for len(planted) < aggLate {
		// After the first 6 s, never two in a row.
		if i := 300 + rng.IntN(aggLines-400); !planted[i-1] && !planted[i+1] {
			planted[i] = true
		}
	}
	lines := make([]aggLine, aggLines)
	var off int64
	for i := range lines {
		ts := int64(aggEpochS)*1e9 + int64(i)*int64(aggStep)
		switch {
		case planted[i]:
			// Into a window that ended 4 s or more before this line's
			// time: the watermark is past it by 2 s or more.
			ts = aggWindowOf(ts-6*int64(time.Second)) + rng.Int64N(int64(aggWindow)/1e6)*1e6
		case rng.IntN(100) < 8:
			ts -= (1 + rng.Int64N(aggBack.Milliseconds())) * 1e6
		}
		d := math.Round(math.Exp(rng.NormFloat64()-1)*1e4) / 1e4
		switch rng.IntN(60) { // the bucket bounds themselves
		case 0:
			d = 0.1
		case 1:
			d = 1
		}
		l := aggLine{t: ts, k: string(rune('a' + rng.IntN(4))), n: rng.Int64N(1000)}
		l.text = fmt.Sprintf("t=%d.%03d k=%s n=%d d=%s i=%d\n", ts/1e9, ts%1e9/1e6, l.k, l.n, strconv.FormatFloat(d, 'f', -1, 64), i)
		l.start, off = off, off+int64(len(l.text))
		l.end = off
		lines[i] = l
	}

	const margin = int64(100 * time.Millisecond)
	seen := int64(math.MinInt64)
	for i := range lines {
		l := &lines[i]
		if i > 0 {
			wm := seen - int64(aggLateness)
			end := aggWindowOf(l.t) + int64(aggWindow)
			l.late = end <= wm
			if l.late && end > wm-margin || !l.late && l.t < wm+margin {
				t.Fatalf("line %d (%q) is too close to lateness's edge: watermark %d, window end %d", i, l.text, wm, end)
			}
		}
		if l.late != planted[i] {
			t.Fatalf("line %d (%q): late %v, but planted %v", i, l.text, l.late, planted[i])
		}
		seen = max(seen, l.t)
	}
	return lines
}

// aggText is the log's bytes.
func aggText(lines []aggLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
	}
	return b.String()
}

// aggKey is one point of rule agg: a window and a tag value.
type aggKey struct {
	window int64
	k      string
}

// aggExact is what the test computes itself of a window's lines.
type aggExact struct{ count, sum, min, max int64 }

// aggExpected is the exact part of the points rule agg must make: count,
// and sum, min and max of the integer field n, per window and tag, over
// the lines that are not late.
func aggExpected(lines []aggLine) map[aggKey]aggExact {
	want := map[aggKey]aggExact{}
	for _, l := range lines {
		if l.late {
			continue
		}
		key := aggKey{aggWindowOf(l.t), l.k}
		w, ok := want[key]
		if !ok {
			w = aggExact{min: l.n, max: l.n}
		}
		w.count++
		w.sum += l.n
		w.min, w.max = min(w.min, l.n), max(w.max, l.n)
		want[key] = w
	}
	return want
}

// aggFirstOpen is where the first line of the oldest window still open
// starts once the first size bytes of the log are read: a committed
// offset must not pass it. A window that ends exactly at the watermark
// counts as closed, so the bound holds whichever way the engine reads
// "passes".
func aggFirstOpen(lines []aggLine, size int64) int64 {
	seen := int64(math.MinInt64)
	first := map[int64]int64{}
	for _, l := range lines {
		if l.end > size {
			break
		}
		seen = max(seen, l.t)
		if w := aggWindowOf(l.t); !l.late {
			if _, ok := first[w]; !ok {
				first[w] = l.start
			}
		}
	}
	open := size
	for w, start := range first {
		if w+int64(aggWindow) > seen-int64(aggLateness) {
			open = min(open, start)
		}
	}
	return open
}

// TestAggregateSameEverywhere: the same log through `test`, `backfill`
// and `run` gives identical points in InfluxDB: measurement, tags, fields
// with their types and values, timestamps. run reads the log as it is
// written, and is killed twice with SIGKILL and stopped once with SIGTERM,
// each time with windows open (the agent has read lines of a window the
// watermark has not closed, and the idle flush is seconds away), and its
// last windows come by the idle flush. Late lines are dropped by all three
// alike.
//
// Floats must be equal exactly, percentiles included: every mode folds a
// window's values in file order (after a crash the window is folded again
// from its first line), so sums and means are computed from the same
// values in the same order, and a percentile is read from the same values
// (up to 8) or the same sketch bins, which depend on the values alone. A
// difference in the last bit means a mode folded other values or in
// another order.
func TestAggregateSameEverywhere(t *testing.T) {
	t.Parallel()
	lines := aggLog(t)
	text := aggText(lines)
	srv := influxtest.Start(t)
	for _, db := range []string{"ref", "bf", "run"} {
		srv.CreateDatabase(t, db)
	}

	// test, the reference: its points, checked against what the test
	// computes itself, then written as they are into db ref.
	whole := t.TempDir()
	writeFile(t, filepath.Join(whole, "app.log"), text)
	// One rules file for both: test ignores the influxdb block.
	writeFile(t, filepath.Join(whole, "rules.hcl"), aggRules(srv.URL(), "bf", `["app.log"]`))
	tested := runOnce(t, whole, "test", "-config", "rules.hcl", "app.log")
	tested.exited(t, exitOK)
	points := aggDecode(t, tested.stdout)
	aggCheckReference(t, lines, points)
	srv.Write(t, "ref", string(tested.stdout))
	ref := srv.Dump(t, "ref")
	var printed []string
	for i := range points {
		printed = append(printed, influxtest.DumpPoint(&points[i]))
	}
	slices.Sort(printed)
	// Two points of one series and time would be one in InfluxDB: a window
	// emitted twice shows here.
	if diff := cmp.Diff(printed, ref); diff != "" {
		t.Fatalf("what test printed and what InfluxDB holds of it (-printed +stored):\n%s", firstLines(diff, 40))
	}

	// backfill.
	backfilled := runOnce(t, whole, "backfill", "-config", "rules.hcl")
	backfilled.exited(t, exitOK)
	// Dropped, and counted.
	late := fmt.Sprintf("%d late lines dropped", aggLate)
	for _, f := range []finished{tested, backfilled} {
		if !strings.Contains(f.stderr, late) {
			t.Errorf("logmetrics %s does not say %q:\n%s", f.args[0], late, f.stderr)
		}
	}
	if diff := cmp.Diff(ref, srv.Dump(t, "bf")); diff != "" {
		t.Errorf("test and backfill (-test +backfill):\n%s", firstLines(diff, 40))
	}

	// run, stopped three times.
	live := t.TempDir()
	logPath := filepath.Join(live, "app.log")
	writeFile(t, filepath.Join(live, "rules.hcl"), aggRules(srv.URL(), "run", `["app.log"]`))
	writeFile(t, logPath, "")
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a := startAgent(t, live, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	var lastWrite time.Time
	for c := 0; c*aggChunk < len(lines); c++ {
		chunk := lines[c*aggChunk : min((c+1)*aggChunk, len(lines))]
		if _, err := f.WriteString(aggText(chunk)); err != nil {
			t.Fatal(err)
		}
		lastWrite = time.Now()
		sig, stop := aggStops[c+1]
		if !stop {
			time.Sleep(aggPause)
			continue
		}
		written, size := (c+1)*aggChunk, chunk[len(chunk)-1].end
		caughtUp := aggCatchUp(t, srv, written, lastWrite)
		if since := time.Since(lastWrite); since >= aggIdle-time.Second {
			t.Fatalf("stop after chunk %d came %v after the last line, near the idle flush (%v): the windows may be closed", c+1, since, aggIdle)
		}
		if sig == syscall.SIGKILL {
			if err := a.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			_ = a.exit()
		} else if _, err := a.stop(sig); err != nil {
			t.Fatalf("run after %s: %v, want exit 0; stderr:\n%s", aggSignalName[sig], err, a.logged())
		}
		committed := aggCommitted(t, filepath.Join(live, "state"))
		open := aggFirstOpen(lines, size)
		t.Logf("%s after line %d (byte %d), agent caught up: %v; committed %d, oldest open window from byte %d; %d raw and %d agg points stored",
			aggSignalName[sig], written, size, caughtUp, committed, open, aggStored(t, srv, "run", "raw"), aggStored(t, srv, "run", "agg"))
		if committed > open {
			t.Errorf("%s after line %d: the position committed is byte %d, past byte %d where the oldest open window's first line starts", aggSignalName[sig], written, committed, open)
		}
		a = startAgent(t, live, "run", "-config", "rules.hcl")
	}
	// The last windows come by the idle flush.
	deadline := lastWrite.Add(aggIdle + 10*time.Second)
	for !slices.Equal(ref, srv.Dump(t, "run")) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond) // polling InfluxDB, not synchronising
	}
	t.Logf("run's points compared %v after the last line (idle flush after %v)", time.Since(lastWrite).Round(time.Millisecond), aggIdle)
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Errorf("last run after SIGTERM: %v, want exit 0; stderr:\n%s", err, a.logged())
	}
	if diff := cmp.Diff(ref, srv.Dump(t, "run")); diff != "" {
		t.Errorf("test and run (-test +run):\n%s\nlast run's stderr:\n%s", firstLines(diff, 40), firstLines(a.logged(), 40))
	}
}

// aggDecode reads line protocol into points.
func aggDecode(t *testing.T, lp []byte) []pipeline.Point {
	t.Helper()
	var points []pipeline.Point
	dec := lineprotocol.NewDecoderWithBytes(lp)
	for dec.Next() {
		var p pipeline.Point
		m, err := dec.Measurement()
		if err != nil {
			t.Fatalf("point %d: %v", len(points)+1, err)
		}
		p.Measurement = string(m)
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				t.Fatalf("point %d: %v", len(points)+1, err)
			}
			if k == nil {
				break
			}
			p.Tags = append(p.Tags, pipeline.Tag{Key: string(k), Value: string(v)})
		}
		for {
			k, v, err := dec.NextField()
			if err != nil {
				t.Fatalf("point %d: %v", len(points)+1, err)
			}
			if k == nil {
				break
			}
			var pv pipeline.Value
			switch v.Kind() {
			case lineprotocol.Int:
				pv = pipeline.IntValue(v.IntV())
			case lineprotocol.Uint:
				pv = pipeline.UintValue(v.UintV())
			case lineprotocol.Float:
				pv = pipeline.FloatValue(v.FloatV())
			case lineprotocol.String:
				pv = pipeline.StringValue(v.StringV())
			case lineprotocol.Bool:
				pv = pipeline.BoolValue(v.BoolV())
			}
			p.Fields = append(p.Fields, pipeline.Field{Key: string(k), Value: pv})
		}
		ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		if err != nil {
			t.Fatalf("point %d: %v", len(points)+1, err)
		}
		p.Time = ts.UnixNano()
		points = append(points, p)
	}
	return points
}

// aggCheckReference checks test's points against what the test computes
// itself: a point of raw for every line, late ones included, and a point
// of agg for every window and tag with lines that are not late, with the
// exact count and the sum, min and max of n. It names the field keys the
// engine chose for the rest.
func aggCheckReference(t *testing.T, lines []aggLine, points []pipeline.Point) {
	t.Helper()
	got := map[aggKey]aggExact{}
	raw := 0
	keys := map[string]bool{}
	for _, p := range points {
		switch p.Measurement {
		case "raw":
			raw++
			continue
		case "agg":
		default:
			t.Fatalf("a point of measurement %q: %s", p.Measurement, influxtest.DumpPoint(&p))
		}
		if len(p.Tags) != 1 || p.Tags[0].Key != "k" {
			t.Fatalf("agg point without tag k alone: %s", influxtest.DumpPoint(&p))
		}
		key := aggKey{p.Time, p.Tags[0].Value}
		if _, twice := got[key]; twice {
			t.Errorf("window %d of k=%s printed twice", key.window, key.k)
		}
		var e aggExact
		exact := map[string]*int64{"count": &e.count, "n_sum": &e.sum, "n_min": &e.min, "n_max": &e.max}
		for _, f := range p.Fields {
			keys[f.Key] = true
			if at, ok := exact[f.Key]; ok {
				if f.Value.Kind != pipeline.Int {
					t.Errorf("field %s of an integer field is not an integer: %s", f.Key, influxtest.DumpPoint(&p))
				}
				*at = f.Value.Int()
			}
		}
		got[key] = e
	}
	if raw != len(lines) {
		t.Errorf("%d points of rule raw for %d lines", raw, len(lines))
	}
	want := aggExpected(lines)
	t.Logf("test printed %d points of raw and %d of agg (%d windows and tags); agg's fields: %s", raw, len(got), len(want), strings.Join(slices.Sorted(maps.Keys(keys)), " "))
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(aggKey{}, aggExact{})); diff != "" {
		t.Fatalf("agg's count, n_sum, n_min, n_max per window and k (-computed +test printed):\n%s", firstLines(diff, 40))
	}
}

// aggStored is how many points measurement m of db holds.
func aggStored(t *testing.T, srv *influxtest.Server, db, m string) int {
	t.Helper()
	field := "n"
	if m == "agg" {
		field = "count"
	}
	res := srv.Query(t, db, "SELECT count("+influxtest.QuoteIdent(field)+") FROM "+influxtest.QuoteIdent(m))
	if len(res) == 0 {
		return 0
	}
	n, err := res[0].Values[0][1].(json.Number).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// aggCatchUp waits until db run holds the raw points of the first written
// lines, so that the agent has read them all, and then 1.2 s more, so that
// it has saved its positions (every second) since: it reports whether it
// caught up. It never waits past 2.5 s after the last line was written,
// well before the idle flush.
func aggCatchUp(t *testing.T, srv *influxtest.Server, written int, lastWrite time.Time) bool {
	t.Helper()
	deadline := lastWrite.Add(2500 * time.Millisecond)
	var caught time.Time
	for time.Now().Before(deadline) {
		if caught.IsZero() && aggStored(t, srv, "run", "raw") >= written {
			caught = time.Now()
		}
		if !caught.IsZero() && time.Since(caught) >= 1200*time.Millisecond {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling InfluxDB, not synchronising
	}
	return !caught.IsZero()
}

// aggCommitted reads the committed offset of the log from the positions
// file of state; 0 when none was saved yet.
func aggCommitted(t *testing.T, state string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, "positions.json"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Files []struct {
			Path   string `json:"path"`
			Offset int64  `json:"offset"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("positions file: %v\n%s", err, b)
	}
	if len(doc.Files) != 1 {
		t.Fatalf("positions of %d files, want the log's alone:\n%s", len(doc.Files), b)
	}
	return doc.Files[0].Offset
}
