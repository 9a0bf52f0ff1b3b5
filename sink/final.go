package sink

import "sync/atomic"

// Delivered counts what Run has finished with: records whose batch was
// written (2xx) or set aside (refused, too large), and the points of those
// writes. A stopped agent compares it with what extract made to say exactly
// what it read and did not deliver.
type Delivered struct {
	// Records counts the records of lines, with or without points, whose
	// whole batch was finished, and every batch before it, so their files
	// may move past them. A record of no line (an idle source's
	// aggregation windows, with no Origin) is not counted.
	Records uint64
	// Points counts points written or set aside, those of a batch only
	// partly finished included (a 413 split), and points dropped on
	// arrival for lack of a writable field.
	Points uint64
}

// Delivered returns the counts so far. It is safe to call while Run runs.
func (s *Sink) Delivered() Delivered {
	return Delivered{
		Records: s.tally.records.Load(),
		Points:  s.tally.points.Load() + s.stats.droppedInvalid.Load(),
	}
}

// tally is what Run has finished with, for Delivered. records grows as
// batches are acked, in order; points as each writer sends, so it counts
// the points of a batch written before an earlier one is finished.
type tally struct {
	records atomic.Uint64
	points  atomic.Uint64
}
