package sink

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// hangingDst records each write like fakeDst and then answers only when
// the write's context ends, like a server that accepts the connection and
// never replies.
type hangingDst struct{ *fakeDst }

func (h hangingDst) WriteBatch(ctx context.Context, batch []byte) error {
	h.fakeDst.WriteBatch(ctx, batch)
	<-ctx.Done()
	return &WriteError{Err: ctx.Err()}
}

// stopAfter runs a Sink on dst in the synctest bubble of t, gives it recs,
// cancels it after d and returns the Sink, how long after the start Run
// returned, and Run's error.
func stopAfter(t *testing.T, cfg Config, dst Destination, d time.Duration, recs ...pipeline.Record) (s *Sink, after time.Duration, err error) {
	t.Helper()
	s, err = New(cfg, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.jitter = func(time.Duration) time.Duration { return 0 }
	start := time.Now()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	in := make(chan pipeline.Record, len(recs))
	for _, r := range recs {
		in <- r
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx, in, nil) }()
	time.Sleep(d) // bubble time: the writes before it happen at known times
	cancel()
	err = <-errc
	return s, time.Since(start), err
}

// After ctx ends, the final flush makes exactly one write, without retry,
// split or backoff, however the write fails; only a write that gets no
// answer takes the whole Timeout.
func TestRunFinalFlushOneAttempt(t *testing.T) {
	fail := func(status int) func(int) error {
		return func(int) error { return &WriteError{StatusCode: status} }
	}
	// Writes before the cancel at 5s: the batch is due at 1s, then
	// retried after 0.5s, 1s and 2s (backoff with jitter 0).
	retried := []time.Duration{time.Second, 1500 * time.Millisecond, 2500 * time.Millisecond, 4500 * time.Millisecond}
	once := append(slices.Clone(retried), 5*time.Second) // and the last attempt at the cancel
	tests := []struct {
		name      string
		fail      func(n int) error
		hang      bool
		wantAt    []time.Duration // when each write happened
		wantAfter time.Duration   // when Run returned
	}{
		{
			name:      "503",
			fail:      fail(503),
			wantAt:    once,
			wantAfter: 5 * time.Second,
		},
		{
			name:      "connection refused",
			fail:      func(int) error { return &WriteError{Err: errors.New("connection refused")} },
			wantAt:    once,
			wantAfter: 5 * time.Second,
		},
		{
			// A 413 would split the batch: the last attempt sends it
			// whole, once.
			name: "413 at the last attempt",
			fail: func(n int) error {
				if n < len(retried) {
					return &WriteError{StatusCode: 503}
				}
				return &WriteError{StatusCode: 413}
			},
			wantAt:    once,
			wantAfter: 5 * time.Second,
		},
		{
			// The write in flight at 5s is cancelled; the last one waits
			// for the whole Timeout.
			name:      "no answer",
			hang:      true,
			wantAt:    []time.Duration{time.Second, 5 * time.Second},
			wantAfter: 8 * time.Second,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := newFakeDst()
				fake.fail = tc.fail
				var dst Destination = fake
				if tc.hang {
					dst = hangingDst{fake}
				}
				s, after, err := stopAfter(t, Config{Timeout: 3 * time.Second}, dst, 5*time.Second,
					record("f", 10, point("a", 1), point("b", 2)))
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run: %v, want context.Canceled", err)
				}
				if after != tc.wantAfter {
					t.Errorf("Run returned after %v, want %v", after, tc.wantAfter)
				}
				var at []time.Duration
				for _, w := range fake.Writes() {
					at = append(at, w.At)
				}
				if diff := cmp.Diff(tc.wantAt, at); diff != "" {
					t.Errorf("write times (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(Delivered{}, s.Delivered()); diff != "" {
					t.Errorf("Delivered (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// Delivered counts the records of finished batches, checkpoints included,
// and every point written or set aside, those of a half-finished split
// batch included.
func TestDelivered(t *testing.T) {
	// big makes a point of more than a quarter of splitAboveBytes.
	big := func(name string) pipeline.Point {
		p := point(name, 1)
		p.Tags = []pipeline.Tag{{Key: "k", Value: strings.Repeat("x", splitAboveBytes/4)}}
		return p
	}
	invalid := pipeline.Point{Measurement: "x", Fields: []pipeline.Field{{Key: "v", Value: pipeline.FloatValue(nan())}}}
	recs := []pipeline.Record{
		record("f", 10, point("a", 1)),
		record("f", 20), // checkpoint
		record("f", 30, point("b", 2), point("c", 3)),
		record("g", 5, point("d", 4)),
	}
	tests := []struct {
		name string
		recs []pipeline.Record
		fail func(n int) error
		want Delivered
	}{
		{
			name: "written",
			recs: recs,
			want: Delivered{Records: 4, Points: 4},
		},
		{
			name: "refused: set aside",
			recs: recs,
			fail: func(int) error { return &WriteError{StatusCode: 400} },
			want: Delivered{Records: 4, Points: 4},
		},
		{
			name: "a record of no line counts its points, not a record",
			recs: []pipeline.Record{{Points: []pipeline.Point{point("w", 1)}}, record("f", 10, point("a", 1))},
			want: Delivered{Records: 1, Points: 2},
		},
		{
			name: "invalid point dropped on arrival",
			recs: []pipeline.Record{record("f", 10, invalid, point("a", 1))},
			want: Delivered{Records: 1, Points: 2},
		},
		{
			name: "not written",
			recs: recs,
			fail: func(int) error { return &WriteError{StatusCode: 503} },
			want: Delivered{},
		},
		{
			// 413 splits a batch over splitAboveBytes in two; the first
			// half is written, the second never is: its records are not
			// finished.
			name: "half of a split batch",
			recs: []pipeline.Record{
				record("f", 10, big("a")),
				record("f", 20), // checkpoint
				record("f", 30, big("b"), big("c")),
				record("g", 5, big("d")),
			},
			fail: func(n int) error {
				switch n {
				case 0:
					return &WriteError{StatusCode: 413}
				case 1:
					return nil
				}
				return &WriteError{StatusCode: 503}
			},
			want: Delivered{Records: 0, Points: 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dst := newFakeDst()
				dst.fail = tc.fail
				s, _, _ := stopAfter(t, Config{Timeout: time.Second}, dst, 10*time.Second, tc.recs...)
				if diff := cmp.Diff(tc.want, s.Delivered()); diff != "" {
					t.Errorf("Delivered (-want +got):\n%s", diff)
				}
			})
		})
	}
}
