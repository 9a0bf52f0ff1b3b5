package sink

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// shortWriter fails the way a full disk does: each Write takes the next
// step, writes at most n bytes of what it was given and returns err. Once
// the steps are used up it writes everything.
type shortWriter struct {
	out   bytes.Buffer
	steps []shortStep
}

type shortStep struct {
	n   int
	err error
}

func (w *shortWriter) Write(p []byte) (int, error) {
	if len(w.steps) == 0 {
		return w.out.Write(p)
	}
	st := w.steps[0]
	w.steps = w.steps[1:]
	n := min(st.n, len(p))
	w.out.Write(p[:n])
	return n, st.err
}

// A write that stops part-way is retried from where it stopped: every line
// comes out once and whole, however the failures fall.
func TestStreamResumesAfterShortWrite(t *testing.T) {
	a, b, c := line("a", 1), line("b", 2), line("c", 3)
	tests := []struct {
		name     string
		steps    []shortStep
		failures uint64
	}{
		{name: "disk full mid-line", steps: []shortStep{{5, syscall.ENOSPC}}, failures: 1},
		{name: "disk full at a line end", steps: []shortStep{{len(a), syscall.ENOSPC}}, failures: 1},
		{name: "nothing written", steps: []shortStep{{0, syscall.ENOSPC}}, failures: 1},
		{
			name:     "several partial writes of one batch",
			steps:    []shortStep{{3, syscall.ENOSPC}, {0, syscall.ENOSPC}, {len(a), syscall.ENOSPC}, {2, syscall.EIO}},
			failures: 4,
		},
		{name: "short write without an error", steps: []shortStep{{4, nil}}, failures: 1},
		{
			name: "the second batch fails too",
			// The first batch (a, b) goes through after one failure; the
			// second (c) fails part-way once.
			steps:    []shortStep{{len(a) + 1, syscall.ENOSPC}, {len(b), nil}, {2, syscall.ENOSPC}},
			failures: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &shortWriter{steps: tc.steps}
			s, err := New(Config{BatchSize: 2, FlushInterval: time.Hour}, NewStream(w), nil)
			if err != nil {
				t.Fatal(err)
			}
			s.wait = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
			acks, err := runAll(t, s,
				record("f", 1, point("a", 1)), record("f", 2, point("b", 2)), record("f", 3, point("c", 3)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(a+b+c, w.out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]pipeline.Ack{ack("f", 2), ack("f", 3)}, acks); diff != "" {
				t.Errorf("acks (-want +got):\n%s", diff)
			}
			want := Stats{PointsWritten: 3, BatchesWritten: 2, Retries: tc.failures, WriteErrors: WriteErrors{Network: tc.failures}}
			if diff := cmp.Diff(want, s.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

// A batch other than the one that failed (the Sink never sends one, but
// the Stream does not rely on it) starts on a line of its own.
func TestStreamNewBatchAfterShortWrite(t *testing.T) {
	w := &shortWriter{steps: []shortStep{{5, syscall.ENOSPC}}}
	st := NewStream(w)
	a, b := line("a", 1), line("b", 2)
	if err := st.WriteBatch(t.Context(), []byte(a)); err == nil {
		t.Fatal("first write: no error")
	}
	if err := st.WriteBatch(t.Context(), []byte(b)); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteBatch(t.Context(), []byte(a)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a[:5]+"\n"+b+a, w.out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
