package extract

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// TestReloadMarker: the rules of a reload marker apply from the line after
// it, exactly, whatever the workers: rule "a" (unchanged) takes every line
// and keeps its counters, rule "b" (added) only the lines after the
// marker, source "gone" (removed) its lines before the marker, and source
// "new" (added) its lines after it; the removed aggregate rule's open
// window is written at the marker.
func TestReloadMarker(t *testing.T) {
	a := Rule{Name: "a", Mode: Logfmt, Time: unixTime, Fields: []FieldSpec{{Key: "n", From: "n", Type: TypeInt}}}
	b := Rule{Name: "b", Mode: Logfmt, Time: unixTime, Fields: []FieldSpec{{Key: "n", From: "n", Type: TypeInt}, {Key: "m", From: "m", Type: TypeInt}}}
	agg := Rule{Name: "agg", Mode: Logfmt, Time: unixTime, Fields: []FieldSpec{{Key: "n", From: "n", Type: TypeInt}},
		Aggregate: &Aggregate{Window: time.Hour, Stats: []string{"count"}}}
	before := Config{Sources: []Source{
		{Name: "s", Rules: []Rule{a, agg}},
		{Name: "gone", Rules: []Rule{a}},
	}}
	after := Config{Sources: []Source{
		{Name: "new", Rules: []Rule{a}},
		{Name: "s", Rules: []Rule{a, b}},
	}}
	const n, at = 3000, 1234
	for _, workers := range []int{1, 2, 4} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			ex, err := Compile(before)
			if err != nil {
				t.Fatal(err)
			}
			ex.SetFeed(FeedFollowed)
			next, err := Compile(after)
			if err != nil {
				t.Fatal(err)
			}
			in := make(chan pipeline.Line, 64)
			out := make(chan pipeline.Record, 64)
			go func() {
				defer close(in)
				var off [3]int64
				for i := range n {
					if i == at {
						in <- pipeline.Line{Rules: next}
					}
					src, f := "s", 0
					switch {
					case i%5 == 1 && i < at:
						src, f = "gone", 1
					case i%5 == 1:
						src, f = "new", 2
					}
					text := fmt.Sprintf("t=%d n=%d m=1", 1_700_000_000+i, i)
					off[f] += int64(len(text)) + 1
					in <- pipeline.Line{Origin: pipeline.Origin{Path: src, Offset: off[f], File: pipeline.FileID{Ino: uint64(f + 1)}},
						Source: src, Text: text, ReadAt: time.Unix(1_700_000_000, 0)}
				}
			}()
			done := make(chan error, 1)
			go func() { done <- ex.RunParallel(context.Background(), in, out, workers) }()
			got := map[string][]int64{}
			for rec := range out {
				for _, p := range rec.Points {
					var v pipeline.Value
					for _, f := range p.Fields {
						if f.Key == "n" || f.Key == "count" || f.Key == "n_count" {
							v = f.Value
						}
					}
					n := v.Int()
					if v.Kind == pipeline.Float {
						n = int64(v.Float())
					}
					got[p.Measurement] = append(got[p.Measurement], n)
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			select {
			case <-next.Applied():
			default:
				t.Error("Applied not closed")
			}
			want := map[string][]int64{}
			wantLines := map[string]uint64{}
			for i := range n {
				want["a"] = append(want["a"], int64(i))
				switch {
				case i%5 != 1:
					wantLines["s"]++
				case i < at:
					wantLines["gone"]++
				default:
					wantLines["new"]++
				}
				if i >= at && i%5 != 1 {
					want["b"] = append(want["b"], int64(i))
				}
			}
			want["agg"] = []int64{int64(at) - int64(wantLines["gone"])}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("points by measurement (-want +got):\n%s", diff)
			}
			lines := map[string]uint64{}
			for _, s := range ex.Stats().Sources {
				lines[s.Source] += s.Lines
			}
			if !cmp.Equal(wantLines, lines) {
				t.Errorf("lines by source: want %v, got %v", wantLines, lines)
			}
		})
	}
}

// TestReloadFirstLine: a reload marker as the very first line reaches the
// finisher while workers may still be starting; the race detector (make
// test runs with -race) caught workers reading the rules' size and
// generation as the swap wrote them, when each made its state in its own
// goroutine.
func TestReloadFirstLine(t *testing.T) {
	a := Rule{Name: "a", Mode: Logfmt, Fields: []FieldSpec{{Key: "n", From: "n", Type: TypeInt}}}
	b := Rule{Name: "b", Mode: Logfmt, Fields: []FieldSpec{{Key: "n", From: "n", Type: TypeInt}, {Key: "m", From: "m", Type: TypeInt}}}
	for range 20 {
		ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{a}}}})
		if err != nil {
			t.Fatal(err)
		}
		next, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{a, b}}}})
		if err != nil {
			t.Fatal(err)
		}
		in := make(chan pipeline.Line, 2)
		in <- pipeline.Line{Rules: next}
		in <- pipeline.Line{Source: "s", Text: "n=1 m=2", Origin: pipeline.Origin{Path: "f", Offset: 8}}
		close(in)
		out := make(chan pipeline.Record, 4)
		if err := ex.RunParallel(context.Background(), in, out, 4); err != nil {
			t.Fatal(err)
		}
		points := 0
		for rec := range out {
			points += len(rec.Points)
		}
		if points != 2 {
			t.Fatalf("%d points from the line after the reload, want 2 (rules a and b)", points)
		}
	}
}
