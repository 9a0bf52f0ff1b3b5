package extract

import (
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// adoptionRules compiles source "s" with the aggregate rule "r" (windows of
// 10 s, lateness 2 s) and the per-line rule "p", both on "t=SECONDS s=TAG
// v=INT".
func adoptionRules(t *testing.T) *Extractor {
	t.Helper()
	perLine := Rule{Name: "p", Mode: Logfmt, Time: unixTime, Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}}
	ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{aggRule(2*time.Second, 0), perLine}}}})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// TestAdoptionRun: under FeedFollowed (run), an Adopted line (new, or
// replayed after a restart) leaves to backfill every window of the
// aggregate rules that starts at or before its own: run writes none of
// them, counts their lines and says so once; the later windows and every
// per-line point are written as usual. Without the flag, the windows are
// written (partial: their lines before the file's start are not run's).
func TestAdoptionRun(t *testing.T) {
	texts := []string{"t=15 s=a v=1", "t=12 s=a v=2", "t=25 s=a v=4", "t=5 s=a v=32", "t=31 s=a v=8", "t=45 s=a v=16"}
	perLine := []string{"p v=1i 15000000000", "p v=2i 12000000000", "p v=4i 25000000000", "p v=32i 5000000000", "p v=8i 31000000000", "p v=16i 45000000000"}
	later := []string{"r,s=a count=1i,v_sum=4i 20000000000", "r,s=a count=1i,v_sum=8i 30000000000", "r,s=a count=1i,v_sum=16i 40000000000"}
	tests := []struct {
		name     string
		adopted  bool
		replayed int // the first lines are replayed (a restart)
		want     []string
		left     uint64
	}{
		{"adopted", true, 0, append(append([]string(nil), perLine...), later...), 3},
		{"adopted and replayed after a restart", true, 2, append(append([]string(nil), perLine[2:]...), later...), 1},
		{"not adopted", false, 0, []string{
			perLine[0], perLine[1], perLine[2], "r,s=a count=2i,v_sum=3i 10000000000",
			perLine[3], // its window [0,10) closed (by t=15 less 2 s): late
			perLine[4], perLine[5], "r,s=a count=1i,v_sum=4i 20000000000",
			"r,s=a count=1i,v_sum=8i 30000000000", "r,s=a count=1i,v_sum=16i 40000000000",
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logCounts{n: map[string]int{}}
			ex := adoptionRules(t)
			ex.SetLogger(slog.New(logs))
			ex.SetFeed(FeedFollowed)
			lines := fileLines(1, texts...)
			lines[0].Adopted = tc.adopted
			for i := range tc.replayed {
				lines[i].Replay = true
			}
			got := flushAll(t, ex, lines)
			if tc.adopted {
				// The order of per-line and window points is not the
				// point here: the windows come in order, after the lines.
				got = append(filterPrefix(got, "p "), filterPrefix(got, "r,")...)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("points (-want +got):\n%s", diff)
			}
			if st := ex.Stats().Rules[0]; st.LeftToBackfill != tc.left {
				t.Errorf("LeftToBackfill = %d, want %d", st.LeftToBackfill, tc.left)
			}
			wantLogs := 0
			if tc.left > 0 {
				wantLogs = 1
			}
			if n := logs.n["INFO windows up to the one where the file was first followed from its end are left to backfill: lines before its start belong to them r"]; n != wantLogs {
				t.Errorf("logged %d times, want %d: %v", n, wantLogs, logs.n)
			}
		})
	}
}

func filterPrefix(pts []string, prefix string) []string {
	var out []string
	for _, p := range pts {
		if len(p) >= len(prefix) && p[:len(prefix)] == prefix {
			out = append(out, p)
		}
	}
	return out
}

// TestAdoptionBackfill: under FeedFinite (backfill), the lines after the
// file's start read again as AggregateOnly lines, the first one Adopted,
// fold only into the adoption windows (those that start at or before the
// window of the first one's time), which are then written whole with the
// lines before the start; they make no per-line point, are not late, and
// leave the collision separator alone.
func TestAdoptionBackfill(t *testing.T) {
	ex := adoptionRules(t)
	pre := []string{"t=8 s=a v=100", "t=11 s=a v=200", "t=14 s=a v=400"}
	post := []string{"t=15 s=a v=1", "t=12 s=a v=2", "t=25 s=a v=4", "t=31 s=a v=8"}
	lines := fileLines(1, append(append(append([]string(nil), pre...), post...), "t=15 s=a v=9")...)
	for i := len(pre); i < len(pre)+len(post); i++ {
		lines[i].AggregateOnly = true
	}
	lines[len(pre)].Adopted = true
	got := flushAll(t, ex, lines)
	want := []string{
		"p v=100i 8000000000", "p v=200i 11000000000", "p v=400i 14000000000", "r,s=a count=1i,v_sum=100i 0",
		// The line t=31 closes [10,20): whole, 200+400 before the start,
		// 1+2 after; [20,30) and [30,40) are run's.
		"r,s=a count=4i,v_sum=603i 10000000000",
		// A line of the file after them: its per-line point takes its own
		// time, the separator having seen nothing at 15 s; its window
		// is closed (late).
		"p v=9i 15000000000",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("points (-want +got):\n%s", diff)
	}
	st := ex.Stats()
	if r := st.Rules[0]; r.Late != 1 || r.Aggregated != 3 || r.LeftToBackfill != 0 {
		t.Errorf("aggregate rule: Late %d, Aggregated %d, LeftToBackfill %d; want 1, 3 (the lines before the start: AggregateOnly lines are run's, uncounted), 0", r.Late, r.Aggregated, r.LeftToBackfill)
	}
	if p := st.Rules[1]; p.Taken != 4 || p.Points != 4 {
		t.Errorf("per-line rule: Taken %d, Points %d; want 4, 4 (AggregateOnly lines uncounted)", p.Taken, p.Points)
	}
}

// TestAdoptionBackfillWithoutAdopted: AggregateOnly lines without an
// Adopted line before them fold into nothing.
func TestAdoptionBackfillWithoutAdopted(t *testing.T) {
	ex := adoptionRules(t)
	lines := fileLines(1, "t=15 s=a v=1", "t=12 s=a v=2")
	for i := range lines {
		lines[i].AggregateOnly = true
	}
	if got := flushAll(t, ex, lines); len(got) != 0 {
		t.Errorf("points: %q, want none", got)
	}
}
