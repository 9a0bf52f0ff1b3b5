package extract

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// windowSource is logfmt lines "t=SECONDS n=N" of one series.
var windowSource = Source{Rules: []Rule{{Name: "r", Mode: Logfmt, Time: unixTime,
	Fields: []FieldSpec{{Key: "n", From: "n", Type: TypeInt}}}}}

// TestWindowKeepsSeparation: a window keeps the points whose own time is
// inside it, with the times a run over every line gives them: the points
// before it still take their times.
func TestWindowKeepsSeparation(t *testing.T) {
	lines := []string{"t=10 n=1", "t=10 n=2", "t=11 n=3", "t=10 n=4", "t=11 n=5", "t=12 n=6"}
	all, _ := run(t, windowSource, lines...)
	src := windowSource
	src.Name = "s"
	ex, err := Compile(Config{Sources: []Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	ex.SetWindow(time.Unix(10, 1), time.Unix(12, 0)) // [10 s + 1 ns, 12 s)
	got := extractWith(t, ex, lines...)
	var want []string
	for _, p := range all {
		// Own times 11 s, and 10 s: n=2 and n=4 are written at 10 s + 1 and
		// + 2 ns, but their own time, 10 s, is before the window.
		if strings.Contains(p, " 11000000000") || strings.Contains(p, " 11000000001") {
			want = append(want, p)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("windowed points (-want +got):\n%s", diff)
	}
	if st := ex.Stats().Rules[0]; st.OutsideWindow != 4 || st.Points != 2 {
		t.Errorf("OutsideWindow %d, Points %d; want 4 and 2", st.OutsideWindow, st.Points)
	}
}

func TestLineTime(t *testing.T) {
	src := Source{Name: "s", Rules: []Rule{
		{Name: "untimed", Mode: Logfmt, Fields: []FieldSpec{{Key: "n", From: "n", Type: TypeInt}}},
		{Name: "filtered", Mode: Logfmt, Time: &Time{From: "u", Layout: "unix"}, Require: []Require{{Name: "k", Op: Equals, Value: "yes"}},
			Fields: []FieldSpec{{Key: "n", From: "n", Type: TypeInt}}},
		windowSource.Rules[0],
	}}
	ex, err := Compile(Config{Sources: []Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text string
		want int64 // seconds; -1 for none
	}{
		{"t=10 n=1", 10},
		{"u=5 t=10 n=1", 10},       // the require of "filtered" does not hold
		{"u=5 t=10 k=yes n=1", 5},  // "filtered" comes first
		{"n=1", -1},                // no time
		{"t=bad n=1", -1},          // a time that does not parse
		{"u=bad k=yes t=7 n=1", 7}, // the next rule's
	} {
		got, ok := ex.LineTime("s", tc.text, time.Now())
		if tc.want < 0 {
			if ok {
				t.Errorf("%q: got %v, want none", tc.text, got)
			}
			continue
		}
		if !ok || !got.Equal(time.Unix(tc.want, 0)) {
			t.Errorf("%q: got %v %v, want %d s", tc.text, got, ok, tc.want)
		}
	}
	if _, ok := ex.LineTime("nosuch", "t=1", time.Now()); ok {
		t.Error("a source without rules gave a time")
	}
	if st := ex.Stats(); slices.ContainsFunc(st.Rules, func(r RuleStats) bool { return r.Taken+r.NotTaken+r.Points > 0 }) {
		t.Errorf("LineTime counted: %+v", st.Rules)
	}
}

// TestWindowBeyondNanos: bounds outside what Unix nanoseconds hold (an
// open-ended -until 9999-12-31) keep every point instead of wrapping.
func TestWindowBeyondNanos(t *testing.T) {
	src := windowSource
	src.Name = "s"
	ex, err := Compile(Config{Sources: []Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	ex.SetWindow(time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))
	if got := extractWith(t, ex, "t=10 n=1", "t=4000000000 n=2"); len(got) != 2 {
		t.Errorf("got %v, want both points", got)
	}
}
