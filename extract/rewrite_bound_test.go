package extract

import (
	"runtime"
	"strings"
	"testing"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// TestRewriteOutputIsBounded: a regex that matches the empty string (or
// often) with a longer replace would turn one long line into a value
// hundreds of times its size, built in full before the series key bound
// drops the point (a 4 MiB line and a 256-byte replace: 3.8 GB). A result
// whose worst case is over maxRewriteBytes is not built: the tag is left
// out and counted as missing.
func TestRewriteOutputIsBounded(t *testing.T) {
	ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{
		rewriteRule(Rewrite{Name: "v", Regex: `a*`, Replace: strings.Repeat("x", 256)}),
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	value := "/" + strings.Repeat("b", 256<<10) // 256 KiB, far below max_line_bytes
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var rec pipeline.Record
	ex.Extract(&pipeline.Line{Source: "s", Text: "1 " + value}, &rec)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
		t.Errorf("one line of %d KiB allocated %d MiB in a rewrite whose point is dropped anyway (series key over %d bytes)",
			len(value)>>10, n>>20, maxSeriesBytes)
	}
	if st := ex.Stats().Rules[0]; st.Missing != 1 {
		t.Errorf("missing = %d, want 1: the tag left out is counted", st.Missing)
	}
}
