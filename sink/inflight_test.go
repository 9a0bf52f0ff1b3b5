package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// flightDst records each write like fakeDst, answers it with answer (nil:
// 2xx), called outside its lock so that it may block, and counts the
// writes in progress at once.
type flightDst struct {
	start  time.Time
	answer func(ctx context.Context, body string) error

	mu        sync.Mutex
	writes    []fakeWrite
	active    int
	maxActive int
}

func newFlightDst(answer func(ctx context.Context, body string) error) *flightDst {
	return &flightDst{start: time.Now(), answer: answer}
}

func (f *flightDst) WriteBatch(ctx context.Context, batch []byte) error {
	body := string(batch)
	f.mu.Lock()
	f.writes = append(f.writes, fakeWrite{At: time.Since(f.start), Body: body})
	f.active++
	f.maxActive = max(f.maxActive, f.active)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.active--
		f.mu.Unlock()
	}()
	if f.answer == nil {
		return nil
	}
	return f.answer(ctx, body)
}

func (f *flightDst) Writes() []fakeWrite {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.writes)
}

func (f *flightDst) MaxActive() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxActive
}

// hang answers a write only when its context ends, like a server that
// never replies.
func hang(ctx context.Context) error {
	<-ctx.Done()
	return &WriteError{Err: ctx.Err()}
}

// Batch 2 is written while batch 1 still waits for its answer: nothing is
// acked, Delivered counts batch 2's point but none of its records, the
// budget holds both, and with two in flight Run reads no more. Once batch
// 1 is written, both are acked, batch 1 first.
func TestRunInFlightAcksInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		answered := make(chan struct{})
		dst := newFlightDst(func(_ context.Context, body string) error {
			if body == line("a", 1) {
				<-answered
			}
			return nil
		})
		budget := pipeline.NewBudget(10)
		b := startBubble(t.Context(), t, Config{BatchSize: 1, FlushInterval: time.Hour, InFlight: 2}, dst,
			func(s *Sink) { s.SetBudget(budget) })
		send := func(rec pipeline.Record) {
			if err := budget.Acquire(t.Context(), len(rec.Points)); err != nil {
				t.Fatal(err)
			}
			b.in <- rec
		}
		send(record("a.log", 10, point("a", 1)))
		send(record("b.log", 20, point("b", 2)))
		synctest.Wait()
		if got := b.Acks(); len(got) != 0 {
			t.Errorf("acks before batch 1 is written: %v", got)
		}
		if diff := cmp.Diff(Delivered{Records: 0, Points: 1}, b.s.Delivered()); diff != "" {
			t.Errorf("Delivered with batch 2 written, batch 1 not (-want +got):\n%s", diff)
		}
		if got := budget.Held(); got != 2 {
			t.Errorf("budget holds %d points, want 2", got)
		}
		select {
		case b.in <- record("c.log", 30):
			t.Error("Run read a record with two batches in flight")
		default:
		}

		time.Sleep(time.Second)
		close(answered)
		send(record("c.log", 30, point("c", 3)))
		if err := b.close(); err != nil {
			t.Fatal(err)
		}
		want := []timedAck{{time.Second, ack("a.log", 10)}, {time.Second, ack("b.log", 20)}, {time.Second, ack("c.log", 30)}}
		if diff := cmp.Diff(want, b.Acks()); diff != "" {
			t.Errorf("acks (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(Delivered{Records: 3, Points: 3}, b.s.Delivered()); diff != "" {
			t.Errorf("Delivered (-want +got):\n%s", diff)
		}
		if got := budget.Held(); got != 0 {
			t.Errorf("budget holds %d points after the end, want 0", got)
		}
	})
}

// InFlight writes overlap, and never more.
func TestRunInFlightOverlap(t *testing.T) {
	for _, inFlight := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(inFlight), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dst := newFlightDst(func(context.Context, string) error {
					time.Sleep(10 * time.Millisecond) // the server at work
					return nil
				})
				s, err := New(Config{BatchSize: 2, FlushInterval: time.Hour, InFlight: inFlight}, dst, nil)
				if err != nil {
					t.Fatal(err)
				}
				var recs []pipeline.Record
				var want []pipeline.Ack
				for i := range 40 {
					recs = append(recs, record("f", int64(i+1), point("m", int64(i))))
					if i%2 == 1 {
						want = append(want, ack("f", int64(i+1)))
					}
				}
				acks, err := runAll(t, s, recs...)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, acks); diff != "" {
					t.Errorf("acks (-want +got):\n%s", diff)
				}
				if got := dst.MaxActive(); got != inFlight {
					t.Errorf("at most %d writes at once, want %d", got, inFlight)
				}
				wantStats := Stats{PointsWritten: 40, BatchesWritten: 20}
				if diff := cmp.Diff(wantStats, s.Stats()); diff != "" {
					t.Errorf("stats (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// From a batch's first failed write that it retries until it is finished,
// it alone talks to the server: a batch started meanwhile makes no
// attempt, and one whose write failed meanwhile retries after it, with its
// own backoff. Backoff without jitter: 0.5, 1, 2, 4, 8 s.
func TestRunInFlightRetryAlone(t *testing.T) {
	const back = 10 * time.Second // the server answers 503 until then
	tests := []struct {
		name     string
		write    time.Duration // how long each write takes
		wantAt   []fakeWrite
		wantAcks []timedAck
	}{
		{
			// a fails at 0 and is retried at 0.5, 1.5, 3.5, 7.5 and
			// 15.5 s; b, started at 0.25 s, waits for it.
			name: "a batch started meanwhile waits",
			wantAt: []fakeWrite{
				{0, line("a", 1)}, {500 * time.Millisecond, line("a", 1)},
				{1500 * time.Millisecond, line("a", 1)}, {3500 * time.Millisecond, line("a", 1)},
				{7500 * time.Millisecond, line("a", 1)}, {15500 * time.Millisecond, line("a", 1)},
				{15500 * time.Millisecond, line("b", 2)},
			},
			wantAcks: []timedAck{{15500 * time.Millisecond, ack("f", 1)}, {15500 * time.Millisecond, ack("f", 2)}},
		},
		{
			// Each write takes 1 s. a: 0-1 (503), 1.5-2.5, 3.5-4.5,
			// 6.5-7.5, 11.5-12.5 (written). b: 0.25-1.25 (503), then
			// waits for a, then 0.5 s: 13-14.
			name:  "a batch that failed meanwhile retries after",
			write: time.Second,
			wantAt: []fakeWrite{
				{0, line("a", 1)}, {250 * time.Millisecond, line("b", 2)},
				{1500 * time.Millisecond, line("a", 1)}, {3500 * time.Millisecond, line("a", 1)},
				{6500 * time.Millisecond, line("a", 1)}, {11500 * time.Millisecond, line("a", 1)},
				{13 * time.Second, line("b", 2)},
			},
			wantAcks: []timedAck{{12500 * time.Millisecond, ack("f", 1)}, {14 * time.Second, ack("f", 2)}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var dst *flightDst
				dst = newFlightDst(func(context.Context, string) error {
					time.Sleep(tc.write)
					if time.Since(dst.start) < back {
						return &WriteError{StatusCode: 503}
					}
					return nil
				})
				b := startBubble(t.Context(), t, Config{BatchSize: 1, FlushInterval: time.Hour, InFlight: 2}, dst)
				b.in <- record("f", 1, point("a", 1))
				time.Sleep(250 * time.Millisecond)
				b.in <- record("f", 2, point("b", 2))
				if err := b.close(); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.wantAt, dst.Writes()); diff != "" {
					t.Errorf("writes (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tc.wantAcks, b.Acks()); diff != "" {
					t.Errorf("acks (-want +got):\n%s", diff)
				}
				want := Stats{PointsWritten: 2, BatchesWritten: 2, Retries: 5, WriteErrors: WriteErrors{Server: 5}}
				if diff := cmp.Diff(want, b.s.Stats()); diff != "" {
					t.Errorf("stats (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// At shutdown every batch held gets its one last attempt, at once, within
// one Timeout; acks go out in batch order up to the first batch not
// written.
func TestRunInFlightShutdown(t *testing.T) {
	const stop = 5 * time.Second // the cancel
	tests := []struct {
		name      string
		cfg       Config
		recs      []pipeline.Record
		answer    func(ctx context.Context, body string, final bool) error
		wantAt    []fakeWrite
		wantAcks  []timedAck
		wantAfter time.Duration // when Run returned
		wantErr   string        // besides context.Canceled
		want      Delivered
	}{
		{
			name:   "neither answers",
			cfg:    Config{BatchSize: 1},
			recs:   []pipeline.Record{record("f", 1, point("a", 1)), record("g", 2, point("b", 2))},
			answer: func(ctx context.Context, _ string, _ bool) error { return hang(ctx) },
			wantAt: []fakeWrite{
				{0, line("a", 1)}, {0, line("b", 2)}, {stop, line("a", 1)}, {stop, line("b", 2)},
			},
			wantAfter: stop + 3*time.Second, // one Timeout for both
			wantErr:   "final flush: context deadline exceeded",
		},
		{
			name: "the first is written at the last attempt",
			cfg:  Config{BatchSize: 1},
			recs: []pipeline.Record{record("f", 1, point("a", 1)), record("g", 2, point("b", 2))},
			answer: func(ctx context.Context, body string, final bool) error {
				if body == line("a", 1) && !final {
					return hang(ctx)
				}
				return nil
			},
			wantAt:    []fakeWrite{{0, line("a", 1)}, {0, line("b", 2)}, {stop, line("a", 1)}},
			wantAcks:  []timedAck{{stop, ack("f", 1)}, {stop, ack("g", 2)}},
			wantAfter: stop,
			want:      Delivered{Records: 2, Points: 2},
		},
		{
			name: "the first fails at the last attempt",
			cfg:  Config{BatchSize: 1},
			recs: []pipeline.Record{record("f", 1, point("a", 1)), record("g", 2, point("b", 2))},
			answer: func(ctx context.Context, body string, final bool) error {
				if body != line("a", 1) {
					return nil
				}
				if !final {
					return hang(ctx)
				}
				return &WriteError{StatusCode: 503}
			},
			wantAt:    []fakeWrite{{0, line("a", 1)}, {0, line("b", 2)}, {stop, line("a", 1)}},
			wantAfter: stop,
			wantErr:   "final flush: write: status 503: ",
			want:      Delivered{Records: 0, Points: 1}, // b's point, not its record
		},
		{
			name: "one in flight, one pending",
			cfg:  Config{BatchSize: 2},
			recs: []pipeline.Record{record("f", 1, point("a", 1), point("a", 2)), record("f", 2, point("b", 3))},
			answer: func(ctx context.Context, _ string, final bool) error {
				if !final {
					return hang(ctx)
				}
				return nil
			},
			wantAt: []fakeWrite{
				{0, line("a", 1) + line("a", 2)}, {stop, line("a", 1) + line("a", 2)}, {stop, line("b", 3)},
			},
			wantAcks:  []timedAck{{stop, ack("f", 1)}, {stop, ack("f", 2)}},
			wantAfter: stop,
			want:      Delivered{Records: 2, Points: 3},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var dst *flightDst
				dst = newFlightDst(func(ctx context.Context, body string) error {
					return tc.answer(ctx, body, time.Since(dst.start) >= stop)
				})
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				cfg := tc.cfg
				cfg.FlushInterval, cfg.Timeout, cfg.InFlight = time.Hour, 3*time.Second, 2
				b := startBubble(ctx, t, cfg, dst)
				for _, r := range tc.recs {
					b.in <- r
				}
				time.Sleep(stop)
				cancel()
				err := <-b.errc
				if after := time.Since(b.start); after != tc.wantAfter {
					t.Errorf("Run returned after %v, want %v", after, tc.wantAfter)
				}
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run: %v, want context.Canceled", err)
				}
				if tc.wantErr == "" && err != nil && err.Error() != context.Canceled.Error() {
					t.Errorf("Run: %v, want only context.Canceled", err)
				}
				if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
					t.Errorf("Run: %v, want %q", err, tc.wantErr)
				}
				// The two first writes start together, in either order.
				got := dst.Writes()
				byTime := func(a, b fakeWrite) int {
					if a.At != b.At {
						return int(a.At - b.At)
					}
					return strings.Compare(a.Body, b.Body)
				}
				slices.SortFunc(got, byTime)
				if diff := cmp.Diff(tc.wantAt, got); diff != "" {
					t.Errorf("writes (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tc.wantAcks, b.Acks()); diff != "" {
					t.Errorf("acks (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tc.want, b.s.Delivered()); diff != "" {
					t.Errorf("Delivered (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// Retries, refusals isolated into dead letters and 413 splits, against
// the InfluxDB destination and an HTTP server, give with two batches in
// flight exactly what they give with one: the points written, the dead
// letters, the stats and the acks.
func TestRunInFlightFaults(t *testing.T) {
	var recs []pipeline.Record
	var bad []string
	for i := range 60 {
		name := "m"
		if i%17 == 5 {
			name = "bad"
			bad = append(bad, line(name, int64(i)))
		}
		recs = append(recs, record(fmt.Sprintf("f%d", i%3), int64(i+1), point(name, int64(i))))
	}
	var fatRecs []pipeline.Record
	for i := range 24 {
		size := splitAboveBytes / 5
		if i == 13 {
			size = splitAboveBytes + 1 // alone too large: a dead letter
		}
		fatRecs = append(fatRecs, record("f", int64(i+1), fat("m", int64(i), size)))
	}
	tests := []struct {
		name    string
		recs    []pipeline.Record
		respond func() func(n int, body string) reply // a fresh server's answers
	}{
		{
			name: "503 then written",
			recs: recs,
			respond: func() func(int, string) reply {
				var mu sync.Mutex
				seen := map[string]bool{}
				return func(_ int, body string) reply {
					mu.Lock()
					defer mu.Unlock()
					if !seen[body] {
						seen[body] = true
						return reply{status: 503, body: "busy"}
					}
					return reply{status: 204}
				}
			},
		},
		{
			name: "400 partial writes",
			recs: recs,
			respond: func() func(int, string) reply {
				return refusing(bad, func(n int) reply {
					return reply{status: 400, json: true,
						body: fmt.Sprintf(`{"error":"partial write: field type conflict: input field \"v\" dropped=%d"}`, n)}
				})
			},
		},
		{
			name: "413 splits",
			recs: fatRecs,
			respond: func() func(int, string) reply {
				return func(_ int, body string) reply {
					if len(body) > splitAboveBytes {
						return reply{status: 413, body: "request entity too large"}
					}
					return reply{status: 204}
				}
			},
		},
	}
	type outcome struct {
		Written []string // lines of the 2xx requests, sorted
		Dead    []string // dead-letter entries, sorted
		Stats   Stats
		Acks    []pipeline.Ack
	}
	run := func(t *testing.T, inFlight int, recs []pipeline.Record, respond func(int, string) reply) outcome {
		var mu sync.Mutex
		var written []string
		sc := newScripted(t, func(n int, body string) reply {
			rep := respond(n, body)
			if rep.status/100 == 2 {
				mu.Lock()
				written = append(written, strings.SplitAfter(body, "\n")...)
				mu.Unlock()
			}
			return rep
		})
		path := filepath.Join(t.TempDir(), "dead-letters.lp")
		cfg := Config{BatchSize: 8, InFlight: inFlight, DeadLetterPath: path}
		s, _ := newHTTPSink(t, sc, cfg, nil)
		s.wait = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
		s.dead.now = func() time.Time { return deadAt }
		acks, err := runAll(t, s, recs...)
		if err != nil {
			t.Fatal(err)
		}
		written = slices.DeleteFunc(written, func(l string) bool { return l == "" })
		slices.Sort(written)
		var dead []string
		if file, err := os.ReadFile(path); err == nil {
			// An entry is its comment line and its point's line.
			lines := strings.SplitAfter(string(file), "\n")
			for i := 0; i+1 < len(lines); i += 2 {
				dead = append(dead, lines[i]+lines[i+1])
			}
		}
		slices.Sort(dead)
		return outcome{Written: written, Dead: dead, Stats: s.Stats(), Acks: acks}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			one := run(t, 1, tc.recs, tc.respond())
			two := run(t, 2, tc.recs, tc.respond())
			if diff := cmp.Diff(one, two); diff != "" {
				t.Errorf("InFlight 2 differs from 1 (-one +two):\n%s", diff)
			}
			// And what one gives is right: every point once, written or
			// set aside.
			var all []string
			for _, r := range tc.recs {
				for _, p := range r.Points {
					all = append(all, lines(p))
				}
			}
			got := slices.Clone(one.Written)
			for _, d := range one.Dead {
				got = append(got, d[strings.IndexByte(d, '\n')+1:])
			}
			slices.Sort(got)
			slices.Sort(all)
			if diff := cmp.Diff(all, got); diff != "" {
				t.Errorf("points written or set aside (-want +got):\n%s", diff)
			}
			if len(one.Dead) == 0 && tc.name != "503 then written" {
				t.Error("no dead letters: the case does not test them")
			}
		})
	}
}

// A Stream is written one batch at a time whatever InFlight says, so its
// output keeps batch order.
func TestStreamOneInFlight(t *testing.T) {
	var out bytes.Buffer
	s, err := New(Config{BatchSize: 1, InFlight: 4}, NewStream(&out), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.InFlight != 1 {
		t.Errorf("InFlight %d for a Stream, want 1", s.cfg.InFlight)
	}
	var recs []pipeline.Record
	var want strings.Builder
	for i := range 50 {
		recs = append(recs, record("f", int64(i+1), point("m", int64(i))))
		want.WriteString(line("m", int64(i)))
	}
	if _, err := runAll(t, s, recs...); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.String(), out.String()); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
}

// The InfluxDB destination takes writes from several goroutines at once
// (run with -race): each request carries its own batch.
func TestInfluxDBConcurrentWrites(t *testing.T) {
	sc := newScripted(t, func(int, string) reply { return reply{status: http.StatusNoContent} })
	dst, err := NewInfluxDB(Config{URL: sc.srv.URL, Bucket: "db"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Close)
	var wg sync.WaitGroup
	var want []string
	for i := range 4 * maxInFlight {
		body := strings.Repeat(line("m", int64(i)), 100)
		want = append(want, body)
		wg.Go(func() {
			if err := dst.WriteBatch(t.Context(), []byte(body)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := sc.bodies()
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bodies (-want +got):\n%s", diff)
	}
}
