package extract

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unsafe"
	"weak"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// keepCases are rules of each mode whose points keep strings read from the
// line (two tags and a string field), with a line maker for each.
var keepCases = []struct {
	name string
	rule Rule
	line func(i int, pad string) string
}{
	{"regex", Rule{Name: "r", Mode: Regex, Time: unixTime,
		Pattern: `^t=(?P<t>\d+) method=(?P<method>\S+) status=(?P<status>\d+) msg=(?P<msg>\S+)`,
		Tags:    []TagSpec{{"method", "method"}, {"status", "status"}},
		Fields:  []FieldSpec{{Key: "msg", From: "msg", Type: TypeString}}},
		func(i int, pad string) string {
			return fmt.Sprintf("t=%d method=GET%d status=%d msg=m%d pad=%s", 100+i, i, 200+i, i, pad)
		}},
	{"logfmt", Rule{Name: "r", Mode: Logfmt, Time: unixTime,
		Tags:   []TagSpec{{"method", "method"}, {"status", "status"}},
		Fields: []FieldSpec{{Key: "msg", From: "msg", Type: TypeString}}},
		func(i int, pad string) string {
			return fmt.Sprintf("t=%d method=GET%d status=%d msg=m%d pad=%s", 100+i, i, 200+i, i, pad)
		}},
	{"json", Rule{Name: "r", Mode: JSON, Time: unixTime,
		Tags:   []TagSpec{{"method", "method"}, {"status", "status"}},
		Fields: []FieldSpec{{Key: "msg", From: "msg", Type: TypeString}}},
		func(i int, pad string) string {
			return fmt.Sprintf(`{"t":%d,"method":"GET%d","status":%d,"msg":"m%d","pad":"%s"}`, 100+i, i, 200+i, i, pad)
		}},
}

// TestPointsDoNotKeepTheirLine: a record waiting for the sink holds what its
// points keep, not its line. Lines of 64 KiB become records that stay alive;
// once the lines themselves are dropped, the garbage collector must be able
// to free every one of them, and the points must still read right. Records
// without points (no rule took the line, or its point had no fields) are
// checked too.
func TestPointsDoNotKeepTheirLine(t *testing.T) {
	const n = 50
	pad := strings.Repeat("x", 64<<10)
	for _, c := range keepCases {
		t.Run(c.name, func(t *testing.T) {
			ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{c.rule}}}})
			if err != nil {
				t.Fatal(err)
			}
			var recs []pipeline.Record
			var freed []weak.Pointer[byte]
			var want []string
			extract := func(text string) {
				line := pipeline.Line{Origin: pipeline.Origin{Path: "f.log", Offset: int64(len(recs))}, Source: "s", Text: text}
				var rec pipeline.Record
				ex.Extract(&line, &rec)
				recs = append(recs, rec)
			}
			for i := range n {
				// A fresh allocation per line, as a tailer's would be.
				text := c.line(i, pad)
				freed = append(freed, weak.Make(unsafe.StringData(text)))
				extract(text)
				want = append(want, fmt.Sprintf("r,method=GET%d,status=%d msg=%q %d", i, 200+i, fmt.Sprintf("m%d", i), (100+i)*1e9))
				// Lines without points: one no rule takes, one whose
				// point has no fields.
				text = "nothing here " + pad
				freed = append(freed, weak.Make(unsafe.StringData(text)))
				extract(text)
				text = strings.Replace(c.line(i, pad), "msg", "gsm", 1)
				freed = append(freed, weak.Make(unsafe.StringData(text)))
				extract(text)
			}
			// The extractor may hold the line it read last.
			extract(c.line(n, "x"))
			runtime.GC()
			kept := 0
			for _, w := range freed {
				if w.Value() != nil {
					kept++
				}
			}
			if kept > 0 {
				t.Errorf("%d of %d lines of 64 KiB still in memory, held by their records", kept, len(freed))
			}
			var got []string
			for _, rec := range recs[:len(recs)-1] {
				got = append(got, show(rec.Points)...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("points (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPointsSurviveLaterLines: a point's strings are its own; extracting
// later lines (which reuse the JSON parser's buffer and the extractor's
// scratch space) must not change them.
func TestPointsSurviveLaterLines(t *testing.T) {
	for _, c := range keepCases {
		t.Run(c.name, func(t *testing.T) {
			ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{c.rule}}}})
			if err != nil {
				t.Fatal(err)
			}
			var recs []pipeline.Record
			var want []string
			for i := range 2000 { // more than one slab's worth
				line := pipeline.Line{Origin: pipeline.Origin{Path: "f.log"}, Source: "s", Text: c.line(i, strings.Repeat("y", i%100))}
				var rec pipeline.Record
				ex.Extract(&line, &rec)
				recs = append(recs, rec)
				want = append(want, fmt.Sprintf("r,method=GET%d,status=%d msg=%q %d", i, 200+i, fmt.Sprintf("m%d", i), (100+i)*1e9))
			}
			var got []string
			for _, rec := range recs {
				got = append(got, show(rec.Points)...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("points (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDroppedPointLetsGo: a point dropped while being made (here for having
// no fields) leaves nothing behind in the record's spare capacity, which the
// recycler would otherwise carry around.
func TestDroppedPointLetsGo(t *testing.T) {
	c := keepCases[1]
	ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{c.rule}}}})
	if err != nil {
		t.Fatal(err)
	}
	line := pipeline.Line{Origin: pipeline.Origin{Path: "f.log"}, Source: "s", Text: "t=1 method=GET status=200"}
	var rec pipeline.Record
	ex.Extract(&line, &rec)
	if len(rec.Points) != 0 || cap(rec.Points) == 0 {
		t.Fatalf("want a dropped point in spare capacity, got %d points, cap %d", len(rec.Points), cap(rec.Points))
	}
	for _, p := range rec.Points[:cap(rec.Points)] {
		for _, tag := range p.Tags[:cap(p.Tags)] {
			if tag != (pipeline.Tag{}) {
				t.Errorf("spare capacity keeps tag %+v", tag)
			}
		}
	}
}

// TestKeeperSlabs drives keep past a slab's end and past maxSlabValue: each
// copy is equal to its original and shares no memory with it, and values
// are packed into slabs, not allocated one by one.
func TestKeeperSlabs(t *testing.T) {
	var k keeper
	src := strings.Repeat("abcdefghij", 2*slabBytes/10)
	var kept []string
	for _, n := range []int{0, 1, 7, maxSlabValue, maxSlabValue + 1, slabBytes - 3, 100} {
		for range slabBytes / max(n, 1) * 2 {
			s := src[:n]
			c := k.keep(s)
			if c != s {
				t.Fatalf("keep of %d bytes = %d bytes, different", n, len(c))
			}
			if n > 0 && unsafe.StringData(c) == unsafe.StringData(s) {
				t.Fatalf("keep of %d bytes returned the same memory", n)
			}
			kept = append(kept, c)
		}
	}
	for i, c := range kept { // nothing was overwritten later
		if c != src[:len(c)] {
			t.Fatalf("kept string %d changed", i)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() { k.keep("GET") })
	if allocs > 0.01 {
		t.Errorf("keep of a short value allocates %.3f times per call, want one slab per %d bytes", allocs, slabBytes)
	}
}
