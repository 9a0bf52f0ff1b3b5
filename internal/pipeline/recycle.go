package pipeline

// Recycler hands the point slices of delivered records back from the sink to
// extract, so that the agent does not allocate points, tags and fields for
// every line: a recycled slice keeps its points, and each point keeps the
// capacity of its tag and field slices.
//
// The sink puts a record's Points once it has encoded them and never touches
// them again; extract gets them for a new record. A nil *Recycler recycles
// nothing, so stages work without one.
type Recycler struct {
	free chan []Point
}

// NewRecycler keeps at most n slices for reuse.
func NewRecycler(n int) *Recycler {
	return &Recycler{free: make(chan []Point, n)}
}

// Get returns an empty slice with room for points, or nil when none is free.
func (r *Recycler) Get() []Point {
	if r == nil {
		return nil
	}
	select {
	case p := <-r.free:
		return p[:0]
	default:
		return nil
	}
}

// Put offers p for reuse; the caller must not use p afterwards. When enough
// slices are kept already, p is left to the garbage collector.
func (r *Recycler) Put(p []Point) {
	if r == nil || cap(p) == 0 {
		return
	}
	for i := range p {
		// A kept tag value can hold a whole line (a substring of it):
		// let go of them until the slice is used again.
		clear(p[i].Tags)
		clear(p[i].Fields)
	}
	select {
	case r.free <- p:
	default:
	}
}
