package sink

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// The classification table: what each status calls for.
func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		want   class
	}{
		{0, classNetwork},
		{http.StatusMovedPermanently, classRedirect},
		{http.StatusFound, classRedirect},
		{http.StatusSeeOther, classRedirect},
		{http.StatusNotModified, classRedirect},
		{http.StatusTemporaryRedirect, classRedirect},
		{http.StatusPermanentRedirect, classRedirect},
		{http.StatusBadRequest, classRefused},
		{http.StatusUnauthorized, classConfig},
		{http.StatusForbidden, classConfig},
		{http.StatusNotFound, classConfig},
		{http.StatusMethodNotAllowed, classUnexpected},
		{http.StatusRequestTimeout, classServer},
		{http.StatusConflict, classUnexpected},
		{http.StatusGone, classUnexpected},
		{http.StatusRequestEntityTooLarge, classTooLarge},
		{http.StatusUnsupportedMediaType, classUnexpected},
		{http.StatusUnprocessableEntity, classRefused},
		{http.StatusTooEarly, classServer},
		{http.StatusTooManyRequests, classThrottled},
		{http.StatusInternalServerError, classServer},
		{http.StatusBadGateway, classServer},
		{http.StatusServiceUnavailable, classServer},
		{http.StatusGatewayTimeout, classServer},
		{599, classServer},
		{http.StatusSwitchingProtocols, classUnexpected},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d %s", tc.status, http.StatusText(tc.status)), func(t *testing.T) {
			if got := classify(tc.status); got != tc.want {
				t.Errorf("classify(%d) = %d, want %d", tc.status, got, tc.want)
			}
		})
	}
}

// fat makes a point whose line protocol is size bytes long (size >= 20).
func fat(name string, t int64, size int) pipeline.Point {
	p := pipeline.Point{Measurement: name, Fields: []pipeline.Field{strF("s", "")}, Time: t}
	pad := size - len(AppendPoint(nil, &p))
	p.Fields[0] = strF("s", strings.Repeat("x", pad))
	return p
}

func lines(points ...pipeline.Point) string {
	var b []byte
	for i := range points {
		b = AppendPoint(b, &points[i])
	}
	return string(b)
}

// A 413 splits a batch only while it is over splitAboveBytes, and drops a
// single point only when it is over splitAboveBytes; anything smaller is
// retried with backoff.
func TestRunTooLarge(t *testing.T) {
	const quarter = 20 << 10 // four make a batch over splitAboveBytes, two do not
	if 4*quarter <= splitAboveBytes || 2*quarter > splitAboveBytes {
		t.Fatalf("quarter %d does not fit splitAboveBytes %d", quarter, splitAboveBytes)
	}
	big := []pipeline.Point{fat("a", 1, quarter), fat("b", 2, quarter), fat("c", 3, quarter), fat("d", 4, quarter)}
	small := []pipeline.Point{point("a", 1), point("b", 2), point("c", 3), point("d", 4)}
	huge := fat("h", 2, splitAboveBytes+1)
	tooLarge := &WriteError{StatusCode: 413}
	tests := []struct {
		name       string
		points     []pipeline.Point
		fail       func(n int, body string) error
		wantWrites []string
		wantDelays []time.Duration
		wantStats  Stats
		wantLog    []string
	}{
		{
			name:   "a small batch is retried, not split",
			points: small,
			fail: func(n int, _ string) error {
				if n < 2 {
					return tooLarge
				}
				return nil
			},
			wantWrites: []string{lines(small...), lines(small...), lines(small...)},
			wantDelays: []time.Duration{500 * time.Millisecond, time.Second},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1, Retries: 2, WriteErrors: WriteErrors{TooLarge: 2}},
			wantLog:    []string{"level=WARN", "although small: retrying", "status=413"},
		},
		{
			name:   "a single small point is retried, not dropped",
			points: small[:1],
			fail: func(n int, _ string) error {
				if n < 1 {
					return tooLarge
				}
				return nil
			},
			wantWrites: []string{lines(small[0]), lines(small[0])},
			wantDelays: []time.Duration{500 * time.Millisecond},
			wantStats:  Stats{PointsWritten: 1, BatchesWritten: 1, Retries: 1, WriteErrors: WriteErrors{TooLarge: 1}},
		},
		{
			name:   "a large batch splits in halves",
			points: big,
			fail: func(_ int, body string) error {
				if len(body) > 3*quarter {
					return tooLarge
				}
				return nil
			},
			wantWrites: []string{lines(big...), lines(big[:2]...), lines(big[2:]...)},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 2, WriteErrors: WriteErrors{TooLarge: 1}},
			wantLog:    []string{"batch too large: splitting", "points=4"},
		},
		{
			name:   "halves still refused are retried, not split again",
			points: big,
			fail: func(n int, _ string) error {
				if n < 3 {
					return tooLarge
				}
				return nil
			},
			wantWrites: []string{lines(big...), lines(big[:2]...), lines(big[:2]...), lines(big[:2]...), lines(big[2:]...)},
			wantDelays: []time.Duration{500 * time.Millisecond, time.Second},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 2, Retries: 2, WriteErrors: WriteErrors{TooLarge: 3}},
		},
		{
			name:   "a single point over the limit is dropped",
			points: []pipeline.Point{small[0], huge, small[2]},
			fail: func(_ int, body string) error {
				if len(body) > splitAboveBytes {
					return tooLarge
				}
				return nil
			},
			// a+h+c -> a ok; h+c -> h dropped, c ok.
			wantWrites: []string{lines(small[0], huge, small[2]), lines(small[0]), lines(huge, small[2]), lines(huge), lines(small[2])},
			wantStats: Stats{
				PointsWritten: 2, BatchesWritten: 2,
				WriteErrors: WriteErrors{TooLarge: 3}, Dropped: Dropped{TooLarge: 1},
			},
			wantLog: []string{"level=ERROR", "points dropped (no dead-letter file)", "reason=too_large", "status=413", fmt.Sprintf("bytes=%d", splitAboveBytes+1), "offset=2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := newFakeDst()
			dst.fail = func(n int) error { return tc.fail(n, dst.writes[n].Body) } // called under dst.mu
			var logs bytes.Buffer
			s, err := New(Config{FlushInterval: time.Hour}, dst, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			var delays []time.Duration
			s.wait = func(ctx context.Context, d time.Duration) error {
				delays = append(delays, d)
				return ctx.Err()
			}
			s.jitter = func(time.Duration) time.Duration { return 0 }
			var recs []pipeline.Record
			for i, p := range tc.points {
				recs = append(recs, record("f", int64(i+1), p))
			}
			acks, err := runAll(t, s, recs...)
			if err != nil {
				t.Fatal(err)
			}
			var writes []string
			for _, w := range dst.Writes() {
				writes = append(writes, w.Body)
			}
			if diff := cmp.Diff(tc.wantWrites, writes); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantDelays, delays); diff != "" {
				t.Errorf("retry delays (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]pipeline.Ack{ack("f", int64(len(tc.points)))}, acks); diff != "" {
				t.Errorf("acks (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStats, s.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			for _, w := range tc.wantLog {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, logs.String())
				}
			}
		})
	}
}

// A proxy that answers 413 to everything for 3 s, as seen in the field:
// two batches of 1,010 points of 69 bytes. No point is dropped, every one
// is delivered once, the requests stay few and nothing is logged as an
// error.
func TestRun413Storm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const batch, storm = 1010, 3 * time.Second
		dst := newFakeDst()
		dst.fail = func(int) error {
			if time.Since(dst.start) < storm {
				return &WriteError{StatusCode: 413}
			}
			return nil
		}
		var logs syncBuffer
		s, err := New(Config{BatchSize: batch, FlushInterval: time.Hour}, dst, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		s.jitter = func(time.Duration) time.Duration { return 0 }
		name := strings.Repeat("m", 43) // "mmm... v=1000000000i 1000000000\n": 69 bytes
		var want strings.Builder
		in := make(chan pipeline.Record, 2*batch)
		for i := range 2 * batch {
			p := point(name, 1_000_000_000+int64(i))
			want.WriteString(lines(p))
			in <- record("f", int64(i+1), p)
		}
		close(in)
		if got := len(lines(point(name, 1_000_000_000))); got != 69 || batch*got <= splitAboveBytes {
			t.Fatalf("a point is %d bytes; a batch must be over splitAboveBytes", got)
		}
		if err := s.Run(t.Context(), in, nil); err != nil {
			t.Fatal(err)
		}
		var delivered strings.Builder
		writes := dst.Writes()
		for _, w := range writes {
			if w.At >= storm {
				delivered.WriteString(w.Body)
			}
		}
		if delivered.String() != want.String() {
			t.Errorf("delivered %d bytes, want every point once (%d bytes)", delivered.Len(), want.Len())
		}
		// The first batch is split once, its first half retried at 0.5s,
		// 1.5s and 3.5s, then the rest goes through.
		if len(writes) != 7 {
			t.Errorf("%d requests, want 7", len(writes))
		}
		wantStats := Stats{PointsWritten: 2 * batch, BatchesWritten: 3, Retries: 3, WriteErrors: WriteErrors{TooLarge: 4}}
		if diff := cmp.Diff(wantStats, s.Stats()); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("errors logged:\n%s", logs.String())
		}
	})
}

// Refused writes and dropped points are logged at their 1st, 10th, 100th,
// ... occurrence, and counted every time.
func TestRunLogsSampled(t *testing.T) {
	tests := []struct {
		name      string
		points    func(i int) pipeline.Point
		fail      error
		wantLog   string
		wantStats Stats
	}{
		{
			name:      "refused",
			points:    func(i int) pipeline.Point { return point("a", int64(i)) },
			fail:      &WriteError{StatusCode: 400},
			wantLog:   `points dropped (no dead-letter file)" reason=refused`,
			wantStats: Stats{WriteErrors: WriteErrors{Refused: 25}, Dropped: Dropped{Refused: 25}},
		},
		{
			name:      "too large",
			points:    func(i int) pipeline.Point { return fat("a", int64(i), splitAboveBytes+1) },
			fail:      &WriteError{StatusCode: 413},
			wantLog:   `points dropped (no dead-letter file)" reason=too_large`,
			wantStats: Stats{WriteErrors: WriteErrors{TooLarge: 25}, Dropped: Dropped{TooLarge: 25}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := newFakeDst()
			dst.fail = func(int) error { return tc.fail }
			var logs bytes.Buffer
			s, err := New(Config{BatchSize: 1}, dst, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			var recs []pipeline.Record
			for i := range 25 {
				recs = append(recs, record("f", int64(i), tc.points(i)))
			}
			if _, err := runAll(t, s, recs...); err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(logs.String(), tc.wantLog); got != 2 {
				t.Errorf("%d log lines %q for 25 occurrences, want 2 (the 1st and 10th):\n%s", got, tc.wantLog, logs.String())
			}
			for _, w := range []string{"occurrence=1 ", "occurrence=10 "} {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, logs.String())
				}
			}
			if diff := cmp.Diff(tc.wantStats, s.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

// The default jitter takes any duration: Retry-After/5 and MaxRetryDelay/5
// can be 0.
func TestJitterNotPositive(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, 0, 1} {
		if got := jitter(d); got != 0 {
			t.Errorf("jitter(%v) = %v, want 0", d, got)
		}
	}
	s, err := New(Config{MaxRetryDelay: 4}, newFakeDst(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.retryDelay(0, 3); got != 3 {
		t.Errorf("retryDelay(0, 3ns) = %v, want 3ns", got)
	}
}
