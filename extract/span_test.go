package extract

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/tailer"
)

// TestAggregateHoldsAtSpan: the first line a run reads of a file (here
// after a restart resumed it at from) opens a window, which holds the
// file exactly where that line starts, also when its bytes are more than
// its text and a "\n": a "\r\n" line, a multiline record of "\r\n" lines
// with a too-long line dropped inside it. The hold is where the next
// restart takes the lines before as delivered, so inside a record it
// would split it (TestAggregateCRLFMultilineRestart).
func TestAggregateHoldsAtSpan(t *testing.T) {
	rule := aggRule(0, 0)
	rule.Mode, rule.Pattern = Regex, `^t=(?P<t>\d+) s=(?P<s>\w+) v=(?P<v>\d+)`
	before := "t=0 s=a v=1\r\n" // read and delivered before the restart
	for _, tc := range []struct {
		name string
		rest string // the file after before
		m    *tailer.Multiline
	}{
		{name: "crlf", rest: "t=1 s=a v=1\r\nt=2 s=a v=1\r\n"},
		{
			name: "multiline crlf",
			rest: "t=1 s=a v=1\r\n  at x\r\n" + strings.Repeat("y", 40) + "\r\n  at z\r\nt=2 s=a v=1\r\n",
			m:    &tailer.Multiline{Start: regexp.MustCompile(`^t=`)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := compileOne(t, rule)
			from := int64(len(before))
			in := tailer.Input{Source: "s", Path: "f.log", File: pipeline.FileID{Ino: 1}, Multiline: tc.m, MaxLineBytes: 30, Now: func() time.Time { return time.Unix(1000, 0) }}
			var holds []int64
			_, err := tailer.Scan(t.Context(), strings.NewReader(tc.rest), in, func(l pipeline.Line) error {
				l.Offset += from // read from from, as a restart reads
				var rec pipeline.Record
				ex.Extract(&l, &rec)
				if len(rec.Points) > 0 || !rec.Hold.Held {
					t.Fatalf("record of %q: points %q, hold %+v; want none, held", l.Text, show(rec.Points), rec.Hold)
				}
				holds = append(holds, rec.Hold.Hold)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// Both lines (records) are in the window [0,10): held where
			// the first starts.
			if len(holds) != 2 || holds[0] != from || holds[1] != from {
				t.Errorf("holds %v, want [%d %d]", holds, from, from)
			}
		})
	}
}
