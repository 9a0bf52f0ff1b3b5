package extract

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// parallelConfig is the rules of the differential test: two sources, one
// of them with two rules that can take the same line and an aggregate rule
// (late lines, a fold past max_series), a require block, a JSON source for
// objects where values belong.
var parallelConfig = Config{Sources: []Source{
	{Name: "s", Tags: []pipeline.Tag{{Key: "host", Value: "h"}}, Rules: []Rule{
		{Name: "req", Mode: Logfmt, Time: unixTime,
			Require: []Require{{Name: "lvl", Op: NotEquals, Value: "debug"}},
			Tags:    []TagSpec{{"s", "s"}},
			Fields:  []FieldSpec{{Key: "v", From: "v", Type: TypeInt}, {Key: "d", From: "d", Type: TypeDuration}, {Key: "msg", From: "msg", Type: TypeString}}},
		{Name: "both", Mode: Regex, Pattern: `^t=(?P<t>\S+) s=\S+ v=\S+ both=(?P<b>\d+)$`, Time: unixTime,
			Fields: []FieldSpec{{Key: "b", From: "b", Type: TypeInt}}},
		{Name: "agg", Mode: Logfmt, Time: unixTime, Tags: []TagSpec{{"s", "s"}},
			Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt}, {Key: "d", From: "d", Type: TypeDuration}, {Key: "msg", From: "msg", Type: TypeString}},
			Aggregate: &Aggregate{Window: 2 * time.Second, Lateness: time.Second, MaxSeries: 3,
				Stats: []string{"count", "sum", "min", "max", "mean", "p50", "p99"}, Buckets: []float64{0.1, 0.3}}},
	}},
	{Name: "j", Rules: []Rule{
		{Name: "app", Mode: JSON, Time: unixTime, Tags: []TagSpec{{"s", "s"}},
			Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeFloat}}},
	}},
}}

// parallelLines is lines of three files of source s, interleaved, and one
// file of source j: many points of few series in few seconds, a file
// released (EOF) and read again, replayed lines, lines no rule takes, bad
// values and times, the last storable time given twice, a series that
// outgrows maxSpans, points outside the window parallelWindow sets, lines
// two rules take, a few lines longer than a chunk's bytes, and a line of a
// source without rules.
func parallelLines(n int) []pipeline.Line {
	rng := rand.New(rand.NewPCG(7, 7))
	type file struct {
		path   string
		id     pipeline.FileID
		source string
		off    int64
		replay int // lines still to be replayed
	}
	files := []*file{
		{path: "a.log", id: pipeline.FileID{Ino: 1}, source: "s"},
		{path: "b.log", id: pipeline.FileID{Ino: 2}, source: "s", replay: 300},
		{path: "c.log", id: pipeline.FileID{Ino: 3}, source: "s"},
		{path: "d.json", id: pipeline.FileID{Ino: 4}, source: "j"},
	}
	modTime := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var lines []pipeline.Line
	add := func(f *file, text string) {
		f.off += int64(len(text)) + 1
		l := pipeline.Line{Origin: pipeline.Origin{Path: f.path, Offset: f.off, File: f.id}, Source: f.source, Text: text,
			ReadAt: time.Unix(1000+int64(len(lines)), 0), ModTime: modTime}
		if f.replay > 0 {
			l.Replay = true
			f.replay--
		}
		lines = append(lines, l)
	}
	eof := func(f *file) {
		lines = append(lines, pipeline.Line{Origin: pipeline.Origin{Path: f.path, Offset: f.off, File: f.id}, Source: f.source, EOF: true})
		f.off = 0
	}
	for i := range n {
		f := files[rng.IntN(len(files))]
		sec := 100 + i/200 - rng.IntN(3) // a few seconds back, as several writers log
		series := fmt.Sprintf("s%d", rng.IntN(4))
		if f.source == "j" {
			switch rng.IntN(10) {
			case 0:
				add(f, fmt.Sprintf(`{"t":%d,"s":{"nested":1},"v":[1,2]}`, sec)) // composite tag and field
			case 1:
				add(f, `{"t":"later","s":"x","v":1}`) // bad time
			default:
				add(f, fmt.Sprintf(`{"t":%d,"s":%q,"v":%d.5}`, sec, series, i))
			}
			continue
		}
		switch k := rng.IntN(100); {
		case k < 60:
			add(f, fmt.Sprintf("t=%d s=%s v=%d d=%dms", sec, series, i, rng.IntN(500)))
		case k < 66:
			add(f, fmt.Sprintf("t=%d.%09d s=%s v=%d", sec, rng.IntN(3), series, i)) // among the nudged times
		case k < 70:
			add(f, fmt.Sprintf("t=%d s=%s v=%d both=%d", sec, series, i, i)) // two rules
		case k < 74:
			add(f, fmt.Sprintf("garbage %d", i)) // no rule
		case k < 77:
			add(f, fmt.Sprintf("t=%d s=%s v=x%d d=%dms", sec, series, i, i)) // bad int, still a point
		case k < 79:
			add(f, fmt.Sprintf("t=%d s=%s v=nope d=never", sec, series)) // no fields left
		case k < 81:
			add(f, fmt.Sprintf("t=%dx s=%s v=%d", sec, series, i)) // bad time
		case k < 83:
			add(f, fmt.Sprintf("t=%d s=%s v=%d lvl=debug", sec, series, i)) // filtered
		case k < 85:
			add(f, fmt.Sprintf(`t=%d s=%s msg="a string %d"`, sec, series, i))
		case k < 86:
			add(f, fmt.Sprintf("t=9223372036.854775806 s=last v=%d", i)) // the last storable time: the second is a time error
		case k < 87 && i > n/2 && f == files[0]:
			eof(f) // released: what follows in a.log is separated afresh
		case k < 88 && i%100 == 0:
			add(f, fmt.Sprintf("t=%d s=%s v=%d", sec, strings.Repeat("y", 30000), i)) // too long a series key
		default:
			add(f, fmt.Sprintf("t=%d s=%s v=%d msg=%s", sec, series, i, strings.Repeat("z", 1+rng.IntN(400))))
		}
		if i%3000 == 2999 { // over chunkBytes together
			add(files[2], "garbage "+strings.Repeat("g", 600<<10))
			add(files[2], "garbage "+strings.Repeat("G", 600<<10))
		}
	}
	// A series with more distinct times than maxSpans, then the first
	// again: it falls into the merged span and is displaced.
	for s := range maxSpans + 6 {
		add(files[2], fmt.Sprintf("t=%d s=wide v=%d", 10+2*s, s))
	}
	add(files[2], "t=10 s=wide v=-1")
	add(files[2], "t=10 s=wide v=-2")
	lines = append(lines, pipeline.Line{Origin: pipeline.Origin{Path: "x.log"}, Source: "nosuch", Text: "t=1 v=1"})
	for _, f := range files {
		eof(f)
	}
	return lines
}

// parallelWindow leaves out the first and the last seconds of the lines.
func parallelWindow(ex *Extractor) {
	ex.SetWindow(time.Unix(101, 0), time.Unix(110, 0))
}

// logCounts is a slog handler that counts records by level, message and
// rule: the samples of Run and RunParallel come in their own orders, but as
// many of each.
type logCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *logCounts) Enabled(context.Context, slog.Level) bool { return true }
func (h *logCounts) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logCounts) WithGroup(string) slog.Handler            { return h }
func (h *logCounts) Handle(_ context.Context, r slog.Record) error {
	key := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "rule" || a.Key == "source" {
			key += " " + a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n[key]++
	return nil
}

// runResult is what an extractor sent and counted for a run over lines.
type runResult struct {
	recs  []string // origin and points as show renders them, exactly
	stats Stats
	logs  map[string]int
}

// runLines sends lines through RunParallel (Run for workers <= 1) as the
// pipeline does: a recycler and a budget the consumer gives back to, which
// makes the extractor reuse point slices and wait at times. The lines wait
// in a channel of inCap: none makes chunks of a line or two, many makes
// full ones.
func runLines(t *testing.T, lines []pipeline.Line, workers, inCap int, feed Feed) runResult {
	t.Helper()
	ex, err := Compile(parallelConfig)
	if err != nil {
		t.Fatal(err)
	}
	ex.SetFeed(feed)
	logs := &logCounts{n: map[string]int{}}
	ex.SetLogger(slog.New(logs))
	parallelWindow(ex)
	recycle := pipeline.NewRecycler(16)
	ex.SetRecycler(recycle)
	budget := pipeline.NewBudget(64)
	ex.SetBudget(budget)

	in := make(chan pipeline.Line, inCap)
	out := make(chan pipeline.Record, 8)
	go func() {
		defer close(in)
		for _, l := range lines {
			in <- l
		}
	}()
	done := make(chan error, 1)
	go func() { done <- ex.RunParallel(t.Context(), in, out, workers) }()
	var recs []string
	for rec := range out {
		recs = append(recs, fmt.Sprintf("%s:%d %+v %+v %d points", rec.Path, rec.Offset, rec.File, rec.Hold, len(rec.Points)))
		recs = append(recs, show(rec.Points)...)
		budget.Release(len(rec.Points))
		recycle.Put(rec.Points) // clears them, for the extractor to reuse
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if held := budget.Held(); held != 0 {
		t.Errorf("budget holds %d points after the run", held)
	}
	return runResult{recs, ex.Stats(), logs.n}
}

// TestRunParallelSameAsRun is the differential test: RunParallel sends the
// records Run sends, with the same points at the same times, in the same
// order, and counts and logs as much of everything.
func TestRunParallelSameAsRun(t *testing.T) {
	lines := parallelLines(6000)
	want := runLines(t, lines, 1, 0, FeedFinite)

	// The input must exercise what it claims to.
	st := want.stats
	sum := func(f func(RuleStats) uint64) (n uint64) {
		for _, r := range st.Rules {
			n += f(r)
		}
		return n
	}
	for name, n := range map[string]uint64{
		"points":            sum(func(r RuleStats) uint64 { return r.Points }),
		"filtered":          sum(func(r RuleStats) uint64 { return r.Filtered }),
		"time errors":       sum(func(r RuleStats) uint64 { return r.TimeErrors }),
		"conversion errors": sum(func(r RuleStats) uint64 { return r.ConversionErrors }),
		"missing":           sum(func(r RuleStats) uint64 { return r.Missing }),
		"composite":         sum(func(r RuleStats) uint64 { return r.CompositeValues }),
		"no fields":         sum(func(r RuleStats) uint64 { return r.NoFields }),
		"series too long":   sum(func(r RuleStats) uint64 { return r.SeriesTooLong }),
		"displaced":         sum(func(r RuleStats) uint64 { return r.Displaced }),
		"outside window":    sum(func(r RuleStats) uint64 { return r.OutsideWindow }),
		"both rules":        st.Rules[1].Points,
		"aggregated":        st.Rules[2].Aggregated,
		"aggregated points": st.Rules[2].Points,
		"late":              st.Rules[2].Late,
		"folded":            st.Rules[2].Folded,
		"unmatched":         st.Sources[0].Unmatched,
		"replayed":          st.Sources[0].Replayed,
		"unknown source":    st.UnknownSource,
	} {
		if n == 0 {
			t.Errorf("the input has no %s: %+v", name, st)
		}
	}
	nudged := 0
	for _, p := range want.recs {
		if ns, err := strconv.ParseInt(p[strings.LastIndexByte(p, ' ')+1:], 10, 64); err == nil && ns%1e9 > 2 {
			nudged++ // past the nanoseconds the lines give
		}
	}
	if nudged < 100 {
		t.Errorf("%d points separated: the input collides too little", nudged)
	}
	badTimes := uint64(0)
	for _, l := range lines {
		if !l.Replay && l.Source == "s" && strings.HasPrefix(l.Text, "t=") && strings.Contains(l.Text[:strings.IndexByte(l.Text, ' ')], "x") {
			badTimes++
		}
	}
	if st.Rules[0].TimeErrors <= badTimes {
		t.Errorf("rule req: %d time errors, %d of them bad times: no point found no time left", st.Rules[0].TimeErrors, badTimes)
	}

	for _, workers := range []int{1, 2, 4, 7} {
		for _, inCap := range []int{0, 16, 4096} {
			if workers == 1 && inCap != 0 {
				continue // Run, like want
			}
			t.Run(fmt.Sprintf("workers=%d/in=%d", workers, inCap), func(t *testing.T) {
				got := runLines(t, lines, workers, inCap, FeedFinite)
				if diff := cmp.Diff(want.recs, got.recs); diff != "" {
					t.Errorf("records (-Run +RunParallel):\n%s", diff)
				}
				if diff := cmp.Diff(want.stats, got.stats); diff != "" {
					t.Errorf("stats (-Run +RunParallel):\n%s", diff)
				}
				if diff := cmp.Diff(want.logs, got.logs); diff != "" {
					t.Errorf("logged samples (-Run +RunParallel):\n%s", diff)
				}
			})
		}
	}
}

// TestRunParallelSameAsRunFollowed: under FeedFollowed too (replayed lines
// move the watermark and mark windows, checkpoints follow the records, no
// flush at the end), RunParallel sends exactly what Run sends. In a synctest
// bubble no tick comes while lines flow, so Idle sends nothing in either.
func TestRunParallelSameAsRunFollowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lines := parallelLines(4000)
		want := runLines(t, lines, 1, 0, FeedFollowed)
		// A checkpoint repeats the origin of an earlier record of its
		// file, without points.
		checkpoints, seen := 0, map[string]bool{}
		for _, r := range want.recs {
			if !strings.Contains(r, " points") {
				continue // a point
			}
			origin := r[:strings.Index(r, "} ")]
			if seen[origin] && strings.HasSuffix(r, " 0 points") {
				checkpoints++
			}
			seen[origin] = true
		}
		if checkpoints == 0 {
			t.Error("no checkpoint sent: the input does not exercise them")
		}
		for _, workers := range []int{2, 4} {
			for _, inCap := range []int{0, 4096} {
				got := runLines(t, lines, workers, inCap, FeedFollowed)
				if diff := cmp.Diff(want.recs, got.recs); diff != "" {
					t.Errorf("workers=%d in=%d: records (-Run +RunParallel):\n%s", workers, inCap, diff)
				}
				if diff := cmp.Diff(want.stats, got.stats); diff != "" {
					t.Errorf("workers=%d in=%d: stats (-Run +RunParallel):\n%s", workers, inCap, diff)
				}
			}
		}
	})
}

// TestRunParallelCancel: cancelling ctx makes RunParallel return and close
// out, whether it waits for lines, for the sink, or for the budget.
func TestRunParallelCancel(t *testing.T) {
	lines := parallelLines(3000)
	for _, tc := range []struct {
		name   string
		lines  []pipeline.Line
		budget bool // of one point, spent by the first point sent
	}{
		{name: "waiting for lines"},
		{name: "sink not reading", lines: lines},
		{name: "budget spent", lines: lines, budget: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ex, err := Compile(parallelConfig)
				if err != nil {
					t.Fatal(err)
				}
				if tc.budget {
					ex.SetBudget(pipeline.NewBudget(1))
				}
				ctx, cancel := context.WithCancel(t.Context())
				in := make(chan pipeline.Line) // never closed
				out := make(chan pipeline.Record)
				go func() {
					for _, l := range tc.lines {
						select {
						case in <- l:
						case <-ctx.Done():
							return
						}
					}
				}()
				done := make(chan error, 1)
				go func() { done <- ex.RunParallel(ctx, in, out, 4) }()
				var points atomic.Int64
				if tc.budget {
					go func() { // a sink that never gives points back
						for rec := range out {
							points.Add(int64(len(rec.Points)))
						}
					}()
				}
				synctest.Wait()
				if tc.budget && points.Load() != 1 {
					t.Fatalf("%d points sent with a budget of 1", points.Load())
				}
				select {
				case err := <-done:
					t.Fatalf("RunParallel returned %v before the cancel", err)
				default:
				}
				cancel()
				synctest.Wait() // every goroutine it started has stopped, or this hangs
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("RunParallel = %v, want nil", err)
					}
				default:
					t.Fatal("RunParallel did not return after the cancel")
				}
				if !tc.budget {
					for range out { // closed, or this hangs
					}
				}
			})
		})
	}
}

// TestRunParallelBudget: with the budget spent, RunParallel waits, and the
// lines it reads ahead meanwhile are bounded by its chunks (chunkLines,
// chunksPerWorker); once the sink gives points back, it goes on, and it
// sends every record, in order.
func TestRunParallelBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, max, workers = 5000, 10, 2
		src := windowSource
		src.Name = "s"
		ex, err := Compile(Config{Sources: []Source{src}})
		if err != nil {
			t.Fatal(err)
		}
		budget := pipeline.NewBudget(max)
		ex.SetBudget(budget)
		in := make(chan pipeline.Line)
		out := make(chan pipeline.Record, n) // the sink reads at once, and gives nothing back
		var read atomic.Int64
		go func() {
			defer close(in)
			for i := range n {
				in <- pipeline.Line{Origin: pipeline.Origin{Path: "f.log", Offset: int64(i + 1)}, Source: "s",
					Text: fmt.Sprintf("t=%d n=%d", 1+i/100, i)}
				read.Add(1)
			}
		}()
		done := make(chan error, 1)
		go func() { done <- ex.RunParallel(t.Context(), in, out, workers) }()

		synctest.Wait()
		if len(out) != max {
			t.Fatalf("%d records sent with a budget of %d one-point records", len(out), max)
		}
		// Every line read is in a chunk, the 10 sent too (their chunk is
		// not finished).
		if bound := int64(chunksPerWorker * workers * chunkLines); read.Load() > bound {
			t.Errorf("%d lines read while the budget was spent, want at most %d", read.Load(), bound)
		}
		budget.Release(5)
		synctest.Wait()
		if len(out) != max+5 {
			t.Fatalf("%d records sent after 5 points came back, want %d", len(out), max+5)
		}
		for off := int64(1); off <= n; off++ {
			rec := <-out
			if rec.Offset != off {
				t.Fatalf("record of offset %d, want %d", rec.Offset, off)
			}
			if off > 5 { // the first five gave theirs back above
				budget.Release(len(rec.Points))
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, open := <-out; open {
			t.Error("out not closed")
		}
	})
}

// TestChunkBounds: a chunk closes at chunkLines lines, or once it holds
// chunkBytes of text, whichever comes first, and the chunks keep the lines
// in order.
func TestChunkBounds(t *testing.T) {
	var lines []pipeline.Line
	for range 2*chunkLines + 88 {
		lines = append(lines, pipeline.Line{Origin: pipeline.Origin{Offset: int64(len(lines))}, Text: "short"})
	}
	big := strings.Repeat("x", chunkBytes/3) // three are a byte short of chunkBytes
	for range 7 {
		lines = append(lines, pipeline.Line{Origin: pipeline.Origin{Offset: int64(len(lines))}, Text: big})
	}
	in := make(chan pipeline.Line, len(lines)) // all waiting: chunks are as full as they may be
	for _, l := range lines {
		in <- l
	}
	close(in)
	const n = 8
	free, toMatch, toFinish := make(chan *chunk, n), make(chan *chunk, n), make(chan *chunk, n)
	for range n {
		free <- &chunk{items: make([]item, 0, chunkLines), ready: make(chan struct{}, 1)}
	}
	ex, err := Compile(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ex.readChunks(t.Context(), in, free, toMatch, toFinish)
	close(toMatch)
	var sizes []int
	next := int64(0)
	for c := range toMatch {
		sizes = append(sizes, len(c.items))
		for _, it := range c.items {
			if it.line.Offset != next {
				t.Fatalf("line %d where line %d was due", it.line.Offset, next)
			}
			next++
		}
	}
	// 88 short lines and three big ones are over chunkBytes; the last
	// four big ones too.
	if want := []int{chunkLines, chunkLines, 88 + 3, 4}; !slices.Equal(want, sizes) {
		t.Errorf("chunks of %v lines, want %v", sizes, want)
	}
}

// BenchmarkRunParallel is Run (workers=1) against RunParallel on every
// core, regex rule over nginx lines, with a sink that takes each record at
// once and gives its points back (budget and recycler) as the real one does
// once it has encoded them.
func BenchmarkRunParallel(b *testing.B) {
	lines := benchLines(b, benchCases[0], 20000)
	size := 0
	for _, l := range lines {
		size += len(l.Text) + 1
	}
	cfg := Config{Sources: []Source{{Name: "s", Rules: []Rule{benchCases[0].rule}}}}
	for _, workers := range slices.Compact([]int{1, runtime.GOMAXPROCS(0)}) {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				ex, err := Compile(cfg) // a fresh agent: the same lines again would all be repeats
				if err != nil {
					b.Fatal(err)
				}
				recycle, budget := pipeline.NewRecycler(4096), pipeline.NewBudget(100_000)
				ex.SetRecycler(recycle)
				ex.SetBudget(budget)
				in := make(chan pipeline.Line, 16) // as backfill makes it for the default line limit
				out := make(chan pipeline.Record, 8192)
				b.StartTimer()
				go func() {
					defer close(in)
					for _, l := range lines {
						in <- l
					}
				}()
				go func() { _ = ex.RunParallel(context.Background(), in, out, workers) }()
				for rec := range out {
					budget.Release(len(rec.Points))
					recycle.Put(rec.Points)
				}
			}
			b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// TestRunParallelCountsWhatItTook: when ctx is done with chunks in flight,
// every line RunParallel took from its input is counted as a line of its
// source and its point as extracted, as Run counts them, whether the
// chunk was matched, finished or neither yet: so the lines read by a
// stopped agent are the lines the tailer handed over, and its points not
// delivered are those of its lines not delivered. Each round stops it at
// another moment: with out never read, before any line is taken, or with
// the finisher waiting to send.
func TestRunParallelCountsWhatItTook(t *testing.T) {
	const n = 600 // more than a chunk, fewer than the chunks of 2 workers
	for round := range 40 {
		ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{
			{Name: "r", Mode: Logfmt, Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}},
		}}}})
		if err != nil {
			t.Fatal(err)
		}
		in := make(chan pipeline.Line, n)
		for i := range n {
			in <- pipeline.Line{Source: "s", Text: "v=" + strconv.Itoa(i), Origin: pipeline.Origin{Path: "f", Offset: int64(i + 1)}}
		}
		ctx, cancel := context.WithCancel(context.Background())
		if round%2 == 0 {
			cancel() // stopped at once: the reader may still take lines
		}
		out := make(chan pipeline.Record) // never read: the first send waits
		done := make(chan error, 1)
		go func() { done <- ex.RunParallel(ctx, in, out, 2) }()
		if round%2 == 1 {
			// Let it take lines and wait to send the first record.
			time.Sleep(time.Duration(round) * 100 * time.Microsecond)
			cancel()
		}
		err = <-done
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		st := ex.Stats()
		lines, points := st.Sources[0].Lines, st.Rules[0].Points
		if taken := uint64(n - len(in)); lines != taken {
			t.Fatalf("round %d: %d lines counted, %d taken from the input", round, lines, taken)
		}
		if points != lines {
			t.Fatalf("round %d: %d points counted for %d lines of one point each", round, points, lines)
		}
	}
}
