package extract

import "github.com/logmetrics/logmetrics/internal/pipeline"

// separator keeps points that would collide in InfluxDB apart. InfluxDB keeps
// one value per field for a series (measurement and tag set) and timestamp,
// so two lines of one series stamped with the same second would overwrite
// each other. The rule, per file and series:
//
//	a point whose own time t is still free is written at t; otherwise
//	(another point of the series has that own time or was given it) it is
//	written at the first free nanosecond after the latest time given to a
//	point of own time t (or after t).
//
// So repeats of one second become t, t+1ns, t+2ns, ..., in file order, also
// when the series comes back to a second after other times (several writers
// logging out of order), and nudged times never land on a time already used.
// The state is a pure function of the file's lines in order, so reading the
// same lines again gives the same times.
//
// The state covers one separationWindow of log time behind the newest time
// seen in the file; a line older than that is separated only from the
// points inside the window. Keys are 64-bit hashes of series and time; a
// stored time is compared too, so two keys that share a hash cost at most
// extra nudges, never a collision.
type separator struct {
	files map[string]*fileTimes
}

// separationWindow is how far back, in log time, times in use are kept:
// five minutes, far more than log writers run out of order, at a memory
// cost of one map entry per point of the last five minutes that was nudged.
const separationWindow = int64(300e9)

// sweepEvery is how many entries a file adds between two sweeps of the
// entries older than the window.
const sweepEvery = 4096

type fileTimes struct {
	used   map[uint64]usedTime // (series, time) -> how it is used
	newest int64               // the newest own time in the file
	added  int                 // entries added since the last sweep
}

// usedTime is a time given to a point of a series.
type usedTime struct {
	t int64 // the time, to tell hash collisions apart
	// last is, when t is the own time of a point, the latest time given
	// to a point of own time t; zero otherwise.
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
		f = &fileTimes{used: map[uint64]usedTime{}, newest: t}
		s.files[path] = f
	}
	if t > f.newest {
		f.newest = t
	}
	series := seriesKey(p)
	key := timeKey(series, t)
	u, found := f.used[key]
	if !found {
		f.add(key, usedTime{t: t, last: t, own: true})
		return t
	}
	from := t // t is in use (or its key is, by another time: extra nudges only)
	if u.t == t && u.own {
		from = u.last // continue the run of own time t
	}
	given := from + 1
	for {
		if _, ok := f.used[timeKey(series, given)]; !ok {
			break
		}
		given++
	}
	f.add(timeKey(series, given), usedTime{t: given})
	if u.t == t { // t's entry now records this run
		f.used[key] = usedTime{t: t, last: given, own: true}
	}
	return given
}

// add records a used time, sweeping now and then.
func (f *fileTimes) add(key uint64, u usedTime) {
	f.used[key] = u
	if f.added++; f.added >= sweepEvery {
		f.sweep()
	}
}

// sweep forgets times older than the window. It depends only on the file's
// lines, so the result stays deterministic.
func (f *fileTimes) sweep() {
	f.added = 0
	for k, u := range f.used {
		if u.t < f.newest-separationWindow {
			delete(f.used, k)
		}
	}
}

// seriesKey hashes the measurement and the tags with FNV-1a, which is fixed
// across processes, unlike hash/maphash.
func seriesKey(p *pipeline.Point) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime
		}
		h ^= 0xff // a byte no UTF-8 text has, between the parts
		h *= prime
	}
	add(p.Measurement)
	for _, tag := range p.Tags {
		add(tag.Key)
		add(tag.Value)
	}
	return h
}

// timeKey combines a series hash with an own time (FNV-1a over its bytes).
func timeKey(series uint64, t int64) uint64 {
	const prime = 1099511628211
	h := series
	for i := 0; i < 8; i++ {
		h ^= uint64(t>>(8*i)) & 0xff
		h *= prime
	}
	return h
}
