package extract

import "github.com/logmetrics/logmetrics/internal/pipeline"

// separator keeps points that would collide in InfluxDB apart. InfluxDB keeps
// one value per field for a series (measurement and tag set) and timestamp,
// so two lines of one series stamped with the same second would overwrite
// each other. The rule, per file and series:
//
//	if a point's time is not before the previous point's time of that series
//	and not after the time that point was given, it gets that time + 1 ns;
//	otherwise it keeps its own time.
//
// So repeats within a run of equal times become t, t+1ns, t+2ns, ... and a
// later real time is never pushed back. The state is a pure function of the
// file's lines in order, so reading the same lines again gives the same
// times. Series are keyed by a 64-bit hash; two series that share a hash
// share a counter, which only adds nudges and never makes points collide.
type separator struct {
	files map[string]map[uint64]*seriesTime
}

type seriesTime struct {
	last, given int64 // the previous point's own time and the time it was given
}

// maxSeriesPerFile bounds the state of one file. Past it the file's state is
// cleared, which is deterministic but may let a point collide with one
// stamped before the clearing; 100,000 series in one file is far beyond any
// sane tag set.
const maxSeriesPerFile = 100_000

func newSeparator() *separator {
	return &separator{files: map[string]map[uint64]*seriesTime{}}
}

// stamp returns the time point p (of file path) is written with, given its
// own time t.
func (s *separator) stamp(path string, p *pipeline.Point, t int64) int64 {
	series := s.files[path]
	if series == nil || len(series) >= maxSeriesPerFile {
		series = map[uint64]*seriesTime{}
		s.files[path] = series
	}
	key := seriesKey(p)
	st := series[key]
	if st == nil {
		series[key] = &seriesTime{last: t, given: t}
		return t
	}
	given := t
	if t >= st.last && t <= st.given {
		given = st.given + 1
	}
	st.last, st.given = t, given
	return given
}

// seriesKey hashes the measurement and tags with FNV-1a, which is fixed
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
	for _, t := range p.Tags {
		add(t.Key)
		add(t.Value)
	}
	return h
}
