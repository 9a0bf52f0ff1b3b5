package extract

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// separator keeps points that would collide in InfluxDB apart. InfluxDB keeps
// one value per field for a series (measurement and tag set) and timestamp,
// so two lines of one series stamped with the same second would overwrite
// each other. The rule, per file and series:
//
//	a point is written at its own time t if no earlier point of the series
//	was written at t; otherwise at the first nanosecond after t that no
//	earlier point of the series was written at.
//
// So repeats of one second become t, t+1ns, t+2ns, ..., in file order, also
// when the series comes back to a second after other times (several writers
// logging out of order), and a time is never given twice. The state is a
// pure function of the file's lines in order, so reading the same file from
// its start again gives the same times.
//
// The times given to a series are kept as spans [lo, hi] of nanoseconds, so a
// busy second costs one span however many points it holds. Memory is bounded
// by two limits, and neither can cause an overwrite, because state is only
// ever shed by widening what counts as taken:
//   - a series keeps at most maxSpans spans: beyond, its two earliest merge,
//     and the gap between them counts as taken too;
//   - a file keeps at most maxFileSpans spans: beyond, the series stamped
//     least recently are forgotten, and every series starts again with all
//     times up to the latest time given to a forgotten series counted as taken.
//
// A point whose own time falls into such a widened span is written after it,
// later than the ideal rule would write it; it is counted (Displaced) and
// logged as a sample, never silent. A point that finds no free time before
// the end of InfluxDB's range is a time error.
//
// Series are 64-bit hashes: two series that share a hash share their spans,
// which costs at most extra nudges, never a collision.
type separator struct {
	files map[string]*fileTimes
}

const (
	// maxSpans bounds the spans of one series: the last maxSpans distinct
	// times of a series (or runs of them) are known exactly, which covers
	// the seconds a log written by several workers goes back.
	maxSpans = 64
	// maxFileSpans bounds the spans of one file, about 24 bytes each.
	maxFileSpans = 1 << 18
)

// The times InfluxDB stores: it refuses MinInt64 and MinInt64+1, and
// MaxInt64.
const (
	minStorable = math.MinInt64 + 2
	maxStorable = math.MaxInt64 - 1
)

// placement is how stamp placed a point.
type placement int

const (
	placed    placement = iota // at the time the rule gives
	displaced                  // later, past times forgotten to bound memory
	noTime                     // nowhere: no free time up to maxStorable
)

type fileTimes struct {
	series map[uint64]*seriesTimes
	spans  int   // spans of all series
	points int64 // points stamped: the file's clock for "least recently"
	// forgottenHi is the latest time given to a forgotten series; every
	// series counts the times up to it as taken. hasForgotten says whether
	// there is one.
	forgottenHi  int64
	hasForgotten bool
}

type seriesTimes struct {
	spans   []span // sorted, disjoint and not adjacent
	stamped int64  // fileTimes.points at its latest point
}

// span is the times [lo, hi] taken by points of a series. A widened span
// holds times no point was given (a merged gap, or forgotten times).
type span struct {
	lo, hi  int64
	widened bool
}

func newSeparator() *separator {
	return &separator{files: map[string]*fileTimes{}}
}

// stamp returns the time point p of file path is written with, given its own
// time t (within [minStorable, maxStorable]), and how it was placed.
func (s *separator) stamp(path string, p *pipeline.Point, t int64) (int64, placement) {
	f := s.files[path]
	if f == nil {
		f = &fileTimes{series: map[uint64]*seriesTimes{}}
		s.files[path] = f
	}
	f.points++
	key := seriesKey(p)
	st := f.series[key]
	if st == nil {
		st = f.newSeries(key)
	}
	st.stamped = f.points
	before := len(st.spans)
	given, how := st.take(t)
	if len(st.spans) > maxSpans {
		st.mergeEarliest()
	}
	f.spans += len(st.spans) - before
	if f.spans > maxFileSpans {
		f.forget()
	}
	return given, how
}

// newSeries starts the state of a series, with the times forgotten so far
// taken.
func (f *fileTimes) newSeries(key uint64) *seriesTimes {
	st := &seriesTimes{}
	if f.hasForgotten {
		st.spans = append(st.spans, span{lo: minStorable, hi: f.forgottenHi, widened: true})
		f.spans++
	}
	f.series[key] = st
	return st
}

// take gives the series the first free time at or after t.
func (st *seriesTimes) take(t int64) (int64, placement) {
	// i is the first span that ends at t-1 or later: the one t is in or
	// adjoins, or the first after t. Logs mostly go forward, so look at
	// the last span first.
	n := len(st.spans)
	i := n
	if n > 0 && st.spans[n-1].hi >= t-1 {
		i = sort.Search(n, func(j int) bool { return st.spans[j].hi >= t-1 })
	}
	if i == n || st.spans[i].lo > t+1 { // free, and no span adjoins t
		st.spans = slices.Insert(st.spans, i, span{lo: t, hi: t})
		return t, placed
	}
	sp := &st.spans[i]
	given, how := t, placed
	switch {
	case t == sp.lo-1: // free; the span before ends below t-1
		sp.lo = t
		return t, placed
	case t == sp.hi+1: // free
		sp.hi = t
	default: // taken: the first free time is right after the span
		if sp.hi == maxStorable {
			return 0, noTime
		}
		if sp.widened {
			how = displaced
		}
		given = sp.hi + 1
		sp.hi = given
	}
	if i+1 < n && st.spans[i+1].lo == sp.hi+1 { // the span now adjoins the next
		sp.hi, sp.widened = st.spans[i+1].hi, sp.widened || st.spans[i+1].widened
		st.spans = slices.Delete(st.spans, i+1, i+2)
	}
	return given, how
}

// mergeEarliest merges the two earliest spans, taking the gap between them.
func (st *seriesTimes) mergeEarliest() {
	st.spans[1].lo, st.spans[1].widened = st.spans[0].lo, true
	st.spans = slices.Delete(st.spans, 0, 1)
}

// forget drops the least recently stamped series until the file holds at
// most three quarters of maxFileSpans, so that forgetting is rare, and
// remembers the latest time they were given. The order depends only on the
// file's lines, so the result stays deterministic.
func (f *fileTimes) forget() {
	type byAge struct {
		stamped int64
		key     uint64
	}
	all := make([]byAge, 0, len(f.series))
	for k, st := range f.series {
		all = append(all, byAge{st.stamped, k})
	}
	slices.SortFunc(all, func(a, b byAge) int { return cmp.Compare(a.stamped, b.stamped) }) // unique
	for _, s := range all {
		if f.spans <= maxFileSpans*3/4 {
			break
		}
		st := f.series[s.key]
		if hi := st.spans[len(st.spans)-1].hi; !f.hasForgotten || hi > f.forgottenHi {
			f.forgottenHi, f.hasForgotten = hi, true
		}
		f.spans -= len(st.spans)
		delete(f.series, s.key)
	}
}

// seriesKey hashes the measurement and the tags with FNV-1a, which is fixed
// across processes, unlike hash/maphash. It hashes them as line protocol
// will carry them: every byte the encoder may write as U+FFFD (control
// bytes, invalid UTF-8, backslashes, '#') hashes as U+FFFD does, so two
// values that arrive in InfluxDB as one are one series here too. Values
// that merely look alike to the hash share a state: extra nudges only.
func seriesKey(p *pipeline.Point) uint64 {
	h := uint64(14695981039346656037)
	h = hashText(h, p.Measurement)
	for _, tag := range p.Tags {
		h = hashText(h, tag.Key)
		h = hashText(h, tag.Value)
	}
	return h
}

const fnvPrime = 1099511628211

func hashText(h uint64, s string) uint64 {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if c < 0x20 || c == 0x7f || c == '\\' || c == '#' {
				h = hashRuneError(h)
				continue
			}
			h = (h ^ uint64(c)) * fnvPrime
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError { // an invalid byte, or U+FFFD itself
			h = hashRuneError(h)
		} else {
			for _, b := range []byte(s[i : i+size]) {
				h = (h ^ uint64(b)) * fnvPrime
			}
		}
		i += size
	}
	// Between the parts, a byte no text hashes as (0xff is not UTF-8 and
	// an invalid byte hashes as U+FFFD), so ("ab","c") and ("a","bc")
	// differ.
	return (h ^ 0xff) * fnvPrime
}

func hashRuneError(h uint64) uint64 {
	return (h ^ 0xfffd) * fnvPrime
}
