package tailer

import (
	"context"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// TestScanBorrowed: borrowed lines read the same as copied ones while emit
// runs, also when a line is gathered from several reads, and cost no
// allocation per line.
func TestScanBorrowed(t *testing.T) { // not parallel: AllocsPerRun
	in := strings.Repeat("first line\nsecond, longer line\r\n\n", 3000) + "last"
	collect := func(borrowed, half bool) []pipeline.Line {
		var got []pipeline.Line
		si := scanInput(0)
		si.Borrowed = borrowed
		src := io.Reader(strings.NewReader(in))
		if half {
			src = iotest.HalfReader(src)
		}
		if _, err := Scan(t.Context(), src, si, func(l pipeline.Line) error {
			l.Text = strings.Clone(l.Text)
			got = append(got, l)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, half := range []bool{false, true} {
		want, got := collect(false, half), collect(true, half)
		if len(want) != 9001 {
			t.Fatalf("%d lines, want 9001", len(want))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("half reads %v: borrowed lines differ (-copied +borrowed):\n%s", half, diff)
		}
	}

	allocs := func(lines int) float64 {
		text := strings.Repeat("a line of a log\n", lines)
		si := scanInput(0)
		si.Borrowed = true
		return testing.AllocsPerRun(5, func() {
			Scan(context.Background(), strings.NewReader(text), si, func(pipeline.Line) error { return nil })
		})
	}
	if few, many := allocs(10), allocs(10000); many > few {
		t.Errorf("Scan with Borrowed made %v allocations for 10,000 lines, %v for 10: it allocates per line", many, few)
	}
}
