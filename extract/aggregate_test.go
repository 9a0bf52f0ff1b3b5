package extract

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// aggRule is a logfmt rule "t=SECONDS s=TAG v=INT" aggregated in windows
// of 10 s with the given lateness.
func aggRule(lateness time.Duration, maxSeries int) Rule {
	return Rule{Name: "r", Mode: Logfmt, Time: unixTime, Tags: []TagSpec{{"s", "s"}},
		Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt}},
		Aggregate: &Aggregate{Window: 10 * time.Second, Lateness: lateness, Stats: []string{"count", "sum"},
			MaxSeries: maxSeries}}
}

// fileLines makes lines of one file of source "s", with their offsets.
func fileLines(ino uint64, texts ...string) []pipeline.Line {
	var out []pipeline.Line
	off := int64(0)
	for _, text := range texts {
		off += int64(len(text)) + 1
		out = append(out, pipeline.Line{Origin: pipeline.Origin{Path: fmt.Sprintf("f%d.log", ino), Offset: off, File: pipeline.FileID{Ino: ino}},
			Source: "s", Text: text, ReadAt: time.Unix(1000, 0)})
	}
	return out
}

func compileOne(t testing.TB, r Rule) *Extractor {
	t.Helper()
	ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{r}}}})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// TestAggregateRecords: a window's point goes in the record of the line
// that closes it (the source's latest time less the lateness passes its
// end), stamped with the window's start, unseparated; each record holds its
// file's position at the start of the earliest first line of a window still
// open; Flush writes the rest.
func TestAggregateRecords(t *testing.T) {
	ex := compileOne(t, aggRule(5*time.Second, 0))
	lines := fileLines(1,
		"t=1 s=a v=1",  // opens [0,10): holds at 0
		"t=12 s=a v=2", // watermark 7: opens [10,20), first line at 12
		"t=3 s=b v=4",  // within the lateness: into [0,10)
		"t=16 s=b v=8", // watermark 11: [0,10) closes (a, then b)
		"t=5 s=a v=16", // late
		"x",            // no rule: the hold stays
		"t=30 s=a v=32",
	)
	type rec struct {
		Points []string
		Hold   pipeline.Hold
	}
	var got []rec
	var r pipeline.Record
	for i := range lines {
		ex.Extract(&lines[i], &r)
		got = append(got, rec{show(r.Points), r.Hold})
	}
	r = pipeline.Record{}
	ex.Flush(&r)
	got = append(got, rec{show(r.Points), r.Hold})
	off := func(i int) int64 { return lines[i].Offset } // just past line i
	// held at off, with the source's latest time (s) as of the record
	held := func(off, latest int64) pipeline.Hold {
		return pipeline.Hold{Hold: off, Held: true, Latest: latest * 1e9, HasLatest: true}
	}
	want := []rec{
		{nil, held(0, 1)},
		{nil, held(0, 12)},
		{nil, held(0, 12)},
		{[]string{"r,s=a count=1i,v_sum=1i 0", "r,s=b count=1i,v_sum=4i 0"}, held(off(0), 16)},
		{nil, held(off(0), 16)},
		{nil, held(off(0), 16)},
		// watermark 25: [10,20) closes; [30,40) holds from line 6's start
		{[]string{"r,s=a count=1i,v_sum=2i 10000000000", "r,s=b count=1i,v_sum=8i 10000000000"}, held(off(5), 30)},
		{[]string{"r,s=a count=1i,v_sum=32i 30000000000"}, pipeline.Hold{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if st := ex.Stats().Rules[0]; st.Late != 1 || st.Aggregated != 5 || st.Points != 5 {
		t.Errorf("stats %+v, want 1 late, 5 aggregated, 5 points", st)
	}
	if off, held := ex.HoldOf(pipeline.FileID{Ino: 1}); held {
		t.Errorf("HoldOf after Flush = %d, held", off)
	}
}

// TestAggregateHoldsPerFile: a window holds each file it has lines of at
// the start of its first line from that file; the same line offered again
// (as test offers a line to every source) starts where it starts.
func TestAggregateHoldsPerFile(t *testing.T) {
	ex := compileOne(t, aggRule(0, 0))
	a := fileLines(1, "t=1 s=a v=1", "t=2 s=a v=1", "t=3 s=a v=1")
	b := fileLines(2, "t=4 s=a v=1", "t=5 s=a v=1")
	var rec pipeline.Record
	for _, l := range []pipeline.Line{a[0], b[0], a[1], b[1], b[1], a[2]} {
		ex.Extract(&l, &rec)
	}
	for _, tc := range []struct {
		ino  uint64
		want int64
	}{{1, 0}, {2, 0}} {
		if off, held := ex.HoldOf(pipeline.FileID{Ino: tc.ino}); !held || off != tc.want {
			t.Errorf("file %d: HoldOf = %d, %v; want %d, true", tc.ino, off, held, tc.want)
		}
	}
	l := fileLines(2, "t=4 s=a v=1", "t=5 s=a v=1", "t=10 s=a v=1")[2]
	ex.Extract(&l, &rec) // closes [0,10): file 2 now holds where t=10 starts
	if got := show(rec.Points); len(got) != 1 || got[0] != "r,s=a count=6i,v_sum=6i 0" {
		t.Errorf("points %q", got)
	}
	if off, held := ex.HoldOf(pipeline.FileID{Ino: 2}); !held || off != b[1].Offset {
		t.Errorf("file 2: HoldOf = %d, %v; want %d", off, held, b[1].Offset)
	}
	if _, held := ex.HoldOf(pipeline.FileID{Ino: 1}); held {
		t.Error("file 1 still held after its window closed")
	}
}

// TestAggregateFold: past max_series open tag sets, lines fold into the tag
// set "other", counted, and warned about once per rule.
func TestAggregateFold(t *testing.T) {
	logs := &logCounts{n: map[string]int{}}
	ex := compileOne(t, aggRule(0, 2))
	ex.SetLogger(slog.New(logs))
	var texts []string
	for i := range 10 {
		texts = append(texts, fmt.Sprintf("t=%d s=x%d v=1", i, i))
	}
	texts = append(texts, "t=10 s=y v=1", "t=11 s=z v=1", "t=12 s=q v=1")
	got := flushAll(t, ex, fileLines(1, texts...))
	want := []string{
		"r,s=x0 count=1i,v_sum=1i 0", "r,s=x1 count=1i,v_sum=1i 0", "r,s=other count=8i,v_sum=8i 0",
		"r,s=y count=1i,v_sum=1i 10000000000", "r,s=z count=1i,v_sum=1i 10000000000", "r,s=other count=1i,v_sum=1i 10000000000",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("points (-want +got):\n%s", diff)
	}
	if st := ex.Stats().Rules[0]; st.Folded != 9 {
		t.Errorf("Folded = %d, want 9", st.Folded)
	}
	if n := logs.n[`WARN more tag sets than max_series: lines folded into the tag set "other" r`]; n != 1 {
		t.Errorf("warned %d times, want once: %v", n, logs.n)
	}
}

// flushAll extracts lines and flushes, returning every point.
func flushAll(t testing.TB, ex *Extractor, lines []pipeline.Line) []string {
	var got []string
	var rec pipeline.Record
	for i := range lines {
		ex.Extract(&lines[i], &rec)
		got = append(got, show(rec.Points)...)
	}
	rec = pipeline.Record{}
	ex.Flush(&rec)
	return append(got, show(rec.Points)...)
}

// TestAggregateTimes: a line dated more than maxAhead after it was read is
// a bad time for aggregation and moves no watermark; SetWindow keeps the
// windows that start in it; a window before InfluxDB's first storable time
// is a bad time.
func TestAggregateTimes(t *testing.T) {
	t.Run("ahead", func(t *testing.T) {
		ex := compileOne(t, aggRule(0, 0))
		read := time.Unix(1000, 0)
		ahead := read.Add(maxAhead).Unix()
		lines := fileLines(1, "t=5 s=a v=1", fmt.Sprintf("t=%d s=a v=2", ahead+1), fmt.Sprintf("t=%d s=a v=4", ahead), "t=7 s=a v=8")
		got := flushAll(t, ex, lines)
		// The second line neither counts nor closes [0,10): the fourth
		// folds into it; the third, just within, closes it.
		want := []string{"r,s=a count=1i,v_sum=1i 0", fmt.Sprintf("r,s=a count=1i,v_sum=4i %d", (ahead/10*10)*1e9)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("points (-want +got):\n%s", diff)
		}
		if st := ex.Stats().Rules[0]; st.TimeErrors != 1 || st.Late != 1 {
			t.Errorf("stats %+v, want a time error and a late line", st)
		}
	})
	t.Run("window", func(t *testing.T) {
		ex := compileOne(t, aggRule(0, 0))
		ex.SetWindow(time.Unix(10, 0), time.Unix(20, 0))
		got := flushAll(t, ex, fileLines(1, "t=5 s=a v=1", "t=15 s=a v=2", "t=19 s=a v=4", "t=20 s=a v=8"))
		if diff := cmp.Diff([]string{"r,s=a count=2i,v_sum=6i 10000000000"}, got); diff != "" {
			t.Errorf("points (-want +got):\n%s", diff)
		}
		if st := ex.Stats().Rules[0]; st.OutsideWindow != 2 {
			t.Errorf("OutsideWindow = %d, want 2", st.OutsideWindow)
		}
	})
	t.Run("first storable", func(t *testing.T) {
		ex := compileOne(t, aggRule(0, 0))
		got := flushAll(t, ex, fileLines(1, "t=-9223372036.854775806 s=a v=1", "t=-9223372030 s=a v=2"))
		if diff := cmp.Diff([]string{"r,s=a count=1i,v_sum=2i -9223372030000000000"}, got); diff != "" {
			t.Errorf("points (-want +got):\n%s", diff)
		}
		if st := ex.Stats().Rules[0]; st.TimeErrors != 1 {
			t.Errorf("TimeErrors = %d, want 1", st.TimeErrors)
		}
	})
}

// TestIdle: Idle closes the windows of a rule whose source got no line for
// window + lateness of wall time, by the lines' ReadAt, not while the sink
// held extraction up; a line of such a window that comes later is late.
func TestIdle(t *testing.T) {
	ex := compileOne(t, aggRule(5*time.Second, 0))
	read := time.Unix(1000, 0)
	lines := fileLines(1, "t=1 s=a v=1", "t=12 s=a v=2")
	var rec pipeline.Record
	for i := range lines {
		ex.Extract(&lines[i], &rec)
	}
	rec = pipeline.Record{}
	ex.Idle(read.Add(15*time.Second-1), &rec)
	if len(rec.Points) != 0 {
		t.Fatalf("Idle before window+lateness: %q", show(rec.Points))
	}
	ex.stalledAt = read.Add(10 * time.Second)
	ex.Idle(read.Add(20*time.Second), &rec)
	if len(rec.Points) != 0 {
		t.Fatalf("Idle within window+lateness of a stall: %q", show(rec.Points))
	}
	ex.Idle(read.Add(25*time.Second), &rec)
	want := []string{"r,s=a count=1i,v_sum=1i 0", "r,s=a count=1i,v_sum=2i 10000000000"}
	if diff := cmp.Diff(want, show(rec.Points)); diff != "" {
		t.Errorf("Idle points (-want +got):\n%s", diff)
	}
	if rec.Origin != (pipeline.Origin{}) {
		t.Errorf("Idle set the origin: %+v", rec.Origin)
	}
	if _, held := ex.HoldOf(pipeline.FileID{Ino: 1}); held {
		t.Error("file still held after Idle")
	}
	l := fileLines(1, "t=1 s=a v=1", "t=12 s=a v=2", "t=19 s=a v=4")[2]
	ex.Extract(&l, &rec)
	if st := ex.Stats().Rules[0]; st.Late != 1 || len(rec.Points) != 0 {
		t.Errorf("a line of a window Idle closed: %d late, points %q", st.Late, show(rec.Points))
	}
}

// runRecord renders a record of Run for comparison.
func runRecord(r pipeline.Record) string {
	return fmt.Sprintf("%s:%d hold=%d,%v %q", r.Path, r.Offset, r.Hold.Hold, r.Hold.Held, show(r.Points))
}

// TestRunFollowed: under FeedFollowed, Run sends with a line's record the
// windows it closes, then a checkpoint (no points, its latest origin and
// new hold) for each other file whose hold moved; every second it sends the
// windows of quiet sources in a record without origin, and their files'
// checkpoints; when its input closes, it sends nothing more.
func TestRunFollowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := compileOne(t, aggRule(2*time.Second, 0))
		ex.SetFeed(FeedFollowed)
		in := make(chan pipeline.Line)
		out := make(chan pipeline.Record, 100)
		done := make(chan error, 1)
		go func() { done <- ex.Run(t.Context(), in, out) }()
		a := fileLines(1, "t=1 s=a v=1", "t=21 s=a v=4", "t=22 s=a v=8")
		b := fileLines(2, "t=2 s=a v=2")
		send := func(l pipeline.Line) {
			l.ReadAt = time.Now()
			in <- l
		}
		recv := func() []string {
			synctest.Wait()
			var got []string
			for len(out) > 0 {
				got = append(got, runRecord(<-out))
			}
			return got
		}
		send(a[0])
		send(b[0])
		send(a[1]) // closes [0,10): file 2's hold is gone
		want := []string{
			`f1.log:12 hold=0,true []`,
			`f2.log:12 hold=0,true []`,
			fmt.Sprintf(`f1.log:25 hold=12,true ["r,s=a count=2i,v_sum=3i 0"]`),
			`f2.log:12 hold=0,false []`,
		}
		if diff := cmp.Diff(want, recv()); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
		time.Sleep(11500 * time.Millisecond) // within window + lateness
		if got := recv(); len(got) != 0 {
			t.Errorf("records before the source was quiet for window + lateness: %q", got)
		}
		time.Sleep(time.Second) // the tick at 12 s
		want = []string{
			`:0 hold=0,false ["r,s=a count=1i,v_sum=4i 20000000000"]`,
			`f1.log:25 hold=0,false []`,
		}
		if diff := cmp.Diff(want, recv()); diff != "" {
			t.Errorf("records after a quiet while (-want +got):\n%s", diff)
		}
		send(a[2]) // late: Idle closed [20,30)
		if diff := cmp.Diff([]string{`f1.log:38 hold=0,false []`}, recv()); diff != "" {
			t.Errorf("records of a late line (-want +got):\n%s", diff)
		}
		send(fileLines(1, "t=1 s=a v=1", "t=21 s=a v=4", "t=22 s=a v=8", "t=30 s=a v=16")[3])
		close(in)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// The window [30,40) stays open: its file is held for the next start.
		if diff := cmp.Diff([]string{`f1.log:52 hold=38,true []`}, recv()); diff != "" {
			t.Errorf("records at the end (-want +got):\n%s", diff)
		}
	})
}

// TestRunEnd: under FeedFinite, Run and RunParallel send the open windows
// when their input closes, in a record without origin; not when ctx is
// done, nor when the input was Cut.
func TestRunEnd(t *testing.T) {
	for _, workers := range []int{1, 3} {
		for _, how := range []string{"close", "cancel", "cut"} {
			cancel := how == "cancel"
			t.Run(fmt.Sprintf("workers=%d/%s", workers, how), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ex := compileOne(t, aggRule(0, 0))
					ctx, stop := context.WithCancel(t.Context())
					defer stop()
					in := make(chan pipeline.Line)
					out := make(chan pipeline.Record, 100)
					done := make(chan error, 1)
					go func() { done <- ex.RunParallel(ctx, in, out, workers) }()
					for _, l := range fileLines(1, "t=1 s=a v=1", "t=11 s=a v=2") {
						in <- l
					}
					synctest.Wait()
					if how == "cut" {
						ex.Cut() // an interrupted backfill: the open window is partial
					}
					if cancel {
						stop()
					} else {
						close(in)
					}
					<-done
					var got []string
					for r := range out {
						got = append(got, runRecord(r))
					}
					want := []string{
						`f1.log:12 hold=0,true []`,
						`f1.log:25 hold=12,true ["r,s=a count=1i,v_sum=1i 0"]`,
					}
					if how == "close" {
						want = append(want, `:0 hold=0,false ["r,s=a count=1i,v_sum=2i 10000000000"]`)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("records (-want +got):\n%s", diff)
					}
				})
			})
		}
	}
}

// influx is what InfluxDB keeps of points: one value per series, time and
// field, the last written.
type influx map[string]map[string]string

func (db influx) write(t testing.TB, pts []pipeline.Point, want influx) {
	for _, s := range show(pts) {
		key, fields, _ := strings.Cut(s, " ")
		fields, ts, _ := strings.Cut(fields, " ")
		key += " " + ts
		if db[key] == nil {
			db[key] = map[string]string{}
		}
		for _, f := range strings.Split(fields, ",") {
			k, v, _ := strings.Cut(f, "=")
			db[key][k] = v
			if want != nil && want[key][k] != v {
				t.Errorf("%s %s=%s written, a clean run writes %q", key, k, v, want[key][k])
			}
		}
	}
}

// restartLines are lines of one file that go forward with some out of
// order (within and beyond the lateness), five tag sets for a max_series of
// three, and a line no rule takes now and then.
func restartLines(n int) []pipeline.Line {
	rng := rand.New(rand.NewPCG(3, 3))
	var texts []string
	for i := range n {
		sec := i/4 - rng.IntN(8)
		if rng.IntN(20) == 0 {
			texts = append(texts, "noise")
			continue
		}
		texts = append(texts, fmt.Sprintf("t=%d s=%c v=%d", sec, 'a'+rng.IntN(5), i))
	}
	return fileLines(1, texts...)
}

// TestRestartExact is the promise of positions and replays: a crash after
// any record, then a restart that replays the file up to the committed
// position (the highest Hold.Commit of the records delivered) and reads on
// from there, gives InfluxDB exactly the points of a clean run, and never
// writes a point a clean run does not (no partial window). It fails
// without the ghost windows of aggregate.go (a window with lines before
// the position is written again from its later lines only).
func TestRestartExact(t *testing.T) {
	lines := restartLines(400)
	rule := aggRule(4*time.Second, 3)
	clean := influx{}
	ex := compileOne(t, rule)
	var pts []pipeline.Point
	var recs []pipeline.Record
	for i := range lines {
		var rec pipeline.Record
		ex.Extract(&lines[i], &rec)
		recs = append(recs, rec)
	}
	var last pipeline.Record
	ex.Flush(&last)
	for _, r := range append(recs, last) {
		pts = append(pts, r.Points...)
	}
	clean.write(t, pts, nil)
	if st := ex.Stats().Rules[0]; st.Late == 0 || st.Folded == 0 {
		t.Fatalf("the input has no late or folded lines: %+v", st)
	}

	// run reads the lines with those ending at or before committed
	// replayed, as the tailer does after a restart, and returns the
	// records (the Flush last).
	run := func(committed int64) []pipeline.Record {
		ex := compileOne(t, rule)
		ex.SetFeed(FeedFollowed)
		var recs []pipeline.Record
		for _, l := range lines {
			l.Replay = l.Offset <= committed
			var rec pipeline.Record
			ex.Extract(&l, &rec)
			recs = append(recs, rec)
		}
		var last pipeline.Record
		ex.Flush(&last)
		return append(recs, last)
	}
	commit := func(recs []pipeline.Record, committed int64) int64 {
		for _, r := range recs {
			if r.File == (pipeline.FileID{Ino: 1}) {
				committed = max(committed, r.Hold.Commit(r.Origin))
			}
		}
		return committed
	}
	held := 0
	for crash := range len(lines) {
		db := influx{}
		first := run(0)[:crash] // delivered before the crash
		for _, r := range first {
			db.write(t, r.Points, clean)
		}
		committed := commit(first, 0)
		if committed < lines[crash].Offset {
			held++
		}
		second := run(committed)
		for _, r := range second {
			db.write(t, r.Points, clean)
		}
		if diff := cmp.Diff(clean, db); diff != "" {
			t.Fatalf("crash after record %d, restart from %d: InfluxDB (-clean +restarted):\n%s", crash, committed, diff)
		}
		if crash%50 == 0 { // and a second crash on the way
			mid := crash + (len(lines)-crash)/2
			db := influx{}
			for _, r := range first {
				db.write(t, r.Points, clean)
			}
			for _, r := range second[:mid] {
				db.write(t, r.Points, clean)
			}
			for _, r := range run(commit(second[:mid], committed)) {
				db.write(t, r.Points, clean)
			}
			if diff := cmp.Diff(clean, db); diff != "" {
				t.Fatalf("crashes after records %d and %d: InfluxDB (-clean +restarted):\n%s", crash, mid, diff)
			}
		}
	}
	if held < len(lines)/2 {
		t.Errorf("the position was held back at %d crash points of %d: the test does not test holds", held, len(lines))
	}
}

// TestSketchAccuracy: every percentile is within SketchAccuracy of an
// exact order statistic of rank q·(n-1): the value of rank ⌊q·(n-1)⌋ or
// ⌈q·(n-1)⌉ (the sketch takes the first for positive values, the second
// for negative ones), on 100,000 values of several distributions.
func TestSketchAccuracy(t *testing.T) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(1, 2))
	dists := []struct {
		name string
		draw func() float64
	}{
		{"uniform", func() float64 { return rng.Float64() }},
		{"exponential", func() float64 { return rng.ExpFloat64() }},
		{"lognormal", func() float64 { return math.Exp(rng.NormFloat64()) }},
		{"bimodal", func() float64 {
			if rng.IntN(10) < 7 {
				return 0.010 + 0.002*rng.NormFloat64() // fast requests, and a slow tail
			}
			return 2 + 0.5*rng.NormFloat64()
		}},
		{"normal around 0", func() float64 { return rng.NormFloat64() }},
	}
	qs := []string{"p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "p99.9", "p99.99"}
	plan, errs := compileAggregate(&Aggregate{Window: time.Second, Stats: qs}, &rule{})
	if errs != nil {
		t.Fatal(errs)
	}
	for _, d := range dists {
		var fa fieldAgg
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = d.draw()
			plan.addValue(&fa, pipeline.FloatValue(vals[i]))
		}
		slices.Sort(vals)
		worst := 0.0
		for _, st := range plan.stats {
			v, ok := fa.stat(st)
			if !ok {
				t.Fatalf("%s %s: no value", d.name, st.name)
			}
			rank := st.q * float64(n-1)
			exact := vals[int(math.Floor(rank))]
			rel := math.Abs(v.Float()-exact) / math.Abs(exact)
			if above := vals[int(math.Ceil(rank))]; math.Abs(v.Float()-above)/math.Abs(above) < rel {
				exact, rel = above, math.Abs(v.Float()-above)/math.Abs(above)
			}
			if rel > SketchAccuracy*(1+1e-9) {
				t.Errorf("%s %s = %v, exact %v: relative error %.4f%%", d.name, st.name, v.Float(), exact, 100*rel)
			}
			worst = max(worst, rel)
		}
		t.Logf("%-16s max relative error %.3f%%", d.name, 100*worst)
	}
}

// openSeries opens n tag sets of the contract's rule (two fields, eight
// stats with three percentiles, three buckets) with k values each, and
// returns the extractor.
func openSeries(tb testing.TB, n, k int) *Extractor {
	r := Rule{Name: "r", Mode: Logfmt, Time: unixTime, Tags: []TagSpec{{"s", "s"}},
		Fields: []FieldSpec{{Key: "bytes", From: "b", Type: TypeInt}, {Key: "request_time", From: "rt", Type: TypeFloat}},
		Aggregate: &Aggregate{Window: 10 * time.Second, Stats: []string{"count", "sum", "min", "max", "mean", "p50", "p90", "p99"},
			Buckets: []float64{0.01, 0.1, 1}, MaxSeries: n}}
	ex := compileOne(tb, r)
	rng := rand.New(rand.NewPCG(5, 5))
	var rec pipeline.Record
	for i := range n {
		for range k {
			l := pipeline.Line{Source: "s", Text: fmt.Sprintf("t=1 s=series%06d b=%d rt=%f", i, rng.IntN(100000), rng.ExpFloat64()/10)}
			ex.Extract(&l, &rec)
		}
	}
	return ex
}

// TestMemoryPerSeries measures the heap an open tag set costs (its window
// with sketches and buckets for two fields) and bounds it.
func TestMemoryPerSeries(t *testing.T) {
	if testing.Short() {
		t.Skip("measures memory")
	}
	const n = 2000
	for _, k := range []int{1, 10, 100} {
		per := heapPerSeries(t, n, k)
		t.Logf("%d values per window: %d bytes per open tag set", k, per)
		if per > 8<<10 {
			t.Errorf("%d values per window: %d bytes per open tag set, want at most 8 KiB", k, per)
		}
	}
}

func heapPerSeries(tb testing.TB, n, k int) int {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ex := openSeries(tb, n, k)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if st := ex.Stats().Rules[0]; st.Folded != 0 || st.Aggregated != uint64(n*k) {
		tb.Fatalf("stats %+v", st)
	}
	runtime.KeepAlive(ex)
	return int(after.HeapAlloc-before.HeapAlloc) / n
}

// BenchmarkOpenSeries reports the heap per open tag set (B/series).
func BenchmarkOpenSeries(b *testing.B) {
	for _, k := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("values=%d", k), func(b *testing.B) {
			per := 0
			for b.Loop() {
				per = heapPerSeries(b, 10000, k)
			}
			b.ReportMetric(float64(per), "B/series")
		})
	}
}

func TestCompileAggregateErrors(t *testing.T) {
	base := aggRule(0, 0)
	for _, tc := range []struct {
		name string
		agg  Aggregate
		want string
	}{
		{"window zero", Aggregate{Stats: []string{"sum"}}, "window must be greater than 0"},
		{"window not dividing a day", Aggregate{Window: 7 * time.Second, Stats: []string{"sum"}}, "does not divide a day"},
		{"window over a day", Aggregate{Window: 48 * time.Hour, Stats: []string{"sum"}}, "does not divide a day"},
		{"negative lateness", Aggregate{Window: time.Second, Lateness: -1, Stats: []string{"sum"}}, "lateness must be 0s or more"},
		{"unknown stat", Aggregate{Window: time.Second, Stats: []string{"p100"}}, `unknown stat "p100"`},
		{"duplicate stat", Aggregate{Window: time.Second, Stats: []string{"sum", "sum"}}, "listed twice"},
		{"buckets", Aggregate{Window: time.Second, Buckets: []float64{1, 1}}, "bucket bounds must be finite and increase"},
		{"max series", Aggregate{Window: time.Second, MaxSeries: -1}, "max_series must be at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			r.Aggregate = &tc.agg
			_, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{r}}}})
			if err == nil || !strings.Contains(err.Error(), "aggregate: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Compile = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestStatKeys(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{StatKey("request_time", "p99.9"), "request_time_p99_9"},
		{StatKey("bytes", "sum"), "bytes_sum"},
		{BucketKey("request_time", 0.005), "request_time_bucket_le_0.005"},
		{BucketKey("bytes", 1e6), "bytes_bucket_le_1000000"},
		{BucketKey("x", -0.5), "x_bucket_le_-0.5"},
		{BucketKey("x", math.Inf(1)), "x_bucket_le_inf"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestPercentilesFewThenMany: a window's first exactValues values give
// exact percentiles, more go through the sketch (within its accuracy);
// windows reused after they close (their sketches cleared) start afresh.
func TestPercentilesFewThenMany(t *testing.T) {
	r := Rule{Name: "r", Mode: Logfmt, Time: unixTime, Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeFloat}},
		Aggregate: &Aggregate{Window: time.Second, Stats: []string{"p10", "p50", "p99"}}}
	ex := compileOne(t, r)
	rng := rand.New(rand.NewPCG(9, 9))
	var texts []string
	var windows [][]float64
	for w := range 40 {
		n := 1 + w%20 // 1 to 20 values, twice
		var vals []float64
		for range n {
			v := 1 + rng.Float64()*1000
			vals = append(vals, v)
			texts = append(texts, fmt.Sprintf("t=%d v=%v", w, v))
		}
		slices.Sort(vals)
		windows = append(windows, vals)
	}
	got := flushAll(t, ex, fileLines(1, texts...))
	if len(got) != len(windows) {
		t.Fatalf("%d points for %d windows", len(got), len(windows))
	}
	for w, vals := range windows {
		var p10, p50, p99 float64
		var count int
		var ts int64
		if _, err := fmt.Sscanf(got[w], "r count=%di,v_p10=%g,v_p50=%g,v_p99=%g %d", &count, &p10, &p50, &p99, &ts); err != nil || count != len(vals) {
			t.Fatalf("window %d: %q: %v", w, got[w], err)
		}
		for _, c := range []struct {
			q   float64
			got float64
		}{{0.1, p10}, {0.5, p50}, {0.99, p99}} {
			exact := vals[int(c.q*float64(len(vals)-1))]
			rel := math.Abs(c.got-exact) / exact
			switch {
			case len(vals) <= exactValues && c.got != exact:
				t.Errorf("window %d of %d values: p%v = %v, want exactly %v", w, len(vals), 100*c.q, c.got, exact)
			case rel > SketchAccuracy:
				t.Errorf("window %d of %d values: p%v = %v, exact %v", w, len(vals), 100*c.q, c.got, exact)
			}
		}
	}
}

// flushed extracts lines of one file with ex and returns the points of the
// windows, all flushed at the end.
func flushed(t *testing.T, ex *Extractor, texts ...string) []string {
	t.Helper()
	var rec pipeline.Record
	var got []string
	for _, l := range fileLines(1, texts...) {
		ex.Extract(&l, &rec)
		got = append(got, show(rec.Points)...)
	}
	rec.Points = rec.Points[:0]
	ex.Flush(&rec)
	return append(got, show(rec.Points)...)
}

// TestAggregateEdgeValues: integer sums are exact whatever the order of the
// values and saturate only when written; percentiles of few negative values
// rank as the sketch's do; a line whose own tag values are "other" joins the
// fold's tag set instead of making a second point of it.
func TestAggregateEdgeValues(t *testing.T) {
	intRule := func(typ Type, stats ...string) Rule {
		r := aggRule(0, 0)
		r.Fields[0].Type = typ
		r.Aggregate.Stats = stats
		return r
	}
	for _, tc := range []struct {
		name  string
		rule  Rule
		lines []string
		want  []string
	}{
		{"int sum, one order", intRule(TypeInt, "sum", "mean"),
			[]string{"t=1 s=a v=9223372036854775807", "t=1 s=a v=1", "t=1 s=a v=-9223372036854775808", "t=1 s=a v=-5"},
			[]string{"r,s=a count=4i,v_sum=-5i,v_mean=-1.25 0"}},
		{"int sum, another order", intRule(TypeInt, "sum", "mean"),
			[]string{"t=1 s=a v=-9223372036854775808", "t=1 s=a v=-5", "t=1 s=a v=9223372036854775807", "t=1 s=a v=1"},
			[]string{"r,s=a count=4i,v_sum=-5i,v_mean=-1.25 0"}},
		{"int sum saturates when written", intRule(TypeInt, "sum"),
			[]string{"t=1 s=a v=9223372036854775807", "t=1 s=a v=9223372036854775807", "t=2 s=b v=-9223372036854775808", "t=2 s=b v=-1"},
			[]string{"r,s=a count=2i,v_sum=9223372036854775807i 0", "r,s=b count=2i,v_sum=-9223372036854775808i 0"}},
		{"uint sum saturates when written", intRule(TypeUint, "sum"),
			[]string{"t=1 s=a v=18446744073709551615", "t=1 s=a v=1"},
			[]string{"r,s=a count=2i,v_sum=18446744073709551615u 0"}},
		{"few negative values", intRule(TypeInt, "p10", "p50", "p99"),
			[]string{"t=1 s=a v=-1", "t=1 s=a v=-2", "t=1 s=a v=-3", "t=1 s=a v=-4", "t=1 s=a v=-5", "t=1 s=a v=-6", "t=1 s=a v=-7", "t=1 s=a v=-8"},
			[]string{"r,s=a count=8i,v_p10=-7,v_p50=-4,v_p99=-1 0"}},
		{"a tag value that is other", aggRule(0, 2),
			[]string{"t=1 s=a v=1", "t=1 s=other v=2", "t=1 s=b v=3", "t=1 s=c v=4"},
			[]string{"r,s=a count=1i,v_sum=1i 0", "r,s=other count=2i,v_sum=6i 0", "r,s=b count=1i,v_sum=3i 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := flushed(t, compileOne(t, tc.rule), tc.lines...)
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("points (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMarkerClosesWindows: a startup marker (Line.HasLatest) moves its
// source's latest time as the lines before the restart did, so the windows
// it closes stay closed: a line of one is late (counted, dropped), never a
// second, partial point; the open ones it closes are written; it yields no
// record of its own, and the records after it carry the source's latest.
func TestMarkerClosesWindows(t *testing.T) {
	marker := func(latest int64) pipeline.Line {
		return pipeline.Line{Source: "s", Latest: latest * 1e9, HasLatest: true}
	}
	t.Run("Extract", func(t *testing.T) {
		ex := compileOne(t, aggRule(30*time.Second, 0))
		open := fileLines(1, "t=1 s=a v=1")
		var r pipeline.Record
		ex.Extract(&open[0], &r) // opens [0,10)
		m := marker(45)          // watermark 15: [0,10) closes
		ex.Extract(&m, &r)
		if diff := cmp.Diff([]string{"r,s=a count=1i,v_sum=1i 0"}, show(r.Points)); diff != "" {
			t.Errorf("points of the marker's record (-want +got):\n%s", diff)
		}
		if r.Origin != (pipeline.Origin{}) || r.Hold != (pipeline.Hold{}) {
			t.Errorf("marker's record has origin %+v, hold %+v; want none", r.Origin, r.Hold)
		}
		lower := marker(20) // never back
		ex.Extract(&lower, &r)
		lines := fileLines(2, "t=12 s=a v=10", "t=8 s=a v=100", "t=9 s=b v=7")
		for i := range lines {
			ex.Extract(&lines[i], &r)
			if len(r.Points) != 0 {
				t.Errorf("line %d made points %q", i, show(r.Points))
			}
			if want := (pipeline.Hold{Hold: 0, Held: true, Latest: 45e9, HasLatest: true}); r.Hold != want {
				t.Errorf("line %d: hold %+v, want %+v", i, r.Hold, want)
			}
		}
		r = pipeline.Record{}
		ex.Flush(&r)
		if diff := cmp.Diff([]string{"r,s=a count=1i,v_sum=10i 10000000000"}, show(r.Points)); diff != "" {
			t.Errorf("flushed (-want +got):\n%s", diff)
		}
		if st := ex.Stats().Rules[0]; st.Late != 2 || st.Points != 2 {
			t.Errorf("stats %+v, want 2 late, 2 points", st)
		}
	})
	for _, workers := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("Run/workers=%d", workers), func(t *testing.T) {
			ex := compileOne(t, aggRule(30*time.Second, 0))
			ex.SetFeed(FeedFollowed)
			in := make(chan pipeline.Line, 10)
			out := make(chan pipeline.Record, 10)
			done := make(chan error, 1)
			go func() {
				if workers == 0 {
					done <- ex.Run(t.Context(), in, out)
				} else {
					done <- ex.RunParallel(t.Context(), in, out, workers)
				}
			}()
			in <- pipeline.Line{Source: "nope", Latest: 1, HasLatest: true} // a source without rules: ignored
			in <- marker(45)
			for _, l := range fileLines(1, "t=12 s=a v=10", "t=8 s=a v=100", "t=45 s=a v=20") {
				in <- l
			}
			close(in)
			var got []string
			for r := range out {
				got = append(got, fmt.Sprintf("%s latest=%d,%v", runRecord(r), r.Hold.Latest, r.Hold.HasLatest))
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			want := []string{
				`f1.log:14 hold=0,true [] latest=45000000000,true`,
				`f1.log:28 hold=0,true [] latest=45000000000,true`,
				`f1.log:42 hold=0,true [] latest=45000000000,true`,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if st := ex.Stats().Rules[0]; st.Late != 1 {
				t.Errorf("stats %+v, want 1 late", st)
			}
		})
	}
}

// TestIdleClosedSaved: the windows Idle closes by wall time raise the
// latest time the records carry (to what would have closed them by the
// watermark), so that after a restart, whose marker brings that time back,
// a line for one of them is late, never a second, partial point.
func TestIdleClosedSaved(t *testing.T) {
	ex := compileOne(t, aggRule(2*time.Second, 0))
	ex.SetFeed(FeedFollowed)
	lines := fileLines(1, "t=1 s=a v=1", "t=3 s=a v=5")
	var rec pipeline.Record
	ex.Extract(&lines[0], &rec)
	var idle pipeline.Record
	ex.Idle(lines[0].ReadAt.Add(12*time.Second), &idle)
	if got := show(idle.Points); len(got) != 1 || got[0] != "r,s=a count=1i,v_sum=1i 0" {
		t.Fatalf("idle flush wrote %v", got)
	}
	ex.Extract(&lines[1], &rec) // late: its window was written by Idle
	if len(rec.Points) != 0 || !rec.Hold.HasLatest || rec.Hold.Latest != 12e9 {
		t.Fatalf("after the idle flush: points %v, hold %+v; want none, and latest 12 s (window end 10 s + lateness 2 s)", show(rec.Points), rec.Hold)
	}

	// A restart: the marker brings the saved latest time back; the line
	// read again after the position is late, not a partial window.
	again := compileOne(t, aggRule(2*time.Second, 0))
	again.SetFeed(FeedFollowed)
	marker := pipeline.Line{Source: "s", Latest: rec.Hold.Latest, HasLatest: true}
	again.Extract(&marker, &rec)
	again.Extract(&lines[1], &rec)
	var end pipeline.Record
	again.Flush(&end)
	if pts := append(show(rec.Points), show(end.Points)...); len(pts) != 0 {
		t.Errorf("after the restart: %v written, want nothing (the window was written whole before)", pts)
	}
	if st := again.Stats().Rules[0]; st.Late != 1 {
		t.Errorf("Late %d, want 1", st.Late)
	}
}

// TestIdleWaitsForPending: a source whose records may wait upstream after
// their last line was read (a multiline block's timeout, Source.Pending)
// has its windows closed by wall time that much later: a record pending
// at a pause of the log arrives after window+lateness, and closing its
// window before would make it late in run but not in backfill.
func TestIdleWaitsForPending(t *testing.T) {
	ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{aggRule(5*time.Second, 0)}, Pending: 4 * time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	read := time.Unix(1000, 0)
	lines := fileLines(1, "t=1 s=a v=1", "t=2 s=a v=2")
	var rec pipeline.Record
	ex.Extract(&lines[0], &rec)
	rec = pipeline.Record{}
	ex.Idle(read.Add(15*time.Second), &rec)
	if len(rec.Points) != 0 {
		t.Fatalf("Idle within window+lateness+pending: %q", show(rec.Points))
	}
	// The pending record comes at its timeout.
	late := lines[1]
	late.ReadAt = read.Add(time.Second)
	ex.Extract(&late, &rec)
	ex.Idle(read.Add(20*time.Second-1), &rec)
	if len(rec.Points) != 0 {
		t.Fatalf("Idle before window+lateness+pending of the last record: %q", show(rec.Points))
	}
	ex.Idle(read.Add(20*time.Second), &rec)
	if diff := cmp.Diff([]string{"r,s=a count=2i,v_sum=3i 0"}, show(rec.Points)); diff != "" {
		t.Errorf("Idle points (-want +got):\n%s", diff)
	}
	if st := ex.Stats().Rules[0]; st.Late != 0 {
		t.Errorf("%d late", st.Late)
	}

	// The longest timeout a config takes (2562047h) plus a window does
	// not wrap around to a negative wait.
	ex, err = Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{aggRule(5*time.Second, 0)}, Pending: math.MaxInt64 - time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	rec = pipeline.Record{}
	ex.Extract(&lines[0], &rec)
	ex.Idle(read.Add(time.Hour), &rec)
	if len(rec.Points) != 0 {
		t.Errorf("Idle an hour after a line, with a timeout of centuries: %q", show(rec.Points))
	}
}

// TestReloadPending: a reload that changes a source's Pending (its
// multiline timeout) changes how long Idle waits.
func TestReloadPending(t *testing.T) {
	conf := func(pending time.Duration) Config {
		return Config{Sources: []Source{{Name: "s", Rules: []Rule{aggRule(5*time.Second, 0)}, Pending: pending}}}
	}
	ex, err := Compile(conf(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	next, err := Compile(conf(0))
	if err != nil {
		t.Fatal(err)
	}
	var rec pipeline.Record
	l := fileLines(1, "t=1 s=a v=1")[0]
	ex.Extract(&l, &rec)
	ex.swap(next, &rec)
	ex.Idle(l.ReadAt.Add(15*time.Second), &rec)
	if diff := cmp.Diff([]string{"r,s=a count=1i,v_sum=1i 0"}, show(rec.Points)); diff != "" {
		t.Errorf("Idle after the reload to no timeout (-want +got):\n%s", diff)
	}
}
