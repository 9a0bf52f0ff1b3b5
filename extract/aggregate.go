package extract

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// Aggregation by log time.
//
// A rule with an aggregate block folds each line it takes into a window of
// its tag set: windows are aligned to multiples of Window since the Unix
// epoch, by the time parsed from the line, never by the clock. A window is
// emitted once, as one point stamped with its start, when it closes:
//   - when its source's watermark passes its end: the latest time seen in a
//     line of the source, less the rule's Lateness;
//   - when the source has had no line for Window+Lateness of wall time
//     (Idle, from Run under FeedFollowed);
//   - at the end of a finite input (Flush; Run and RunParallel under
//     FeedFinite when their input closes).
//
// A line whose window has closed is late: counted and dropped, so that no
// window is ever written twice (a second, partial point would overwrite
// the first). Nothing here reads the clock but Idle, so the same lines in
// the same order give the same points, live or backfilled.
//
// Aggregated points are not separated (the collision separator): a rule
// writes one point per window and tag set, so two of them never share a
// series and time, and a nudge would move the point off its window start.
//
// Restarts. A file's committed position never passes the first line of a
// window still open (Record.Hold), so a restart reads those lines again and
// recomputes the window. The lines before the committed position come back
// as Replay lines: under FeedFollowed they move the watermark as they did
// before the restart, and a window that gets one is a ghost: it was closed
// and delivered before the restart (else the position could not have passed
// its line), so it folds nothing and emits nothing, and the lines read
// again after the position that belong to it are dropped instead of
// making a partial point. Under FeedFinite (test, backfill) replayed lines
// only rebuild the separator, as for per-line rules.
//
// Adoption. A file run began at its end (start_at = "end") has lines
// before that point in the windows up to the one in progress there, which
// only backfill reads: run writes none of those windows, backfill writes
// them whole (adopt, Line.Adopted, Line.AggregateOnly).

// Feed says what kind of input Run and RunParallel read, which decides
// what happens to windows still open when nothing more comes.
type Feed int

const (
	// FeedFinite is a finite input (test, backfill): when the input
	// closes, every open window is emitted; there is no idle flush, and
	// replayed lines do not touch aggregation.
	FeedFinite Feed = iota
	// FeedFollowed is followed files (run): windows of a source quiet for
	// Window+Lateness of wall time are emitted on a ticker (Idle); when the
	// input closes, open windows are left open (not emitted): the
	// positions of their lines are held, so the next start reads those
	// lines again and completes them. Replayed lines rebuild the
	// watermark and mark the windows delivered before the restart.
	FeedFollowed
)

// SetFeed sets the kind of input Run and RunParallel read; the default is
// FeedFinite.
func (e *Extractor) SetFeed(f Feed) { e.feed = f }

// Aggregation limits and defaults.
const (
	// DefaultMaxSeries is the tag sets a rule keeps open when MaxSeries
	// is 0; beyond them, lines fold into the tag set "other".
	DefaultMaxSeries = 10000
	// SketchAccuracy is the relative accuracy of the percentiles: a pNN
	// is within 1% of the value of rank NN/100·(n-1) among the window's n
	// values.
	SketchAccuracy = 0.01
	// maxAhead is how far after the moment its line was read a time may
	// be for aggregation: a line dated further ahead (a clock jump, a
	// corrupt year) would otherwise close every window of its source at
	// once, making every later line late, or hold its file's position
	// for years. It is counted as a bad time.
	maxAhead = 24 * time.Hour
	// idleEvery is how often Run looks for quiet sources.
	idleEvery = time.Second
	// stallAfter: a send to the sink that waited longer than this means
	// the tailers may have been held up too, so no source is idle until
	// Window+Lateness after it.
	stallAfter = 10 * time.Millisecond
	// maxFreeWindows bounds the closed windows a rule keeps for reuse.
	maxFreeWindows = 256
	// exactValues: a field's first values in a window are kept as they
	// are, and its percentiles are exact while it has no more; the sketch
	// starts with the next. Most windows of a quiet tag set then cost no
	// sketch at all, in memory or in time.
	exactValues = 8
	// otherValue is the tag value of the lines folded past MaxSeries.
	otherValue = "other"
)

// sketchMapping is the index mapping of every sketch: immutable, shared.
// The cubically interpolated mapping keeps the relative accuracy of the
// logarithmic one and is faster to compute (no logarithm).
var sketchMapping = func() mapping.IndexMapping {
	m, err := mapping.NewCubicallyInterpolatedMapping(SketchAccuracy)
	if err != nil {
		panic("bug: " + err.Error())
	}
	return m
}()

func newSketch() *ddsketch.DDSketch {
	// Buffered paginated stores: a window with few values costs a few
	// words, not a dense array spanning their range.
	return ddsketch.NewDDSketch(sketchMapping, store.NewBufferedPaginatedStore(), store.NewBufferedPaginatedStore())
}

// The stats of a field.
type statKind uint8

const (
	statSum statKind = iota
	statMin
	statMax
	statMean
	statQuantile
)

type aggStat struct {
	kind statKind
	q    float64 // statQuantile: in (0, 1)
	name string  // as listed: "sum", "p99.9"
}

// aggField is a numeric field of an aggregate rule and the keys of what it
// emits: keys[i] for stats[i], buckets[i] for bounds[i] and one for +Inf.
type aggField struct {
	key     string
	keys    []string
	buckets []string
}

// aggPlan is the compiled aggregate block of a rule.
type aggPlan struct {
	window, lateness int64
	maxSeries        int
	stats            []aggStat // count left out: it is always written
	sketch           bool      // some stat is a percentile
	bounds           []float64
	fields           []aggField // the numeric fields, in r.fields order
	otherTags        []pipeline.Tag
	otherKey         string // appendTagsKey of otherTags
}

// CountKey is the field of every aggregated point that counts the lines of
// its window.
const CountKey = "count"

var quantilePattern = regexp.MustCompile(`^p([0-9]+(\.[0-9]+)?)$`)

// StatKey returns the field key of a stat of field: "<field>_<stat>", with
// the dot of a percentile such as p99.9 written as an underscore
// ("request_time_p99_9"), since InfluxQL would need quotes around a dot.
func StatKey(field, stat string) string {
	return field + "_" + strings.ReplaceAll(stat, ".", "_")
}

// BucketKey returns the field key of the histogram bucket of field with
// upper bound le (inclusive), cumulative as Prometheus' le buckets:
// "<field>_bucket_le_<bound>" with the bound in plain decimal
// ("request_time_bucket_le_0.005"), and "<field>_bucket_le_inf" for +Inf.
func BucketKey(field string, le float64) string {
	if math.IsInf(le, 1) {
		return field + "_bucket_le_inf"
	}
	return field + "_bucket_le_" + strconv.FormatFloat(le, 'f', -1, 64)
}

// compileAggregate checks an aggregate block and compiles it for r, whose
// fields and tags are compiled already.
func compileAggregate(a *Aggregate, r *rule) (*aggPlan, []error) {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, &partError{"aggregate", fmt.Errorf(format, args...)})
	}
	p := &aggPlan{window: int64(a.Window), lateness: int64(a.Lateness), maxSeries: a.MaxSeries}
	switch {
	case a.Window <= 0:
		fail("window must be greater than 0")
	case (24*time.Hour)%a.Window != 0:
		fail("window %s does not divide a day: windows would not start at the same times every day", a.Window)
	}
	if a.Lateness < 0 {
		fail("lateness must be 0s or more")
	}
	if p.maxSeries == 0 {
		p.maxSeries = DefaultMaxSeries
	} else if p.maxSeries < 0 {
		fail("max_series must be at least 1")
	}
	seen := map[string]bool{}
	for _, s := range a.Stats {
		if seen[s] {
			fail("stat %q is listed twice", s)
		}
		seen[s] = true
		st := aggStat{name: s}
		switch s {
		case "count":
			continue // the window's count is always written
		case "sum":
			st.kind = statSum
		case "min":
			st.kind = statMin
		case "max":
			st.kind = statMax
		case "mean":
			st.kind = statMean
		default:
			m := quantilePattern.FindStringSubmatch(s)
			var q float64
			if m != nil {
				q, _ = strconv.ParseFloat(m[1], 64)
			}
			if m == nil || q <= 0 || q >= 100 {
				fail("unknown stat %q: use count, sum, min, max, mean or a percentile pNN with 0 < NN < 100", s)
				continue
			}
			st.kind, st.q = statQuantile, q/100
			p.sketch = true
		}
		p.stats = append(p.stats, st)
	}
	for i, b := range a.Buckets {
		if math.IsNaN(b) || math.IsInf(b, 0) || (i > 0 && b <= a.Buckets[i-1]) {
			fail("bucket bounds must be finite and increase")
			break
		}
	}
	p.bounds = a.Buckets
	for _, fp := range r.fields {
		if !aggregated(fp.typ) {
			continue
		}
		f := aggField{key: fp.key}
		for _, st := range p.stats {
			f.keys = append(f.keys, StatKey(fp.key, st.name))
		}
		if len(p.bounds) > 0 {
			for _, b := range p.bounds {
				f.buckets = append(f.buckets, BucketKey(fp.key, b))
			}
			f.buckets = append(f.buckets, BucketKey(fp.key, math.Inf(1)))
		}
		p.fields = append(p.fields, f)
	}
	for _, tp := range r.tags {
		v := tp.static
		if tp.at >= 0 {
			v = otherValue
		}
		p.otherTags = append(p.otherTags, pipeline.Tag{Key: tp.key, Value: v})
	}
	p.otherKey = string(appendTagsKey(nil, p.otherTags))
	return p, errs
}

// aggregated reports whether fields of type t are aggregated: numbers are;
// strings and bools are not (a window's count counts its lines).
func aggregated(t Type) bool {
	return t != TypeString && t != TypeBool
}

// aggregator is the state of an aggregate rule: its open windows, by tag
// set and by start.
type aggregator struct {
	plan *aggPlan
	// series are the tag sets by key (appendTagsKey): the open ones
	// (with a window open), open of them, and the parked ones. other,
	// once needed, is the tag set of the lines folded past maxSeries; it
	// is not in series and does not count against maxSeries.
	series map[string]*aggSeries
	open   int
	other  *aggSeries
	// parked are tag sets whose last window closed: they stay in series
	// until the next closing after the one that parked them (gen counts
	// closings), so that a tag set that comes back soon costs nothing.
	// A parked tag set is not open: it reopens only within maxSeries.
	parked []*aggSeries
	gen    uint64
	// slots are the open windows grouped by start, in increasing order;
	// each slot's windows are in the order they were opened, which is the
	// order they are emitted in.
	slots []*slot
	// closedTo: every window ending at or before it is closed. A line of
	// such a window is late.
	closedTo int64
	// adopted: the windows starting at or before adoptedTo are the
	// adoption windows of a file run began from its end (adopt).
	adopted     bool
	adoptedTo   int64
	warnedAdopt bool
	warned      bool // about the fold
	key         []byte
	free        []*window
	freeSlot    []*slot
}

type aggSeries struct {
	key      string
	tags     []pipeline.Tag // owned copies
	open     []*window      // by start
	parkedAt uint64         // the closing that parked it
	inParked bool           // in aggregator.parked
}

type slot struct {
	start int64
	wins  []*window
}

type window struct {
	series *aggSeries
	start  int64
	// ghost: a replayed line fell into it, so it was delivered before the
	// restart: it keeps nothing and emits nothing.
	ghost  bool
	count  int64
	fields []fieldAgg
	// holds are where the window's first line from each file starts: the
	// file's position must not pass it while the window is open.
	holds []fileHold
	// holdIndex finds a file among many holds.
	holdIndex map[*fileState]bool
}

type fileHold struct {
	f   *fileState
	off int64
}

// fieldAgg accumulates one field of one window.
type fieldAgg struct {
	n int64 // values folded
	// sum, min and max hold an int64, a uint64 or a float64, by the
	// field's kind. An integer sum is kept in 128 bits, sumHi its high
	// word, so that it is exact whatever the order of the values, and
	// saturates only when written.
	sum, min, max uint64
	sumHi         uint64
	kind          pipeline.Kind
	// few are the first values, up to exactValues; sketch, once more
	// came, has them all.
	few    [exactValues]float64
	sketch *ddsketch.DDSketch
	// below[i] counts the values in (bounds[i-1], bounds[i]].
	below []uint64
}

func newAggregator(p *aggPlan) *aggregator {
	return &aggregator{plan: p, series: map[string]*aggSeries{}, closedTo: math.MinInt64}
}

// windowStart returns the start of the window of time t, and false when it
// would start before InfluxDB's first storable time.
func (p *aggPlan) windowStart(t int64) (int64, bool) {
	m := t % p.window
	if m < 0 {
		m += p.window
	}
	ws := t - m
	return ws, ws <= t && ws >= minStorable
}

// end is the end of the window starting at ws, saturated.
func (p *aggPlan) end(ws int64) int64 {
	if ws > math.MaxInt64-p.window {
		return math.MaxInt64
	}
	return ws + p.window
}

// fold adds the point r made of line (its own time, its tags, its numeric
// fields) to its window. start is where the line starts in its file.
func (e *Extractor) fold(r *rule, line *pipeline.Line, p *pipeline.Point, f *fileState, start int64) {
	a := r.agg
	c := r.counts(line)
	if !line.ReadAt.IsZero() && p.Time > clampedNanos(line.ReadAt.Add(maxAhead)) {
		e.problem(r, &c.timeErrors, line, "bad time", r.names[r.timeAt], "more than a day after the line was read: not aggregated")
		return
	}
	ws, ok := a.plan.windowStart(p.Time)
	if !ok {
		e.problem(r, &c.timeErrors, line, "bad time", r.names[r.timeAt], "its window would start before InfluxDB's first storable time")
		return
	}
	if a.adopted && (line.AggregateOnly || e.feed == FeedFollowed) {
		// The adoption windows (see adopt): run leaves them to
		// backfill; backfill's second reading of the lines after the
		// start folds into them only.
		if ws > a.adoptedTo {
			if line.AggregateOnly {
				return // backfill's only to complete the adoption windows
			}
		} else if !line.AggregateOnly {
			if !line.Replay {
				c.leftToBackfill.Add(1)
				if !a.warnedAdopt {
					a.warnedAdopt = true
					e.log.Info("windows up to the one where the file was first followed from its end are left to backfill: lines before its start belong to them",
						"rule", r.name, "window_start", time.Unix(0, a.adoptedTo).UTC().Format(time.RFC3339), "file", line.Path, "offset", line.Offset)
				}
			}
			return
		}
	} else if line.AggregateOnly {
		return // no adoption window known: nothing to complete
	}
	if a.plan.end(ws) <= a.closedTo {
		if !line.Replay {
			e.problem(r, &c.late, line, "late line dropped: its window was already emitted", "",
				time.Unix(0, p.Time).UTC().Format(time.RFC3339Nano))
		}
		return
	}
	s := e.seriesOf(r, line, p)
	w := a.window(s, ws)
	if line.Replay {
		e.ghost(w)
		return
	}
	c.aggregated.Add(1)
	if w.ghost {
		return // delivered before the restart
	}
	w.count++
	a.plan.add(w, p)
	if f != nil {
		e.hold(w, f, start)
	}
}

// adopt fixes the adoption windows of src's aggregate rules when an Adopted
// line, or the first timed line after one, comes with a time: the windows
// that start at or before the window of that time. Under FeedFollowed (run)
// they are never written, their lines counted as left to backfill: run
// began the file at a line in the middle of one, and the lines before it
// are only backfill's. Backfill folds into them its own lines before the
// start and, again, the lines after it as AggregateOnly lines, so that it
// writes them whole.
func (e *Extractor) adopt(src *source, line *pipeline.Line, m *matched) {
	if line.Adopted && (e.feed == FeedFollowed || line.AggregateOnly) {
		src.adopting = true
	}
	if !src.adopting || !m.timed {
		return
	}
	src.adopting = false
	for _, r := range src.aggs {
		a := r.agg
		ws, ok := a.plan.windowStart(m.latest)
		if !ok {
			continue
		}
		if !a.adopted || ws > a.adoptedTo {
			a.adopted, a.adoptedTo = true, ws
		}
	}
}

// AggregateReach returns the longest Window+Lateness of the aggregate rules
// of source, 0 when it has none: how far past a line's time a window that
// holds it may stay open.
func (e *Extractor) AggregateReach(source string) time.Duration {
	var reach int64
	if src := e.sources[source]; src != nil {
		for _, r := range src.aggs {
			reach = max(reach, r.agg.plan.window+r.agg.plan.lateness)
		}
	}
	return time.Duration(reach)
}

// seriesOf returns the open tag set of p, opening it if there is room,
// else the "other" one.
func (e *Extractor) seriesOf(r *rule, line *pipeline.Line, p *pipeline.Point) *aggSeries {
	a := r.agg
	a.key = appendTagsKey(a.key[:0], p.Tags)
	if string(a.key) == a.plan.otherKey {
		// A line whose own values are "other" is the fold's series:
		// two points of one series and window would overwrite each
		// other in InfluxDB.
		return a.otherSeries()
	}
	s := a.series[string(a.key)]
	if s != nil && len(s.open) > 0 {
		return s
	}
	if a.open < a.plan.maxSeries { // window opens it
		if s == nil {
			s = &aggSeries{key: string(a.key), tags: make([]pipeline.Tag, len(p.Tags))}
			for i, t := range p.Tags {
				// Copies: the point's values are in slabs shared with
				// other points, which a long-lived series would pin.
				s.tags[i] = pipeline.Tag{Key: t.Key, Value: strings.Clone(t.Value)}
			}
			a.series[s.key] = s
		}
		return s
	}
	if !line.Replay {
		r.counts(line).folded.Add(1)
		if !a.warned {
			a.warned = true
			e.log.Warn("more tag sets than max_series: lines folded into the tag set \"other\"", "rule", r.name,
				"max_series", a.plan.maxSeries, "file", line.Path, "offset", line.Offset)
		}
	}
	return a.otherSeries()
}

// otherSeries is the tag set lines fold into past max_series.
func (a *aggregator) otherSeries() *aggSeries {
	if a.other == nil {
		a.other = &aggSeries{tags: a.plan.otherTags}
	}
	return a.other
}

// appendTagsKey appends a key that tells tag sets apart exactly: each key
// and value with its length before it.
func appendTagsKey(b []byte, tags []pipeline.Tag) []byte {
	for _, t := range tags {
		b = binary.AppendUvarint(b, uint64(len(t.Key)))
		b = append(b, t.Key...)
		b = binary.AppendUvarint(b, uint64(len(t.Value)))
		b = append(b, t.Value...)
	}
	return b
}

// window returns the open window of s starting at ws, opening it.
func (a *aggregator) window(s *aggSeries, ws int64) *window {
	i := len(s.open)
	for i > 0 && s.open[i-1].start >= ws { // lines mostly go forward
		if s.open[i-1].start == ws {
			return s.open[i-1]
		}
		i--
	}
	var w *window
	if n := len(a.free); n > 0 {
		w, a.free = a.free[n-1], a.free[:n-1]
	} else {
		w = &window{fields: make([]fieldAgg, len(a.plan.fields))}
	}
	w.series, w.start = s, ws
	if len(s.open) == 0 && s != a.other {
		a.open++
	}
	s.open = slices.Insert(s.open, i, w)

	j := len(a.slots)
	for j > 0 && a.slots[j-1].start >= ws {
		if a.slots[j-1].start == ws {
			a.slots[j-1].wins = append(a.slots[j-1].wins, w)
			return w
		}
		j--
	}
	var sl *slot
	if n := len(a.freeSlot); n > 0 {
		sl, a.freeSlot = a.freeSlot[n-1], a.freeSlot[:n-1]
	} else {
		sl = &slot{}
	}
	sl.start, sl.wins = ws, append(sl.wins[:0], w)
	a.slots = slices.Insert(a.slots, j, sl)
	return w
}

// add folds p's fields into w. p's fields are the present numeric fields
// of the rule, in the order of p.fields.
func (p *aggPlan) add(w *window, pt *pipeline.Point) {
	j := 0
	for _, f := range pt.Fields {
		for j < len(p.fields) && p.fields[j].key != f.Key {
			j++
		}
		if j == len(p.fields) {
			panic("bug: an aggregated point with a field the plan does not know")
		}
		p.addValue(&w.fields[j], f.Value)
	}
}

func (p *aggPlan) addValue(fa *fieldAgg, v pipeline.Value) {
	var x float64
	first := fa.n == 0
	fa.n++
	fa.kind = v.Kind
	switch v.Kind {
	case pipeline.Int:
		i := v.Int()
		x = float64(i)
		if first {
			fa.sum, fa.sumHi, fa.min, fa.max = uint64(i), uint64(i>>63), uint64(i), uint64(i)
			break
		}
		var carry uint64
		fa.sum, carry = bits.Add64(fa.sum, uint64(i), 0)
		fa.sumHi += uint64(i>>63) + carry
		fa.min, fa.max = uint64(min(int64(fa.min), i)), uint64(max(int64(fa.max), i))
	case pipeline.Uint:
		u := v.Uint()
		x = float64(u)
		if first {
			fa.sum, fa.sumHi, fa.min, fa.max = u, 0, u, u
			break
		}
		var carry uint64
		fa.sum, carry = bits.Add64(fa.sum, u, 0)
		fa.sumHi += carry
		fa.min, fa.max = min(fa.min, u), max(fa.max, u)
	default:
		x = v.Float()
		if first {
			fa.sum, fa.min, fa.max = math.Float64bits(x), math.Float64bits(x), math.Float64bits(x)
			break
		}
		fa.sum = math.Float64bits(math.Float64frombits(fa.sum) + x)
		fa.min = math.Float64bits(min(math.Float64frombits(fa.min), x))
		fa.max = math.Float64bits(max(math.Float64frombits(fa.max), x))
	}
	if p.sketch {
		switch {
		case fa.n <= exactValues:
			fa.few[fa.n-1] = x
		case fa.n == exactValues+1:
			if fa.sketch == nil { // else a reused window's, cleared
				fa.sketch = newSketch()
			}
			for _, y := range fa.few {
				_ = fa.sketch.Add(y)
			}
			fallthrough
		default:
			// A value out of the sketch's range (beyond ±1e307) is
			// left out of the percentiles.
			_ = fa.sketch.Add(x)
		}
	}
	if len(p.bounds) > 0 {
		if fa.below == nil {
			fa.below = make([]uint64, len(p.bounds))
		}
		if i := sort.SearchFloat64s(p.bounds, x); i < len(p.bounds) {
			fa.below[i]++
		}
	}
}

// ghost makes w a window delivered before the restart: see the top.
func (e *Extractor) ghost(w *window) {
	if w.ghost {
		return
	}
	w.ghost, w.count = true, 0
	for i := range w.fields {
		w.fields[i].reset()
	}
	e.unhold(w)
}

func (fa *fieldAgg) reset() {
	fa.n, fa.sum, fa.sumHi, fa.min, fa.max = 0, 0, 0, 0, 0
	if fa.sketch != nil {
		fa.sketch.Clear()
	}
	clear(fa.below)
}

// closeBefore closes the windows of r that end at or before upTo, in order
// of start, appending the points of those not ghosts to rec.
func (e *Extractor) closeBefore(r *rule, upTo int64, rec *pipeline.Record) {
	a := r.agg
	for len(a.slots) > 0 && a.plan.end(a.slots[0].start) <= upTo {
		sl := a.slots[0]
		a.slots = slices.Delete(a.slots, 0, 1)
		for _, w := range sl.wins {
			e.emit(r, w, rec)
			e.release(a, w)
		}
		clear(sl.wins)
		sl.wins = sl.wins[:0]
		if len(a.freeSlot) < maxFreeWindows {
			a.freeSlot = append(a.freeSlot, sl)
		}
		a.gen++
		a.sweep()
	}
	a.closedTo = max(a.closedTo, upTo)
}

// sweep forgets the tag sets parked before the previous closing that have
// not reopened, and lets go of the reopened ones.
func (a *aggregator) sweep() {
	kept := a.parked[:0]
	for _, s := range a.parked {
		switch {
		case len(s.open) > 0:
			s.inParked = false
		case s.parkedAt+1 < a.gen:
			s.inParked = false
			delete(a.series, s.key)
		default:
			kept = append(kept, s)
		}
	}
	clear(a.parked[len(kept):])
	a.parked = kept
}

// closeAll closes every open window of r.
func (e *Extractor) closeAll(r *rule, rec *pipeline.Record) {
	a := r.agg
	if n := len(a.slots); n > 0 {
		e.closeBefore(r, a.plan.end(a.slots[n-1].start), rec)
	}
}

// release forgets a closed window, and its tag set once that has no other
// window open.
func (e *Extractor) release(a *aggregator, w *window) {
	e.unhold(w)
	s := w.series
	if i := slices.Index(s.open, w); i >= 0 {
		s.open = slices.Delete(s.open, i, i+1)
	}
	if len(s.open) == 0 && s != a.other {
		a.open--
		s.parkedAt = a.gen
		if !s.inParked {
			s.inParked = true
			a.parked = append(a.parked, s)
		}
	}
	w.series, w.ghost, w.count = nil, false, 0
	for i := range w.fields {
		w.fields[i].reset()
	}
	if len(a.free) < maxFreeWindows {
		a.free = append(a.free, w)
	}
}

// emit appends the point of window w of rule r to rec, unless w is a ghost
// or starts outside the SetWindow window.
func (e *Extractor) emit(r *rule, w *window, rec *pipeline.Record) {
	if w.ghost {
		return
	}
	c := &r.counted // emitted points are counted whichever line closed them
	if e.window && (w.start < e.since || w.start >= e.until) {
		c.outside.Add(1)
		return
	}
	pl := r.agg.plan
	p := nextPoint(rec)
	p.Measurement = r.measurement
	p.Tags = append(p.Tags, w.series.tags...)
	p.Fields = append(p.Fields, pipeline.Field{Key: CountKey, Value: pipeline.IntValue(w.count)})
	for i := range pl.fields {
		fa, fk := &w.fields[i], &pl.fields[i]
		if fa.n > 0 {
			for j, st := range pl.stats {
				if v, ok := fa.stat(st); ok {
					p.Fields = append(p.Fields, pipeline.Field{Key: fk.keys[j], Value: v})
				}
			}
		}
		if len(pl.bounds) > 0 {
			cum := uint64(0)
			for j := range pl.bounds {
				if fa.below != nil {
					cum += fa.below[j]
				}
				p.Fields = append(p.Fields, pipeline.Field{Key: fk.buckets[j], Value: pipeline.IntValue(int64(cum))})
			}
			p.Fields = append(p.Fields, pipeline.Field{Key: fk.buckets[len(pl.bounds)], Value: pipeline.IntValue(fa.n)})
		}
	}
	p.Time = w.start
	c.points.Add(1)
}

// stat returns a stat of a field with values (fa.n > 0); ok is false when
// it has none that line protocol can carry (a float sum beyond ±MaxFloat64).
func (fa *fieldAgg) stat(st aggStat) (pipeline.Value, bool) {
	asFloat := func(bits uint64) float64 {
		switch fa.kind {
		case pipeline.Int:
			return float64(int64(bits))
		case pipeline.Uint:
			return float64(bits)
		}
		return math.Float64frombits(bits)
	}
	asValue := func(bits uint64) pipeline.Value {
		switch fa.kind {
		case pipeline.Int:
			return pipeline.IntValue(int64(bits))
		case pipeline.Uint:
			return pipeline.UintValue(bits)
		}
		return pipeline.FloatValue(math.Float64frombits(bits))
	}
	finite := func(f float64) (pipeline.Value, bool) {
		return pipeline.FloatValue(f), !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	switch st.kind {
	case statSum:
		switch fa.kind {
		case pipeline.Float:
			return finite(math.Float64frombits(fa.sum))
		case pipeline.Int:
			// Saturated to what an int64 holds.
			switch hi := int64(fa.sumHi); {
			case hi == int64(fa.sum)>>63:
				return pipeline.IntValue(int64(fa.sum)), true
			case hi < 0:
				return pipeline.IntValue(math.MinInt64), true
			}
			return pipeline.IntValue(math.MaxInt64), true
		}
		if fa.sumHi > 0 {
			return pipeline.UintValue(math.MaxUint64), true
		}
		return pipeline.UintValue(fa.sum), true
	case statMin:
		return asValue(fa.min), true
	case statMax:
		return asValue(fa.max), true
	case statMean:
		switch fa.kind {
		case pipeline.Int: // the 128-bit sum, as a float
			if int64(fa.sumHi) == int64(fa.sum)>>63 { // fits an int64: exact up to 2^53
				return finite(float64(int64(fa.sum)) / float64(fa.n))
			}
			return finite((float64(int64(fa.sumHi))*0x1p64 + float64(fa.sum)) / float64(fa.n))
		case pipeline.Uint:
			return finite((float64(fa.sumHi)*0x1p64 + float64(fa.sum)) / float64(fa.n))
		}
		return finite(math.Float64frombits(fa.sum) / float64(fa.n))
	default:
		if fa.n <= exactValues {
			// Exact: the value of rank q·(n-1), rounded down, or up
			// for a negative value, as the sketch ranks values.
			few := fa.few[:fa.n]
			slices.Sort(few)
			rank := st.q * float64(fa.n-1)
			v := few[int(rank)]
			if v < 0 && float64(int(rank)) < rank {
				v = few[int(rank)+1]
			}
			return finite(v)
		}
		v, err := fa.sketch.GetValueAtQuantile(st.q)
		if err != nil {
			return pipeline.Value{}, false
		}
		// Within the exact extremes: the sketch's bucket may reach
		// past them.
		return finite(min(max(v, asFloat(fa.min)), asFloat(fa.max)))
	}
}

// advance moves the watermark of src with the line just placed and closes
// the windows it passes, appending their points to rec.
func (e *Extractor) advance(src *source, line *pipeline.Line, m *matched, rec *pipeline.Record) {
	if m.timed && (line.ReadAt.IsZero() || m.latest <= clampedNanos(line.ReadAt.Add(maxAhead))) {
		if !src.timed || m.latest > src.latest {
			src.latest, src.timed = m.latest, true
		}
	}
	if line.ReadAt.After(src.lastRead) {
		src.lastRead = line.ReadAt
	}
	e.closeByWatermark(src, rec)
}

// closeByWatermark closes the windows of src's aggregate rules that its
// watermark has passed, appending their points to rec.
func (e *Extractor) closeByWatermark(src *source, rec *pipeline.Record) {
	if !src.timed {
		return
	}
	for _, r := range src.aggs {
		wm := src.latest - r.agg.plan.lateness
		if wm > src.latest { // wrapped
			wm = math.MinInt64
		}
		e.closeBefore(r, wm, rec)
	}
}

// mark applies a startup marker (a Line with HasLatest): the source's
// latest time becomes at least the marker's, as if the lines read before
// the restart had come again, so the windows closed by it are closed: a
// line of one is late, never a second, partial point. The windows it
// closes that are open (none at startup) append their points to rec.
func (e *Extractor) mark(line *pipeline.Line, rec *pipeline.Record) {
	src := e.sources[line.Source]
	if src == nil || len(src.aggs) == 0 {
		return
	}
	if !src.timed || line.Latest > src.latest {
		src.latest, src.timed = line.Latest, true
	}
	e.closeByWatermark(src, rec)
}

// withLatest is h with src's latest time, for a record of src: at least
// the time that closes, by the watermark, every window closed so far, by
// lines or by Idle.
func (src *source) withLatest(h pipeline.Hold) pipeline.Hold {
	if src != nil && src.timed {
		h.Latest, h.HasLatest = max(src.latest, src.idleClosed), true
	}
	return h
}

// Flush closes every open window, appending their points to rec (in the
// order of sources and rules, then of window start, then of the order the
// windows opened): the end of a finite input, after its last line. A
// window's line that comes after Flush is late. rec's origin is left as it
// is.
func (e *Extractor) Flush(rec *pipeline.Record) {
	for _, src := range e.order {
		for _, r := range src.aggs {
			e.closeAll(r, rec)
		}
	}
}

// Idle closes the windows of every aggregate rule whose source has had no
// line for the rule's Window+Lateness, plus the source's Pending, of wall
// time before now (by the lines' ReadAt, and not while the sink held
// extraction up), appending their points to rec; rec's origin is left as
// it is. Run calls it every second under FeedFollowed, so that a quiet log
// still gets its last windows.
func (e *Extractor) Idle(now time.Time, rec *pipeline.Record) {
	for _, src := range e.order {
		last := src.lastRead
		if e.stalledAt.After(last) {
			last = e.stalledAt
		}
		for _, r := range src.aggs {
			a := r.agg
			quiet := time.Duration(a.plan.window+a.plan.lateness) + src.pending
			if quiet < src.pending { // a timeout of centuries
				quiet = math.MaxInt64
			}
			if n := len(a.slots); n > 0 && now.Sub(last) >= quiet {
				// Saved with the next records of the source's files
				// (their checkpoints follow): a restart then knows
				// these windows were written.
				src.idleClosed = max(src.idleClosed, a.plan.end(a.slots[n-1].start)+a.plan.lateness)
				e.closeAll(r, rec)
			}
		}
	}
}

// Positions. Each file with lines in open windows keeps the offsets where
// those windows' first lines from it start; its position may not pass the
// lowest (HoldOf).

// fileState is what aggregation keeps of a file.
type fileState struct {
	id pipeline.FileID
	// origin is that of the file's latest line; prev is the offset of
	// the line before it (where the latest starts), known once seen.
	origin pipeline.Origin
	prev   int64
	seen   bool
	// holds are the offsets windows hold, increasing, each with the
	// number of windows holding it; those before head hold nothing.
	holds []holdCount
	head  int
	ended bool // its EOF came: no line of it follows
	// src is the source of its lines, whose latest time its
	// checkpoints carry.
	src *source
	// sent is the hold last sent on a record of the file; dirty marks it
	// in Extractor.dirty, for checkpoints.
	sent  pipeline.Hold
	dirty bool
}

type holdCount struct {
	off int64
	n   int
}

// file returns the state of file id, making it.
func (e *Extractor) file(id pipeline.FileID) *fileState {
	if f := e.lastFile; f != nil && f.id == id {
		return f
	}
	f := e.files[id]
	if f == nil {
		f = &fileState{id: id}
		e.files[id] = f
	}
	e.lastFile = f
	return f
}

// start returns where line starts in f (the offset just past the line
// before it) and makes it f's latest line. The same line again (offered to
// another source, as `test` does) starts where it did. For a file's first
// line (or one before the latest, after a truncation) no line before it
// says: it starts its Span before its offset. Its text cannot tell, as a
// "\r\n" ending or a multiline record's joining and dropped lines change
// the count. A hold inside a record would have a restart take its lines
// before the hold as delivered (Replay): its first line alone would come
// back as a replayed record, making its window a ghost. Only a hand-made
// Line has no Span; it is taken to end in "\n".
func (f *fileState) start(line *pipeline.Line) int64 {
	switch {
	case f.seen && line.Offset == f.origin.Offset:
		return f.prev
	case f.seen && line.Offset > f.origin.Offset:
		f.prev = f.origin.Offset
	case line.Span > 0:
		f.prev = max(0, line.Offset-line.Span)
	default:
		f.prev = max(0, line.Offset-int64(len(line.Text))-1)
	}
	f.origin, f.seen = line.Origin, true
	return f.prev
}

// hold records that w holds f at off (where w's first line from f
// starts), unless w holds f already.
func (e *Extractor) hold(w *window, f *fileState, off int64) {
	switch {
	case len(w.holds) > 0 && w.holds[len(w.holds)-1].f == f:
		return
	case w.holdIndex != nil:
		if w.holdIndex[f] {
			return
		}
		w.holdIndex[f] = true
	default:
		for _, h := range w.holds {
			if h.f == f {
				return
			}
		}
		if len(w.holds) >= 8 { // many files: index them
			w.holdIndex = make(map[*fileState]bool, 16)
			for _, h := range w.holds {
				w.holdIndex[h.f] = true
			}
			w.holdIndex[f] = true
		}
	}
	w.holds = append(w.holds, fileHold{f, off})
	hs := f.holds[f.head:]
	i := sort.Search(len(hs), func(i int) bool { return hs[i].off >= off })
	switch {
	case i < len(hs) && hs[i].off == off:
		hs[i].n++
	default:
		f.holds = slices.Insert(f.holds, f.head+i, holdCount{off, 1})
	}
}

// unhold lets go of what w holds.
func (e *Extractor) unhold(w *window) {
	for _, h := range w.holds {
		f := h.f
		hs := f.holds[f.head:]
		i := sort.Search(len(hs), func(i int) bool { return hs[i].off >= h.off })
		if i == len(hs) || hs[i].off != h.off || hs[i].n == 0 {
			panic("bug: a window let go of a hold its file does not have")
		}
		hs[i].n--
		if i > 0 {
			continue
		}
		for f.head < len(f.holds) && f.holds[f.head].n == 0 {
			f.head++
		}
		if f.head == len(f.holds) {
			f.holds, f.head = f.holds[:0], 0
		} else if f.head > len(f.holds)/2 {
			n := copy(f.holds, f.holds[f.head:])
			f.holds, f.head = f.holds[:n], 0
		}
		if e.checkpointing && !f.dirty {
			f.dirty = true
			e.dirty = append(e.dirty, f)
		}
		e.forget(f)
	}
	clear(w.holds)
	w.holds, w.holdIndex = w.holds[:0], nil
}

// holdNow is the hold a record of f carries now, without the source's
// latest time (withLatest adds it).
func (f *fileState) holdNow() pipeline.Hold {
	if f.head < len(f.holds) {
		return pipeline.Hold{Hold: f.holds[f.head].off, Held: true}
	}
	return pipeline.Hold{}
}

// HoldOf returns where file's position must stay until the windows with
// its lines close: the start of the earliest of their first lines from it.
// held is false when no open window has a line of the file. Like Extract,
// it must not be called while Run is running.
func (e *Extractor) HoldOf(file pipeline.FileID) (off int64, held bool) {
	f := e.files[file]
	if f == nil {
		return 0, false
	}
	h := f.holdNow()
	return h.Hold, h.Held
}

// endFile notes that no line of file follows (its EOF).
func (e *Extractor) endFile(file pipeline.FileID) {
	if f := e.files[file]; f != nil {
		f.ended = true
		e.forget(f)
	}
}

// forget drops the state of an ended file nothing holds, unless a
// checkpoint is still due for it.
func (e *Extractor) forget(f *fileState) {
	if f.ended && f.head == len(f.holds) && !f.dirty {
		delete(e.files, f.id)
		if e.lastFile == f {
			e.lastFile = nil
		}
	}
}
