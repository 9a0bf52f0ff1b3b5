// Package extract turns lines into points with compiled rules.
//
// Extraction is a pure function of the lines (in file order) and the rules:
// it reads no clock except for rules without a time block, whose points take
// the moment their line was read. Reading the same lines again therefore
// gives the same points, which makes replays after a crash harmless.
package extract

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// Extractor applies compiled rules to lines. It is not safe for concurrent
// use (it keeps per-file state to separate colliding points; RunParallel
// spreads the rest of the work itself), but Stats may be called from any
// goroutine.
type Extractor struct {
	sources map[string]*source
	order   []*source
	log     *slog.Logger
	sep     *separator
	// w and made are the scratch space of Extract, Run and LineTime;
	// RunParallel's workers have their own.
	w        *worker
	made     matched
	maxNames int // values of the rule that reads the most
	recycle  *pipeline.Recycler
	budget   *pipeline.Budget
	// replayRec takes the points of replayed lines, which go nowhere.
	replayRec pipeline.Record
	// closing takes the points of the windows a line closes until the
	// line's own points are placed.
	closing pipeline.Record
	// window, when set, keeps only the points whose own time (before
	// separation) is in [since, until): see SetWindow.
	window       bool
	since, until int64

	// Aggregation (aggregate.go): the kind of input, the state of the
	// files with lines in open windows, and those whose hold moved since
	// a record of theirs carried it (when checkpointing, in Run under
	// FeedFollowed). stalledAt is when a send to the sink last waited.
	feed          Feed
	aggregates    bool
	files         map[pipeline.FileID]*fileState
	lastFile      *fileState
	dirty         []*fileState
	checkpointing bool
	stalledAt     time.Time
	// cut is set by Cut: the input ends before its end.
	cut atomic.Bool

	unknownSource atomic.Uint64
	// inFlight is the lines RunParallel took and has not placed (InFlight).
	inFlight atomic.Int64

	// Reloads (reload.go). conf is the configuration the rules were
	// compiled from, to tell unchanged rules apart; gen counts the rule
	// sets applied, so that workers drop what they cached of the last;
	// retired are the sources removed by a reload, still counted in
	// Stats; rulesMu keeps Stats from reading the rules while a reload
	// replaces them; applied is closed once these rules apply.
	conf    Config
	gen     int
	retired []*source
	rulesMu sync.RWMutex
	applied chan struct{}
}

type source struct {
	name      string
	rules     []*rule
	lines     atomic.Uint64
	unmatched atomic.Uint64
	// Each counted line is in one of taken, filtered and notTaken (see
	// SourceStats): separate counters, so that each only grows in a
	// snapshot taken while lines flow.
	taken, filtered, notTaken atomic.Uint64
	replayed                  atomic.Uint64 // lines replayed after a restart, not in lines

	mu      sync.Mutex
	samples []Sample

	// aggs are the aggregate rules. latest is the latest time a line of
	// the source gave (the watermark is latest less a rule's lateness;
	// timed once there is one) and lastRead the latest ReadAt: both are
	// in-order state (placeLine).
	aggs     []*rule
	latest   int64
	timed    bool
	lastRead time.Time
	// pending is Source.Pending: Idle waits it on top of a rule's window
	// and lateness.
	pending time.Duration
	// idleClosed is the latest time that would have closed, by the
	// watermark, the windows Idle closed by wall time: what the records
	// carry to be saved (withLatest), so that after a restart those
	// windows stay closed too. The live watermark does not use it.
	idleClosed int64
	// adopting: an Adopted line came and no timed line since; the next
	// timed line fixes the adoption windows of the aggregate rules
	// (adopt).
	adopting bool
	// retired are the rules a reload removed or replaced, still counted
	// in Stats.
	retired []*rule
}

// worker is the scratch space of the per-line work (matchLine): the line
// parsed once for every rule, the values a rule reads, and the slab the
// strings its points keep are copied to. Rules and counters are shared
// (read only, or atomic); a worker is not: each goroutine has its own.
type worker struct {
	lc   lineCtx
	vals []value
	kept keeper
	// src is the source of the latest line, nil before the first: lines
	// mostly come in runs of one source, and a string compare is cheaper
	// than a map lookup.
	src *source
	gen int // the Extractor's gen when src was cached
}

func (e *Extractor) newWorker() *worker {
	return &worker{vals: make([]value, e.maxNames), gen: e.gen}
}

// renew drops what w cached of the rules before a reload and makes room
// for the values of the new ones.
func (w *worker) renew(e *Extractor) {
	if w.gen == e.gen {
		return
	}
	w.gen, w.src = e.gen, nil
	if len(w.vals) < e.maxNames {
		w.vals = make([]value, e.maxNames)
	}
}

// matched is what matchLine found out about a line for placeLine: the
// point rec.Points[i] of the line's record was made by rules[i], and still
// has its own time (before separation).
type matched struct {
	src   *source // nil for a line of a source without rules
	rules []*rule
	taken bool // by some rule
	// filtered: some rule matched the line but a require block refused it.
	filtered bool
	// latest is the latest time a rule with a time block read from the
	// line, if timed: it moves the source's watermark.
	latest int64
	timed  bool
}

// ruleCounters count what happened to the lines a rule was offered.
type ruleCounters struct {
	taken, notTaken, filtered          atomic.Uint64
	points, aggregated                 atomic.Uint64
	timeErrors, conversionErrors       atomic.Uint64
	missing, noFields, compositeValues atomic.Uint64
	seriesTooLong, displaced           atomic.Uint64
	outside                            atomic.Uint64
	late, folded                       atomic.Uint64
	leftToBackfill                     atomic.Uint64
}

// SetLogger sets where samples of per-line problems are logged.
func (e *Extractor) SetLogger(l *slog.Logger) { e.log = l }

// SetRecycler sets where Run takes the point slices of its records from;
// the sink gives them back once it has encoded them.
func (e *Extractor) SetRecycler(r *pipeline.Recycler) { e.recycle = r }

// SetBudget sets the budget Run takes each record's points from before it
// sends the record; the sink gives them back once they are delivered.
func (e *Extractor) SetBudget(b *pipeline.Budget) { e.budget = b }

// SetWindow keeps only the points whose time, as parsed from their line,
// is in [since, until). The points outside are still separated, so that
// those inside get the times a run over every line gives them; they are
// counted (OutsideWindow), not emitted.
func (e *Extractor) SetWindow(since, until time.Time) {
	e.window, e.since, e.until = true, clampedNanos(since), clampedNanos(until)
}

// clampedNanos is t in Unix nanoseconds, clamped to what an int64 holds
// (1677 to 2262): t.UnixNano would wrap, and a bound such as 9999-12-31
// would exclude every time.
func clampedNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// Release frees the collision separator's state of a file no line of
// which follows (Run does it on a Line with EOF set).
func (e *Extractor) Release(file pipeline.FileID) {
	e.sep.release(file)
	e.endFile(file)
}

// LineTime returns the time of a line of source as the first rule with a
// time block that takes it parses it, without counting or separating
// anything: where a file starts, to read files in time order. ok is false
// when no such rule takes the line or its time does not parse.
func (e *Extractor) LineTime(source string, text string, modTime time.Time) (t time.Time, ok bool) {
	src := e.sources[source]
	if src == nil {
		return time.Time{}, false
	}
	w := e.w
	w.lc.reset(text)
	for _, r := range src.rules {
		if r.time == nil {
			continue
		}
		vals := w.vals[:len(r.names)]
		clear(vals)
		if !r.matcher.fill(&w.lc, vals) || !r.holds(vals) {
			continue
		}
		v := vals[r.timeAt]
		if !v.ok || v.composite {
			continue
		}
		if ns, err := r.time.parse(v.s, modTime); err == nil {
			return time.Unix(0, ns), true
		}
	}
	return time.Time{}, false
}

// maxSamples is how many lines no rule took are kept per source for
// `logmetrics test` to show.
const maxSamples = 5

// Extract applies the rules of line's source to it and appends their points
// to rec.Points (after resetting rec). A line no rule takes still yields rec,
// without points: it is the checkpoint that lets the file's position advance.
// An aggregate rule folds the line into its window instead; rec also gets
// the points of the windows the line closes, and rec.Hold says where the
// file's position must stay while windows with its lines are open.
//
// A replayed line (line.Replay) only brings the collision separator (and,
// under FeedFollowed, the aggregation watermark) to the state it had after
// the line before a restart: it is neither counted nor logged, and rec gets
// no points of its own.
//
// An Adopted line fixes its source's adoption windows (see adopt), which
// under FeedFollowed are left to backfill. An AggregateOnly line (backfill
// completing those windows) folds into them only: like a replayed line it
// is not counted, and it makes no point of its own nor touches the
// separator.
//
// A marker (line.HasLatest) is no line: it moves its source's latest time
// (see Line.Latest), and rec gets no origin and only the points of the
// windows that closes, if any were open.
//
// Nothing of line.Text is kept once Extract returns (the points' strings
// are copies), so the caller may hand in text that borrows a buffer it
// reuses, as `logmetrics test` does.
func (e *Extractor) Extract(line *pipeline.Line, rec *pipeline.Record) {
	if line.HasLatest {
		rec.Origin, rec.Hold = pipeline.Origin{}, pipeline.Hold{}
		dropFrom(rec, 0)
		e.mark(line, rec)
		return
	}
	e.matchLine(e.w, line, rec, &e.made)
	e.placeLine(line, rec, &e.made)
}

// Extraction comes in two parts, so that RunParallel can spread the costly
// one over goroutines and Extract, Run and RunParallel share both:
//   - matchLine, per line: matching, time parsing, conversion, everything
//     that depends on the line alone. Lines may go through it in any order,
//     on any goroutine with its own worker.
//   - placeLine, in file order: the collision separator, the window, the
//     samples of lines no rule took. It is cheap.
//
// Every counter is counted in exactly one of them, so the counts do not
// depend on how the lines were spread.

// matchLine is the per-line part of Extract: rec gets the points of line,
// each at its own time, and m what placeLine needs to finish them.
func (e *Extractor) matchLine(w *worker, line *pipeline.Line, rec *pipeline.Record, m *matched) {
	rec.Origin, rec.Hold, rec.LogTime = line.Origin, pipeline.Hold{}, 0
	rec.Points = rec.Points[:0]
	m.rules, m.taken, m.filtered, m.timed = m.rules[:0], false, false, false
	if w.src == nil || w.src.name != line.Source {
		w.src = e.sources[line.Source]
	}
	m.src = w.src
	if m.src == nil {
		if e.unknownSource.Add(1) == 1 {
			e.log.Error("bug: line from a source without rules", "source", line.Source, "file", line.Path)
		}
		return
	}
	w.lc.reset(line.Text)
	clear(w.vals) // a shorter rule would leave older lines' values
	for _, r := range m.src.rules {
		taken, made := e.match(w, r, line, rec, m)
		m.taken = m.taken || taken
		if made {
			m.rules = append(m.rules, r)
		}
	}
}

// placeLine is the in-order part of Extract: the points matchLine made get
// their times from the collision separator, those the separator finds no
// time for or the window leaves out are dropped, and a line no rule took is
// counted and sampled. The points of aggregate rules are folded into their
// windows instead, and the windows the line's time closes are appended.
// The lines of a file must come in file order.
func (e *Extractor) placeLine(line *pipeline.Line, rec *pipeline.Record, m *matched) {
	if m.src == nil {
		return
	}
	// Counted here, in line order with the line's points, not when it
	// is matched: a line is extracted once placed (see InFlight).
	if line.Replay || line.AggregateOnly {
		m.src.replayed.Add(1)
	} else {
		m.src.lines.Add(1)
	}
	if len(m.rules) != len(rec.Points) {
		panic("bug: placeLine with a record matchLine did not make")
	}
	// Under FeedFinite a replayed line leaves aggregation alone (see
	// aggregate.go).
	agg := len(m.src.aggs) > 0 && (!line.Replay || e.feed == FeedFollowed)
	var f *fileState
	var start int64
	if agg {
		f = e.file(line.File)
		f.src = m.src
		start = f.start(line)
		e.adopt(m.src, line, m)
		// The windows the line's time closes close first, so that the
		// line finds their tag sets gone (max_series); its own window
		// never closes by its own time.
		e.advance(m.src, line, m, &e.closing)
	}
	kept := 0
	for i, r := range m.rules {
		if r.agg != nil {
			if agg {
				e.fold(r, line, &rec.Points[i], f, start)
			}
			continue // dropped below, like a point not kept
		}
		if line.AggregateOnly {
			continue // the separator is left alone; dropped below
		}
		if e.place(r, line, &rec.Points[i]) {
			// Swapped, not overwritten: the dropped point's tag and
			// field slices stay for reuse beyond the end.
			rec.Points[kept], rec.Points[i] = rec.Points[i], rec.Points[kept]
			kept++
		}
	}
	if line.Replay || line.AggregateOnly {
		kept = 0 // delivered before the restart: only the state counts
	} else if m.timed {
		rec.LogTime = m.latest
		line.Progress.NoteRead(m.latest)
	}
	dropFrom(rec, kept)
	if agg {
		for i := range e.closing.Points {
			// Swapped: the slices of the slot rec reuses go back to
			// closing for the next window.
			p := nextPoint(rec)
			*p, e.closing.Points[i] = e.closing.Points[i], *p
		}
		e.closing.Points = e.closing.Points[:0]
		rec.Hold = m.src.withLatest(f.holdNow())
	}
	if line.Replay || line.AggregateOnly {
		return
	}
	switch {
	case m.taken:
		m.src.taken.Add(1)
		return
	case m.filtered:
		m.src.filtered.Add(1)
	default:
		m.src.notTaken.Add(1)
	}
	if n, sample := count(&m.src.unmatched); sample {
		e.log.Warn("no rule took the line", "source", m.src.name, "file", line.Path, "offset", line.Offset, "count", n)
	}
	m.src.sample(line)
}

// counts returns where r's work on line is counted: a replayed line was
// counted before the restart, so its counts go where nobody reads them.
func (r *rule) counts(line *pipeline.Line) *ruleCounters {
	if line.Replay || line.AggregateOnly {
		return &r.uncounted
	}
	return &r.counted
}

// match runs one rule on the line w holds (the per-line part) and reports
// whether the rule took it and whether it made a point, appended to rec
// with the point's own time.
func (e *Extractor) match(w *worker, r *rule, line *pipeline.Line, rec *pipeline.Record, m *matched) (taken, made bool) {
	c := r.counts(line)
	vals := w.vals[:len(r.names)]
	if !r.matcher.fill(&w.lc, vals) {
		c.notTaken.Add(1)
		return false, false
	}
	if !r.holds(vals) {
		c.filtered.Add(1)
		m.filtered = true
		return false, false
	}
	c.taken.Add(1)

	ts := line.ReadAt.UnixNano()
	if r.time != nil {
		v := vals[r.timeAt]
		if !v.ok || v.composite {
			e.problem(r, &c.timeErrors, line, "time missing", r.names[r.timeAt], "")
			return true, false
		}
		t, err := r.time.parse(v.s, line.ModTime)
		if err != nil {
			e.problem(r, &c.timeErrors, line, "bad time", r.names[r.timeAt], err.Error())
			return true, false
		}
		ts = t
		if !m.timed || t > m.latest {
			m.latest, m.timed = t, true
		}
	}

	p := nextPoint(rec)
	p.Measurement = r.measurement
	for _, tp := range r.tags {
		val := tp.static
		if tp.at >= 0 {
			v := vals[tp.at]
			switch {
			case v.composite:
				e.problem(r, &c.compositeValues, line, "object or array as tag", tp.key, "")
			case v.ok && v.s != "" && tp.rewrites == nil:
				val = w.kept.keep(v.s)
			case v.ok && v.s != "":
				switch s, fresh, tooLong := rewriteValue(tp.rewrites, v.s); {
				case tooLong: // as if missing: the static value, if any
					e.problem(r, &c.missing, line, "value too long to rewrite", tp.key, v.s[:min(len(v.s), 200)])
				case s == "": // as if missing: the static value, if any
					e.problem(r, &c.missing, line, "rewrite left the tag empty", tp.key, v.s)
				case fresh:
					val = s // a copy already, like kept strings
				default:
					val = w.kept.keep(s)
				}
			}
		}
		if val != "" {
			p.Tags = append(p.Tags, pipeline.Tag{Key: tp.key, Value: val})
		}
	}
	for _, fp := range r.fields {
		if r.agg != nil && !aggregated(fp.typ) {
			continue // a string or bool: nothing to aggregate
		}
		v := vals[fp.at]
		switch {
		case v.composite:
			e.problem(r, &c.compositeValues, line, "object or array as field", fp.key, "")
			continue
		case !v.ok || (v.s == "" && fp.typ != TypeString):
			c.missing.Add(1)
			continue
		}
		fv, err := convert(v.s, fp.typ, fp.scale)
		if err != nil {
			e.problem(r, &c.conversionErrors, line, "bad value", fp.key, v.s)
			continue
		}
		if fv.Kind == pipeline.String {
			fv = pipeline.StringValue(w.kept.keep(fv.Str()))
		}
		p.Fields = append(p.Fields, pipeline.Field{Key: fp.key, Value: fv})
	}
	if len(p.Fields) == 0 && r.agg == nil { // an aggregated line counts without fields
		dropFrom(rec, len(rec.Points)-1)
		e.problem(r, &c.noFields, line, "point without fields dropped", "", "")
		return true, false
	}
	if n := seriesBytes(p); n > maxSeriesBytes {
		dropFrom(rec, len(rec.Points)-1)
		e.problem(r, &c.seriesTooLong, line, "point with too long a series key dropped", "", strconv.Itoa(n))
		return true, false
	}
	p.Time = ts
	return true, true
}

// place gives p, the point r made from line, its time (the in-order part),
// and reports whether p is kept: not when the separator finds no time for
// it or its own time is outside the window.
func (e *Extractor) place(r *rule, line *pipeline.Line, p *pipeline.Point) bool {
	c := r.counts(line)
	ts := p.Time // its own, from match
	t, how := e.sep.stamp(line.File, p, ts)
	switch how {
	case noTime:
		e.problem(r, &c.timeErrors, line, "bad time", r.names[r.timeAt], "no time left to separate the point from others of its series before InfluxDB's last storable time")
		return false
	case displaced:
		e.problemWith(r, &c.displaced, line, "point placed after times forgotten to bound memory", "", func() string {
			return time.Unix(0, ts).UTC().Format(time.RFC3339Nano)
		})
	}
	if e.window && (ts < e.since || ts >= e.until) {
		c.outside.Add(1)
		return false
	}
	p.Time = t
	c.points.Add(1)
	return true
}

// holds reports whether the rule's require blocks all hold for vals.
func (r *rule) holds(vals []value) bool {
	for i := range r.require {
		if !r.require[i].holds(vals[r.require[i].at]) {
			return false
		}
	}
	return true
}

// maxSeriesBytes bounds the measurement and tags of a point. InfluxDB
// refuses series keys over 65535 bytes after escaping, and line protocol can
// make a byte three (U+FFFD for a byte it cannot carry); one such point
// would make InfluxDB refuse or half-write its whole batch.
const maxSeriesBytes = 65535 / 3

func seriesBytes(p *pipeline.Point) int {
	n := len(p.Measurement)
	for _, t := range p.Tags {
		n += len(t.Key) + len(t.Value) + 2
	}
	return n
}

// nextPoint appends an empty point to rec, reusing the tag and field slices
// a reused record already has.
func nextPoint(rec *pipeline.Record) *pipeline.Point {
	n := len(rec.Points)
	if n < cap(rec.Points) {
		rec.Points = rec.Points[:n+1]
	} else {
		rec.Points = append(rec.Points, pipeline.Point{})
	}
	p := &rec.Points[n]
	p.Tags, p.Fields = p.Tags[:0], p.Fields[:0]
	return p
}

// dropFrom removes the points from rec.Points[n] on. Their tag and field
// slices stay for reuse, emptied: a recycled record would otherwise hold the
// values beyond its last point until the slot is used again.
func dropFrom(rec *pipeline.Record, n int) {
	for i := n; i < len(rec.Points); i++ {
		p := &rec.Points[i]
		clear(p.Tags)
		clear(p.Fields)
		p.Tags, p.Fields = p.Tags[:0], p.Fields[:0]
	}
	rec.Points = rec.Points[:n]
}

// problem counts a per-line problem of rule r, and logs a sample unless the
// line is replayed (then it was logged before the restart).
func (e *Extractor) problem(r *rule, c *atomic.Uint64, line *pipeline.Line, what, name, detail string) {
	if n, sample := count(c); sample && !line.Replay && !line.AggregateOnly {
		e.log.Warn(what, "rule", r.name, "key", name, "detail", detail, "file", line.Path, "offset", line.Offset, "count", n)
	}
}

// problemWith is problem with a detail that costs an allocation to write,
// so it is written only for a sample.
func (e *Extractor) problemWith(r *rule, c *atomic.Uint64, line *pipeline.Line, what, name string, detail func() string) {
	if n, sample := count(c); sample && !line.Replay && !line.AggregateOnly {
		e.log.Warn(what, "rule", r.name, "key", name, "detail", detail(), "file", line.Path, "offset", line.Offset, "count", n)
	}
}

// count adds one to c and says whether to log this event: at counts 1, 10,
// 100, ... a sample with file and offset is logged, never a flood. The
// counters are the record.
func count(c *atomic.Uint64) (uint64, bool) {
	n := c.Add(1)
	return n, pipeline.Sampled(n)
}

func (s *source) sample(line *pipeline.Line) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) >= maxSamples {
		return
	}
	// A copy either way: the caller may reuse the line's bytes (see
	// Extract).
	text := line.Text
	if len(text) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(text[cut]) { // keep whole characters
			cut--
		}
		text = text[:cut] + "…"
	} else {
		text = strings.Clone(text)
	}
	s.samples = append(s.samples, Sample{Origin: line.Origin, Text: text})
}

// Run extracts every line from in and sends one record per line to out. It
// closes out when in is closed or ctx is done. With a budget, a record is
// sent only once its points are acquired; what the sink gives back lets the
// next one go.
//
// With aggregate rules, under FeedFinite the windows still open when in
// closes are sent (Flush) in a record with no origin; under FeedFollowed
// they stay open, and every second the windows of quiet sources are sent
// (Idle) in a record with no origin, followed by a record without points
// for each file whose hold moved (its latest line's origin, its new hold).
// When ctx is done nothing more is sent: the positions held keep the lines
// of open windows for the next start.
func (e *Extractor) Run(ctx context.Context, in <-chan pipeline.Line, out chan<- pipeline.Record) error {
	defer close(out)
	tick, stop := e.idleTicker()
	defer func() { stop() }()
	for {
		if tick == nil && e.feed == FeedFollowed && e.aggregates { // a reload added aggregate rules
			tick, stop = e.idleTicker()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if len(in) > 0 {
				continue // lines waiting: no source is known to be quiet
			}
			if !e.idle(ctx, out) {
				return nil
			}
		case line, ok := <-in:
			if !ok {
				e.end(ctx, out)
				return nil
			}
			var rec pipeline.Record
			if line.Replay {
				rec = e.replayRec
			}
			e.matchItem(e.w, &line, &rec, &e.made)
			if !e.finishItem(ctx, &line, &rec, &e.made, out) {
				return nil
			}
			if line.Replay {
				e.replayRec = rec // its points go nowhere: reused
			}
		}
	}
}

// idleTicker returns the ticks of Idle under FeedFollowed with aggregate
// rules (else a nil channel) and what stops it; it also turns checkpoints
// on.
func (e *Extractor) idleTicker() (<-chan time.Time, func()) {
	if e.feed != FeedFollowed || !e.aggregates {
		return nil, func() {}
	}
	e.checkpointing = true
	t := time.NewTicker(idleEvery)
	return t.C, t.Stop
}

// idle sends the windows Idle closes and the checkpoints of the files
// whose holds moved. It returns false once ctx is done.
func (e *Extractor) idle(ctx context.Context, out chan<- pipeline.Record) bool {
	rec := pipeline.Record{Points: e.recycle.Get()}
	e.Idle(time.Now(), &rec)
	if len(rec.Points) == 0 {
		e.recycle.Put(rec.Points) // unused: back for the next record
	} else if !e.send(ctx, &rec, out) {
		return false
	}
	return e.checkpoints(ctx, out)
}

// Cut says that the input of Run or RunParallel will close before its end
// (an interrupted backfill): the windows still open then are partial, and
// are not sent (a full run later writes them whole). It is safe to call
// from any goroutine, before the input is closed.
func (e *Extractor) Cut() { e.cut.Store(true) }

// end is the end of the input: under FeedFinite every open window is sent,
// unless the input was Cut.
func (e *Extractor) end(ctx context.Context, out chan<- pipeline.Record) {
	if e.feed != FeedFinite || !e.aggregates || e.cut.Load() {
		return
	}
	rec := pipeline.Record{Points: e.recycle.Get()}
	e.Flush(&rec)
	if len(rec.Points) > 0 {
		e.send(ctx, &rec, out)
	}
}

// send acquires rec's points and sends rec to out, which then owns it (rec
// is reset). It returns false once ctx is done. A send that had to wait
// for the sink is noted: the tailers may have waited too (see Idle).
func (e *Extractor) send(ctx context.Context, rec *pipeline.Record, out chan<- pipeline.Record) bool {
	var began time.Time
	if e.checkpointing {
		began = time.Now()
	}
	if e.budget.Acquire(ctx, len(rec.Points)) != nil {
		return false
	}
	select {
	case out <- *rec:
		*rec = pipeline.Record{}
	case <-ctx.Done():
		e.budget.Release(len(rec.Points))
		return false
	}
	if e.checkpointing {
		if now := time.Now(); now.Sub(began) > stallAfter {
			e.stalledAt = now
		}
	}
	return true
}

// checkpoints sends, for each file whose hold moved since a record of it
// last carried one, a record without points with the origin of its latest
// line and its hold now, so that its position moves although no line of
// it comes (a quiet file, a rotated one). It returns false once ctx is
// done.
func (e *Extractor) checkpoints(ctx context.Context, out chan<- pipeline.Record) bool {
	for _, f := range e.dirty {
		f.dirty = false
		if h := f.holdNow(); f.seen && (h.Hold != f.sent.Hold || h.Held != f.sent.Held) {
			rec := pipeline.Record{Origin: f.origin, Hold: f.src.withLatest(h)}
			if !e.send(ctx, &rec, out) {
				return false
			}
			f.sent = h
		}
		e.forget(f)
	}
	clear(e.dirty)
	e.dirty = e.dirty[:0]
	return true
}

// matchItem is the per-line work of Run and RunParallel on a line from
// their input. A record that will cross to the sink takes its point slice
// from the recycler; the sink gives it back once it has encoded it.
func (e *Extractor) matchItem(w *worker, line *pipeline.Line, rec *pipeline.Record, m *matched) {
	if line.EOF || line.HasLatest || line.Rules != nil {
		return
	}
	w.renew(e)
	if rec.Points == nil && !line.Replay {
		rec.Points = e.recycle.Get()
	}
	e.matchLine(w, line, rec, m)
}

// finishItem is the in-order work of Run and RunParallel on a line from
// their input, after matchItem: a line with EOF set frees its file's
// separator state, a replayed line only advances it, and any other line's
// record goes to out, then belongs to the sink (rec is reset), followed by
// the checkpoints of other files whose holds the line moved. While the
// points held downstream are at the budget, it waits: the reader stops
// reading meanwhile. It returns false once ctx is done.
func (e *Extractor) finishItem(ctx context.Context, line *pipeline.Line, rec *pipeline.Record, m *matched, out chan<- pipeline.Record) bool {
	if line.EOF {
		e.Release(line.File)
		return true
	}
	if line.Rules != nil {
		return e.reload(ctx, line.Rules, out)
	}
	if line.HasLatest { // a marker: only the windows it closes are sent
		closed := pipeline.Record{Points: e.recycle.Get()}
		e.mark(line, &closed)
		if len(closed.Points) == 0 {
			e.recycle.Put(closed.Points)
			return true
		}
		return e.send(ctx, &closed, out) && (!e.checkpointing || e.checkpoints(ctx, out))
	}
	e.placeLine(line, rec, m)
	// A replayed line is sent only with the points of windows it closed
	// (lines of other files read since the restart were in them): its
	// origin and hold cannot move a position back.
	if line.Replay && len(rec.Points) == 0 {
		return true
	}
	if !e.checkpointing {
		return e.send(ctx, rec, out)
	}
	if f := e.lastFile; f != nil && f.id == line.File && m.src != nil && len(m.src.aggs) > 0 {
		f.sent = rec.Hold
	}
	return e.send(ctx, rec, out) && e.checkpoints(ctx, out)
}
