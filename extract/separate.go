package extract

import (
	"unicode/utf8"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// separator keeps points that would collide in InfluxDB apart. InfluxDB keeps
// one value per field for a series (measurement and tag set) and timestamp,
// so two lines of one series stamped with the same second would overwrite
// each other. The rule, per file and series:
//
//	a point whose own time t is still free is written at t; otherwise
//	(another point of the series has that own time, or was given it) it is
//	written at the first free nanosecond after the latest time given to a
//	point of own time t (or after t).
//
// So repeats of one second become t, t+1ns, t+2ns, ..., in file order, also
// when the series comes back to a second after other times (several writers
// logging out of order), and nudged times never land on a time already used.
// The state is a pure function of the file's lines in order, so reading the
// same file from its start again gives the same times.
//
// Times in use are kept in buckets of about a second, and a bucket no point
// of the file has been stamped into for keepPoints points is forgotten:
// memory stays bounded (about keepPoints entries per file, plus the busy
// seconds, each at most maxBucketKeys), and one line dated far ahead or
// behind costs nothing but its own bucket. A point whose second was
// forgotten is separated only from the points after that.
//
// Keys are 64-bit hashes of series and time, and a stored time is compared
// too, so two keys that share a hash cost at most extra nudges, never a
// collision.
type separator struct {
	files map[string]*fileTimes
}

const (
	// keepPoints is how many points of a file a bucket survives unused:
	// far more than writers run out of order, a few MB per busy file.
	keepPoints = 1 << 16
	// sweepEvery is how many points of a file pass between sweeps.
	sweepEvery = 4096
	// bucketShift makes buckets of 2^30 ns (about a second).
	bucketShift = 30
	// maxBucketKeys bounds one bucket: a second with more points than
	// this in one file is forgotten and starts afresh.
	maxBucketKeys = 4 * keepPoints
)

type fileTimes struct {
	used    map[uint64]usedTime // (series, time) -> how it is used
	buckets map[int64]*bucket   // which keys of used each bucket holds
	points  int64               // points stamped so far: the file's clock for forgetting
	// The bucket of the latest put, since consecutive lines mostly share
	// a second.
	cur    *bucket
	curSec int64
}

type bucket struct {
	keys    []uint64
	touched int64 // fileTimes.points when last put to
}

// usedTime is a time given to a point of a series.
type usedTime struct {
	t int64 // the time, to tell hash collisions apart
	// last is, when t is the own time of a point, the latest time given
	// to a point of own time t.
	last int64
	own  bool
}

func newSeparator() *separator {
	return &separator{files: map[string]*fileTimes{}}
}

// stamp returns the time point p of file path is written with, given its own
// time t.
func (s *separator) stamp(path string, p *pipeline.Point, t int64) int64 {
	f := s.files[path]
	if f == nil {
		f = &fileTimes{used: map[uint64]usedTime{}, buckets: map[int64]*bucket{}}
		s.files[path] = f
	}
	if f.points++; f.points%sweepEvery == 0 {
		f.sweep()
	}
	series := seriesKey(p)
	key := timeKey(series, t)
	u, found := f.used[key]
	if !found {
		f.add(key, t, usedTime{t: t, last: t, own: true})
		return t
	}
	from := t // t is in use (or its key is, by another time: extra nudges only)
	if u.t == t && u.own {
		from = u.last // continue the run of own time t
	}
	given := from + 1
	gkey := timeKey(series, given)
	for {
		if _, ok := f.used[gkey]; !ok {
			break
		}
		given++
		gkey = timeKey(series, given)
	}
	f.add(gkey, given, usedTime{t: given})
	if u.t == t { // t's entry now records this run
		f.used[key] = usedTime{t: t, last: given, own: true}
	}
	return given
}

// add records a new key for time t in its bucket.
func (f *fileTimes) add(key uint64, t int64, u usedTime) {
	f.used[key] = u
	sec := t >> bucketShift
	if f.cur == nil || f.curSec != sec {
		f.cur, f.curSec = f.buckets[sec], sec
		if f.cur == nil {
			f.cur = &bucket{}
			f.buckets[sec] = f.cur
		}
	}
	f.cur.keys = append(f.cur.keys, key)
	f.cur.touched = f.points
	if len(f.cur.keys) > maxBucketKeys {
		// A log stuck on one second (a broken clock) would grow the
		// bucket without end: forget it, as if it had aged out.
		f.forget(sec, f.cur)
	}
}

// sweep forgets the buckets unused for keepPoints points. It depends only on
// the file's lines, so the result stays deterministic.
func (f *fileTimes) sweep() {
	for sec, b := range f.buckets {
		if b.touched < f.points-keepPoints {
			f.forget(sec, b)
		}
	}
}

// forget drops bucket b of second sec and its keys.
func (f *fileTimes) forget(sec int64, b *bucket) {
	for _, k := range b.keys {
		// A key of another bucket's time (a hash collision) stays.
		if u, ok := f.used[k]; ok && u.t>>bucketShift == sec {
			delete(f.used, k)
		}
	}
	delete(f.buckets, sec)
	if f.cur == b {
		f.cur = nil
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

// timeKey combines a series hash with a time (FNV-1a over its bytes).
func timeKey(series uint64, t int64) uint64 {
	h := series
	for i := 0; i < 8; i++ {
		h ^= uint64(t>>(8*i)) & 0xff
		h *= fnvPrime
	}
	return h
}
