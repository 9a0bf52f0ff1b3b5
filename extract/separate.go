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
//     least recently are forgotten. Their spans join the file's forgotten
//     spans (at most maxSpans, merged like a series'), which count as taken
//     for every series that starts afterwards, since it may be one of them.
//
// A point whose own time falls into such a widened span is written after it,
// possibly later than the rule would write it (a widened span also holds
// exact times); it is counted (Displaced) and logged as a sample, never
// silent. A point that finds no free time before
// the end of InfluxDB's range is a time error.
//
// Series are 64-bit hashes: two series that share a hash share their spans,
// which costs at most extra nudges, never a collision.
type separator struct {
	files map[pipeline.FileID]*fileTimes
	// last is files[lastFile] (nil when not known): lines come in runs
	// of one file, and a FileID hashes slowly.
	lastFile pipeline.FileID
	last     *fileTimes
}

const (
	// maxSpans bounds the spans of one series: the last maxSpans distinct
	// times of a series (or runs of them) are known exactly, which covers
	// the seconds a log written by several workers goes back.
	maxSpans = 64
	// maxFileSpans bounds the spans of one file, 24 bytes each, a series
	// counting seriesSpans more for its map entry, struct and slice: about
	// 6 MiB.
	maxFileSpans = 1 << 18
	seriesSpans  = 4
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
	placed    placement = iota // by the rule
	displaced                  // later, past times widened to bound memory
	noTime                     // nowhere: no free time up to maxStorable
)

type fileTimes struct {
	series map[uint64]*seriesTimes
	spans  int   // of all series, with seriesSpans for each
	points int64 // points stamped: the file's clock for "least recently"
	// forgotten holds the times of the forgotten series.
	forgotten spans
}

type seriesTimes struct {
	spans   spans
	stamped int64 // fileTimes.points at its latest point
	// inherits is set for a series started after another was forgotten:
	// it may be that one, so the forgotten times count as its own.
	inherits bool
}

func newSeparator() *separator {
	return &separator{files: map[pipeline.FileID]*fileTimes{}}
}

// stamp returns the time point p of file is written with, given its own
// time t (within [minStorable, maxStorable]), and how it was placed.
func (s *separator) stamp(file pipeline.FileID, p *pipeline.Point, t int64) (int64, placement) {
	f := s.last
	if f == nil || s.lastFile != file {
		if f = s.files[file]; f == nil {
			f = &fileTimes{series: map[uint64]*seriesTimes{}}
			s.files[file] = f
		}
		s.lastFile, s.last = file, f
	}
	f.points++
	key := seriesKey(p)
	st := f.series[key]
	if st == nil {
		st = &seriesTimes{inherits: len(f.forgotten) > 0}
		f.series[key] = st
		f.spans += seriesSpans
	}
	st.stamped = f.points

	// The first time at or after t that is free in the series' spans
	// and, if it inherits them, the forgotten ones. Each pass moves
	// given forward, so the loop ends.
	given, how := t, placed
	for {
		free, widened, ok := st.spans.firstFree(given)
		if !ok {
			return 0, noTime
		}
		if widened {
			how = displaced
		}
		given = free
		if !st.inherits {
			break
		}
		if free, _, ok = f.forgotten.firstFree(given); !ok {
			return 0, noTime
		}
		if free == given {
			break
		}
		given, how = free, displaced
	}

	before := len(st.spans)
	st.spans.add(span{lo: given, hi: given})
	st.spans.trim()
	if f.spans += len(st.spans) - before; f.spans > maxFileSpans {
		f.forget()
	}
	return given, how
}

// release frees the state of a file no line of which follows.
func (s *separator) release(file pipeline.FileID) {
	delete(s.files, file)
	if s.lastFile == file {
		s.last = nil
	}
}

// forget drops the least recently stamped series until the file holds at
// most three quarters of maxFileSpans, so that forgetting is rare, and
// keeps their times in f.forgotten. The order depends only on the file's
// lines, so the result stays deterministic.
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
		for _, sp := range st.spans {
			sp.widened = true
			f.forgotten.add(sp)
			f.forgotten.trim()
		}
		f.spans -= len(st.spans) + seriesSpans
		delete(f.series, s.key)
	}
}

// spans are sorted, disjoint and never adjacent, so the first time after a
// span is free.
type spans []span

// span is the times [lo, hi] taken by points of a series. A widened span
// also holds times no point was given (a merged gap, forgotten times).
type span struct {
	lo, hi  int64
	widened bool
}

// search returns the index of the first span that ends at t or later. Logs
// mostly go forward, so it looks at the last span first.
func (s spans) search(t int64) int {
	if n := len(s); n == 0 || s[n-1].hi < t {
		return n
	}
	return sort.Search(len(s), func(i int) bool { return s[i].hi >= t })
}

// firstFree returns the first time at or after t that no span holds, and
// whether t was in a widened span; ok is false when no time up to
// maxStorable is free.
func (s spans) firstFree(t int64) (free int64, widened, ok bool) {
	i := s.search(t)
	if i == len(s) || s[i].lo > t {
		return t, false, true
	}
	if s[i].hi == maxStorable {
		return 0, s[i].widened, false
	}
	return s[i].hi + 1, s[i].widened, true
}

// add puts sp into s, merging the spans it overlaps or adjoins.
func (s *spans) add(sp span) {
	i := s.search(sp.lo - 1) // lo >= minStorable: no overflow
	j := i
	for j < len(*s) && (*s)[j].lo <= sp.hi+1 { // hi <= maxStorable
		sp.lo, sp.hi = min(sp.lo, (*s)[j].lo), max(sp.hi, (*s)[j].hi)
		sp.widened = sp.widened || (*s)[j].widened
		j++
	}
	*s = slices.Replace(*s, i, j, sp)
}

// trim merges the earliest spans until at most maxSpans are left; the gaps
// between them count as taken.
func (s *spans) trim() {
	for len(*s) > maxSpans {
		(*s)[1].lo, (*s)[1].widened = (*s)[0].lo, true
		*s = slices.Delete(*s, 0, 1)
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
	i := 0
	for ; i < len(s) && hashedAsIs[s[i]]; i++ { // the usual bytes, without the cases below
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	for i < len(s) {
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

// hashedAsIs marks the bytes hashText hashes as themselves wherever they
// stand: printable ASCII but for the backslash and '#'.
var hashedAsIs = func() (set [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		set[c] = c != '\\' && c != '#'
	}
	return set
}()

func hashRuneError(h uint64) uint64 {
	return (h ^ 0xfffd) * fnvPrime
}
