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
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// Extractor applies compiled rules to lines. It is not safe for concurrent
// use (it keeps per-file state to separate colliding points), but Stats may
// be called from any goroutine.
type Extractor struct {
	sources map[string]*source
	order   []*source
	log     *slog.Logger
	sep     *separator
	lc      lineCtx
	vals    []value
	kept    keeper
	recycle *pipeline.Recycler
	budget  *pipeline.Budget
	// replayRec takes the points of replayed lines, which go nowhere.
	replayRec pipeline.Record
	// window, when set, keeps only the points whose own time (before
	// separation) is in [since, until): see SetWindow.
	window       bool
	since, until int64

	unknownSource atomic.Uint64
}

type source struct {
	name      string
	rules     []*rule
	lines     atomic.Uint64
	unmatched atomic.Uint64
	replayed  atomic.Uint64 // lines replayed after a restart, not in lines

	mu      sync.Mutex
	samples []Sample
}

// ruleCounters count what happened to the lines a rule was offered.
type ruleCounters struct {
	taken, notTaken, filtered          atomic.Uint64
	points, aggregated                 atomic.Uint64
	timeErrors, conversionErrors       atomic.Uint64
	missing, noFields, compositeValues atomic.Uint64
	seriesTooLong, displaced           atomic.Uint64
	outside                            atomic.Uint64
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
	e.window, e.since, e.until = true, since.UnixNano(), until.UnixNano()
}

// Release frees the collision separator's state of a file no line of
// which follows (Run does it on a Line with EOF set).
func (e *Extractor) Release(file pipeline.FileID) { e.sep.release(file) }

// LineTime returns the time of a line of source as the first rule with a
// time block that takes it parses it, without counting or separating
// anything: where a file starts, to read files in time order. ok is false
// when no such rule takes the line or its time does not parse.
func (e *Extractor) LineTime(source string, text string, modTime time.Time) (t time.Time, ok bool) {
	src := e.sources[source]
	if src == nil {
		return time.Time{}, false
	}
	e.lc.reset(text)
	for _, r := range src.rules {
		if r.time == nil {
			continue
		}
		vals := e.vals[:len(r.names)]
		clear(vals)
		if !r.matcher.fill(&e.lc, vals) || !r.holds(vals) {
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
//
// A replayed line (line.Replay) only brings the collision separator to the
// state it had after the line before a restart: it is neither counted nor
// logged, and rec gets no points.
func (e *Extractor) Extract(line *pipeline.Line, rec *pipeline.Record) {
	rec.Origin = line.Origin
	rec.Points = rec.Points[:0]
	src := e.sources[line.Source]
	if src == nil {
		if e.unknownSource.Add(1) == 1 {
			e.log.Error("bug: line from a source without rules", "source", line.Source, "file", line.Path)
		}
		return
	}
	if line.Replay {
		e.replay(src, line, rec)
		return
	}
	src.lines.Add(1)
	e.lc.reset(line.Text)
	clear(e.vals) // a shorter rule would leave older lines' values
	taken := false
	for _, r := range src.rules {
		if e.apply(r, line, rec) {
			taken = true
		}
	}
	if !taken {
		if n, sample := count(&src.unmatched); sample {
			e.log.Warn("no rule took the line", "source", src.name, "file", line.Path, "offset", line.Offset, "count", n)
		}
		src.sample(line)
	}
}

// replay applies src's rules to a replayed line with scratch counters and
// no logging, and drops its points.
func (e *Extractor) replay(src *source, line *pipeline.Line, rec *pipeline.Record) {
	src.replayed.Add(1)
	e.lc.reset(line.Text)
	log := e.log
	e.log = slog.New(slog.DiscardHandler)
	var scratch ruleCounters
	for _, r := range src.rules {
		r.stats = &scratch
		e.apply(r, line, rec)
		r.stats = &r.counted
	}
	e.log = log
	rec.Points = rec.Points[:0]
}

// apply runs one rule on the current line and reports whether it took it.
func (e *Extractor) apply(r *rule, line *pipeline.Line, rec *pipeline.Record) bool {
	vals := e.vals[:len(r.names)]
	if !r.matcher.fill(&e.lc, vals) {
		r.stats.notTaken.Add(1)
		return false
	}
	if !r.holds(vals) {
		r.stats.filtered.Add(1)
		return false
	}
	r.stats.taken.Add(1)

	ts := line.ReadAt.UnixNano()
	if r.time != nil {
		v := vals[r.timeAt]
		if !v.ok || v.composite {
			e.problem(r, &r.stats.timeErrors, line, "time missing", r.names[r.timeAt], "")
			return true
		}
		t, err := r.time.parse(v.s, line.ModTime)
		if err != nil {
			e.problem(r, &r.stats.timeErrors, line, "bad time", r.names[r.timeAt], err.Error())
			return true
		}
		ts = t
	}
	if r.aggregate {
		r.stats.aggregated.Add(1)
		return true
	}

	p := nextPoint(rec)
	p.Measurement = r.measurement
	for _, tp := range r.tags {
		val := tp.static
		if tp.at >= 0 {
			v := vals[tp.at]
			switch {
			case v.composite:
				e.problem(r, &r.stats.compositeValues, line, "object or array as tag", tp.key, "")
			case v.ok && v.s != "":
				val = e.kept.keep(v.s)
			}
		}
		if val != "" {
			p.Tags = append(p.Tags, pipeline.Tag{Key: tp.key, Value: val})
		}
	}
	for _, fp := range r.fields {
		v := vals[fp.at]
		switch {
		case v.composite:
			e.problem(r, &r.stats.compositeValues, line, "object or array as field", fp.key, "")
			continue
		case !v.ok || (v.s == "" && fp.typ != TypeString):
			r.stats.missing.Add(1)
			continue
		}
		fv, err := convert(v.s, fp.typ, fp.scale)
		if err != nil {
			e.problem(r, &r.stats.conversionErrors, line, "bad value", fp.key, v.s)
			continue
		}
		if fv.Kind == pipeline.String {
			fv = pipeline.StringValue(e.kept.keep(fv.Str()))
		}
		p.Fields = append(p.Fields, pipeline.Field{Key: fp.key, Value: fv})
	}
	if len(p.Fields) == 0 {
		dropLast(rec)
		e.problem(r, &r.stats.noFields, line, "point without fields dropped", "", "")
		return true
	}
	if n := seriesBytes(p); n > maxSeriesBytes {
		dropLast(rec)
		e.problem(r, &r.stats.seriesTooLong, line, "point with too long a series key dropped", "", strconv.Itoa(n))
		return true
	}
	t, how := e.sep.stamp(line.File, p, ts)
	switch how {
	case noTime:
		dropLast(rec)
		e.problem(r, &r.stats.timeErrors, line, "bad time", r.names[r.timeAt], "no time left to separate the point from others of its series before InfluxDB's last storable time")
		return true
	case displaced:
		e.problem(r, &r.stats.displaced, line, "point placed after times forgotten to bound memory", "", time.Unix(0, ts).UTC().Format(time.RFC3339Nano))
	}
	if e.window && (ts < e.since || ts >= e.until) {
		dropLast(rec)
		r.stats.outside.Add(1)
		return true
	}
	p.Time = t
	r.stats.points.Add(1)
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

// dropLast removes the point apply was making. Its tag and field slices stay
// for reuse, emptied: a recycled record would otherwise hold the values
// beyond its last point until the slot is used again.
func dropLast(rec *pipeline.Record) {
	p := &rec.Points[len(rec.Points)-1]
	clear(p.Tags)
	clear(p.Fields)
	p.Tags, p.Fields = p.Tags[:0], p.Fields[:0]
	rec.Points = rec.Points[:len(rec.Points)-1]
}

// problem counts a per-line problem of rule r.
func (e *Extractor) problem(r *rule, c *atomic.Uint64, line *pipeline.Line, what, name, detail string) {
	if n, sample := count(c); sample {
		e.log.Warn(what, "rule", r.name, "key", name, "detail", detail, "file", line.Path, "offset", line.Offset, "count", n)
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
	text := line.Text
	if len(text) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(text[cut]) { // keep whole characters
			cut--
		}
		text = text[:cut] + "…"
	}
	s.samples = append(s.samples, Sample{Origin: line.Origin, Text: text})
}

// Run extracts every line from in and sends one record per line to out. It
// closes out when in is closed or ctx is done. With a budget, a record is
// sent only once its points are acquired; what the sink gives back lets the
// next one go.
func (e *Extractor) Run(ctx context.Context, in <-chan pipeline.Line, out chan<- pipeline.Record) error {
	defer close(out)
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-in:
			if !ok {
				return nil
			}
			if line.EOF {
				e.sep.release(line.File)
				continue
			}
			if line.Replay {
				// Delivered before the restart: only the state counts.
				e.Extract(&line, &e.replayRec)
				continue
			}
			// The record crosses to the sink, so it cannot be reused
			// here; its points come back through the recycler.
			rec := pipeline.Record{Points: e.recycle.Get()}
			e.Extract(&line, &rec)
			// While the points held downstream are at the budget, wait:
			// the tailer stops reading meanwhile.
			if e.budget.Acquire(ctx, len(rec.Points)) != nil {
				return nil
			}
			select {
			case out <- rec:
			case <-ctx.Done():
				e.budget.Release(len(rec.Points))
				return nil
			}
		}
	}
}
