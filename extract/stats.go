package extract

import (
	"slices"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// Stats is a snapshot of the extraction counters.
type Stats struct {
	Sources []SourceStats
	Rules   []RuleStats
	// UnknownSource counts lines from a source without rules: a wiring bug.
	UnknownSource uint64
}

// SourceStats counts the lines of one source.
type SourceStats struct {
	Source string
	Lines  uint64
	// Unmatched counts lines that no rule of the source took.
	Unmatched uint64
	// Each line counts once in Taken (by at least one rule), else in
	// Filtered (a require block of at least one rule refused it), else in
	// NotTaken (it matched no rule): Filtered + NotTaken = Unmatched.
	Taken, Filtered, NotTaken uint64
	// Replayed counts lines read again after a restart to rebuild the
	// collision separator's state, and backfill's AggregateOnly lines
	// (Line.AggregateOnly); they are in no other counter.
	Replayed uint64
	// Samples are the first few lines no rule took.
	Samples []Sample
}

// Sample is a line kept to show the user.
type Sample struct {
	pipeline.Origin
	Text string
}

// RuleStats counts what one rule did with the lines it was offered. Taken +
// NotTaken + Filtered is the number of lines of its source.
type RuleStats struct {
	Source, Rule string
	Taken        uint64 // lines the rule matched and whose requirements held
	NotTaken     uint64 // lines the pattern did not match, or not JSON/logfmt with the rule's names
	Filtered     uint64 // lines matched but refused by a require block
	Points       uint64 // points emitted (by an aggregate rule: one per window and tag set)
	// Aggregated counts the lines an aggregate rule folded into a window
	// (after a restart, also those of windows delivered before it, which
	// are dropped). Late counts its lines dropped because their window
	// was already emitted; Folded its lines folded into the tag set
	// "other" because MaxSeries tag sets were open.
	Aggregated uint64
	Late       uint64
	Folded     uint64
	// LeftToBackfill counts the lines of an aggregate rule that run left
	// to backfill: those of the adoption windows of a file it began from
	// its end (see Line.Adopted), which backfill writes whole.
	LeftToBackfill uint64
	// Per-line problems. A time error drops the line's point; a conversion
	// error, a missing value or a JSON object/array leaves one field (or
	// tag) out; a point left without fields is dropped and counted in
	// NoFields. Missing also counts tags a rewrite left empty.
	TimeErrors       uint64
	ConversionErrors uint64
	Missing          uint64
	CompositeValues  uint64
	NoFields         uint64
	// SeriesTooLong counts points dropped because their measurement and
	// tags are too long for InfluxDB's series key.
	SeriesTooLong uint64
	// Displaced counts points whose time fell among times the collision
	// separator had widened to bound its memory: each was written after
	// them, possibly later than the separation rule alone would write it.
	Displaced uint64
	// OutsideWindow counts points not emitted because their time (an
	// aggregated point's: its window's start) is outside the window
	// SetWindow set.
	OutsideWindow uint64
}

// Stats returns a snapshot of the counters; it is safe to call at any time.
// A source or rule retired by a reload and one of the same name that
// replaced it are one entry, their counts summed: to the user (and to
// Prometheus, whose series are named by them) they are one rule whose
// counters only grow.
func (e *Extractor) Stats() Stats {
	st := Stats{UnknownSource: e.unknownSource.Load()}
	e.rulesMu.RLock()
	defer e.rulesMu.RUnlock()
	sources, rules := map[string]int{}, map[[2]string]int{}
	for _, src := range slices.Concat(e.order, e.retired) {
		src.mu.Lock()
		samples := append([]Sample(nil), src.samples...)
		src.mu.Unlock()
		ss := SourceStats{
			Source:    src.name,
			Lines:     src.lines.Load(),
			Unmatched: src.unmatched.Load(),
			Taken:     src.taken.Load(),
			Filtered:  src.filtered.Load(),
			NotTaken:  src.notTaken.Load(),
			Replayed:  src.replayed.Load(),
			Samples:   samples,
		}
		if i, ok := sources[src.name]; ok {
			st.Sources[i].Add(ss)
		} else {
			sources[src.name] = len(st.Sources)
			st.Sources = append(st.Sources, ss)
		}
		for _, r := range slices.Concat(src.rules, src.retired) {
			c := &r.counted // not uncounted, the replayed lines'
			rs := RuleStats{
				Source: src.name, Rule: r.name,
				Taken: c.taken.Load(), NotTaken: c.notTaken.Load(), Filtered: c.filtered.Load(),
				Points: c.points.Load(), Aggregated: c.aggregated.Load(), Late: c.late.Load(), Folded: c.folded.Load(), LeftToBackfill: c.leftToBackfill.Load(),
				TimeErrors: c.timeErrors.Load(), ConversionErrors: c.conversionErrors.Load(),
				Missing: c.missing.Load(), CompositeValues: c.compositeValues.Load(),
				NoFields: c.noFields.Load(), SeriesTooLong: c.seriesTooLong.Load(),
				Displaced: c.displaced.Load(), OutsideWindow: c.outside.Load(),
			}
			key := [2]string{src.name, r.name}
			if i, ok := rules[key]; ok {
				st.Rules[i].Add(rs)
			} else {
				rules[key] = len(st.Rules)
				st.Rules = append(st.Rules, rs)
			}
		}
	}
	return st
}

// Add sums o's counts into s, its samples up to the usual few.
func (s *SourceStats) Add(o SourceStats) {
	s.Lines += o.Lines
	s.Unmatched += o.Unmatched
	s.Taken += o.Taken
	s.Filtered += o.Filtered
	s.NotTaken += o.NotTaken
	s.Replayed += o.Replayed
	s.Samples = append(s.Samples, o.Samples[:min(len(o.Samples), max(0, maxSamples-len(s.Samples)))]...)
}

// Add sums o's counts into r.
func (r *RuleStats) Add(o RuleStats) {
	r.Taken += o.Taken
	r.NotTaken += o.NotTaken
	r.Filtered += o.Filtered
	r.Points += o.Points
	r.Aggregated += o.Aggregated
	r.Late += o.Late
	r.Folded += o.Folded
	r.LeftToBackfill += o.LeftToBackfill
	r.TimeErrors += o.TimeErrors
	r.ConversionErrors += o.ConversionErrors
	r.Missing += o.Missing
	r.CompositeValues += o.CompositeValues
	r.NoFields += o.NoFields
	r.SeriesTooLong += o.SeriesTooLong
	r.Displaced += o.Displaced
	r.OutsideWindow += o.OutsideWindow
}
