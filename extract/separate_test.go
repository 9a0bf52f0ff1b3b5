package extract

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// stamped is a point to stamp in a test: its series (one tag value) and own
// time.
type stamped struct {
	series string
	t      int64
}

// stampAll stamps pts in order with a fresh separator, as one file.
func stampAll(pts []stamped) (times []int64, how []placement) {
	sep := newSeparator()
	point := pipeline.Point{Measurement: "m", Tags: []pipeline.Tag{{Key: "k"}}}
	for _, p := range pts {
		point.Tags[0].Value = p.series
		g, h := sep.stamp(pipeline.FileID{}, &point, p.t)
		times, how = append(times, g), append(how, h)
	}
	return times, how
}

// ideal is the separation rule with unbounded memory: the first time at or
// after t no earlier point of the series was given.
func ideal(pts []stamped) []int64 {
	taken := map[stamped]bool{}
	var out []int64
	for _, p := range pts {
		g := p.t
		for taken[stamped{p.series, g}] {
			g++
		}
		taken[stamped{p.series, g}] = true
		out = append(out, g)
	}
	return out
}

// checkSeparated fails unless no time is given twice in a series, no point
// moves back and nothing is placed nowhere. It returns how many points were
// displaced.
func checkSeparated(t *testing.T, pts []stamped) (times []int64, displacedPoints int) {
	t.Helper()
	times, how := stampAll(pts)
	given := make(map[stamped]int, len(pts))
	for i, g := range times {
		if g < pts[i].t {
			t.Fatalf("point %d moved back from %d to %d", i, pts[i].t, g)
		}
		switch how[i] {
		case noTime:
			t.Fatalf("point %d (own time %d) got no time", i, pts[i].t)
		case displaced:
			displacedPoints++
		}
		k := stamped{pts[i].series, g}
		if j, dup := given[k]; dup {
			t.Fatalf("series %s time %d given to points %d and %d", pts[i].series, g, j, i)
		}
		given[k] = i
	}
	return times, displacedPoints
}

// TestSeparatorIsIdeal stamps random points (few series, times repeating,
// going back up to 20 s, and nanoseconds apart): within the limits the times
// are exactly those of the rule with unbounded memory.
func TestSeparatorIsIdeal(t *testing.T) {
	t.Parallel()
	for seed := uint64(0); seed < 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		var pts []stamped
		base := int64(1_700_000_000_000_000_000)
		for i := 0; i < 5000; i++ {
			tm := base + int64(rng.IntN(20))*1e9 // whole seconds, out of order
			switch rng.IntN(4) {
			case 0:
				tm += int64(rng.IntN(5)) // nanoseconds apart
			case 1:
				base += 1e9 // time moves on
			}
			pts = append(pts, stamped{series: fmt.Sprint("s", rng.IntN(3)), t: tm})
		}
		got, displaced := checkSeparated(t, pts)
		if displaced != 0 {
			t.Fatalf("seed %d: %d points displaced within the limits", seed, displaced)
		}
		want := ideal(pts)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("seed %d: point %d (series %s, own time %d) at %d, want %d", seed, i, pts[i].series, pts[i].t, got[i], want[i])
			}
		}
	}
}

// TestSeparatorPastMaxSpans: a series going back further than maxSpans
// distinct times finds those times widened; its points are displaced and
// counted, never written onto a taken time.
func TestSeparatorPastMaxSpans(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var pts []stamped
	for i := 0; i < 20000; i++ {
		// Nanosecond times, each its own span, going back up to 4*maxSpans.
		pts = append(pts, stamped{series: fmt.Sprint("s", rng.IntN(2)), t: int64(i*3 - rng.IntN(4*maxSpans)*3)})
	}
	times, displaced := checkSeparated(t, pts)
	if displaced == 0 {
		t.Fatal("no point displaced: the test did not pass maxSpans")
	}
	if again, _ := stampAll(pts); !slices.Equal(times, again) {
		t.Error("a second run gave other times")
	}
	t.Logf("%d of %d points displaced", displaced, len(pts))
}

// TestSeparatorPastMaxFileSpans: more series than one file keeps forget the
// least recently stamped; from then on a series (forgotten and back, or new)
// is written after every time given to a forgotten series.
func TestSeparatorPastMaxFileSpans(t *testing.T) {
	t.Parallel()
	const sec = int64(1e9)
	// Series of one span each: the file forgets when series number
	// forgetAt (from 0) comes.
	const forgetAt = maxFileSpans / (1 + seriesSpans)
	const n = forgetAt + 10
	var pts []stamped
	for i := 0; i < n; i++ { // one point per series, one second
		pts = append(pts, stamped{series: strconv.Itoa(i), t: sec})
	}
	for i := 0; i < 10; i++ { // the first series, forgotten, come back
		pts = append(pts, stamped{series: strconv.Itoa(i), t: sec})
	}
	pts = append(pts, stamped{series: "0", t: 2 * sec}) // after everything forgotten: exact
	times, displaced := checkSeparated(t, pts)
	// The series after forgetAt and the 10 that come back are displaced.
	if want := n - 1 - forgetAt + 10; displaced != want {
		t.Errorf("%d points displaced, want %d", displaced, want)
	}
	if got := times[len(times)-1]; got != 2*sec {
		t.Errorf("a time after everything forgotten was moved to %d", got)
	}
}

// TestSeparatorBusyUnit is the review's reproduction: logs with minute and
// hour resolution, a million lines per unit, several series. Every point
// gets the ideal time (the unit's time, +1ns, +2ns, ... per series), so no
// two points of a series share one, and nothing is displaced.
func TestSeparatorBusyUnit(t *testing.T) {
	t.Parallel()
	for _, unit := range []time.Duration{time.Minute, time.Hour} {
		t.Run(unit.String(), func(t *testing.T) {
			base := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC).UnixNano()
			series := []string{"200", "500", "404"}
			var pts []stamped
			for i := range 1_000_000 {
				pts = append(pts, stamped{series: series[i%len(series)], t: base})
			}
			for i := range 30 { // the next unit starts afresh
				pts = append(pts, stamped{series: series[i%len(series)], t: base + int64(unit)})
			}
			times, how := stampAll(pts)
			for i, g := range times {
				u, n := i/1_000_000, i%1_000_000
				if want := base + int64(u)*int64(unit) + int64(n/len(series)); g != want || how[i] != placed {
					t.Fatalf("point %d at %d (%v), want %d", i, g, how[i], want)
				}
			}
		})
	}
}

// TestSeparatorStorableEnd: a nudge never passes the last time InfluxDB
// stores; a point that finds no free time is placed nowhere.
func TestSeparatorStorableEnd(t *testing.T) {
	sep := newSeparator()
	p := pipeline.Point{Measurement: "m"}
	for i, want := range []struct {
		t   int64
		got int64
		how placement
	}{
		{maxStorable - 1, maxStorable - 1, placed},
		{maxStorable - 1, maxStorable, placed},
		{maxStorable - 1, 0, noTime},
		{maxStorable, 0, noTime},
		{minStorable, minStorable, placed},
		{minStorable, minStorable + 1, placed},
	} {
		got, how := sep.stamp(pipeline.FileID{}, &p, want.t)
		if got != want.got || how != want.how {
			t.Errorf("stamp %d (own time %d) = %d, %v; want %d, %v", i, want.t, got, how, want.got, want.how)
		}
	}
}

// TestSeparatorForgottenOutlier: a series forgotten with one time far ahead
// does not displace the series that start after it at ordinary times; only
// a point at that very time is displaced.
func TestSeparatorForgottenOutlier(t *testing.T) {
	t.Parallel()
	const base, far = int64(1e18), int64(4e18) // 2001 and 2096
	pts := []stamped{{series: "x", t: far}}
	for i := range int64(maxFileSpans/(1+seriesSpans) + 1000) { // one point per series, time going on
		pts = append(pts, stamped{series: strconv.FormatInt(i, 10), t: base + i*1000})
	}
	pts = append(pts, stamped{series: "x", t: far})
	times, displaced := checkSeparated(t, pts)
	if displaced != 1 {
		t.Errorf("%d points displaced, want 1: the forgotten outlier's time taken again", displaced)
	}
	if got := times[len(times)-1]; got != far+1 {
		t.Errorf("the outlier's time again went to %d, want %d", got, far+1)
	}
}

// TestRunReleasesFile: the EOF marker of a released file frees its
// separator state; the marker and replayed lines yield no record.
func TestRunReleasesFile(t *testing.T) {
	ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{{Name: "r", Mode: Logfmt,
		Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	ex.SetRecycler(pipeline.NewRecycler(4))
	a, b := pipeline.FileID{Ino: 1}, pipeline.FileID{Ino: 2}
	in := make(chan pipeline.Line, 8)
	out := make(chan pipeline.Record, 8)
	for _, l := range []pipeline.Line{
		{Origin: pipeline.Origin{File: a, Offset: 4}, Source: "s", Text: "v=1"},
		{Origin: pipeline.Origin{File: b, Offset: 4}, Source: "s", Text: "v=2", Replay: true},
		{Origin: pipeline.Origin{File: a, Offset: 4}, Source: "s", EOF: true},
	} {
		in <- l
	}
	close(in)
	if err := ex.Run(t.Context(), in, out); err != nil {
		t.Fatal(err)
	}
	var recs []pipeline.Record
	for r := range out {
		recs = append(recs, r)
	}
	if len(recs) != 1 || recs[0].File != a {
		t.Errorf("records %+v, want only the first line's", recs)
	}
	if _, ok := ex.sep.files[a]; ok {
		t.Error("the released file's state is kept")
	}
	if _, ok := ex.sep.files[b]; !ok {
		t.Error("the replayed line left no state")
	}
}

// TestReleaseForgetsTimes: a file released and then read again from its
// start (a test run over the same file twice, an archive backfilled again)
// gets its points' own times again: nothing of its old state is left, the
// separator's memo of the latest file included.
func TestReleaseForgetsTimes(t *testing.T) {
	s := newSeparator()
	a, b := pipeline.FileID{Ino: 1}, pipeline.FileID{Ino: 2}
	p := &pipeline.Point{Measurement: "m"}
	stamp := func(f pipeline.FileID) int64 {
		got, _ := s.stamp(f, p, 100)
		return got
	}
	if got := []int64{stamp(a), stamp(a), stamp(b)}; !slices.Equal(got, []int64{100, 101, 100}) {
		t.Fatalf("times %v, want [100 101 100]", got)
	}
	s.release(a)
	s.release(b)
	if got := []int64{stamp(b), stamp(a), stamp(a)}; !slices.Equal(got, []int64{100, 100, 101}) {
		t.Errorf("after release: times %v, want [100 100 101]", got)
	}
}
