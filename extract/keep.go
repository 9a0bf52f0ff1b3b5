package extract

import "strings"

// Copying what a point keeps out of its line.
//
// The values a rule reads are substrings of the line (regex, logfmt), so a
// point holding one would keep the whole line alive while its record waits
// for the sink: 30,000 queued records of 16 KB lines were 650 MB. So the
// strings a point keeps (tag values and string fields read from the line;
// measurements, keys and static tags come from the rules) are copied.
//
// They are copied into slabs, not one allocation each: copying the method
// and status of an nginx line into a slab is a few nanoseconds and no
// allocation, where two strings.Clone calls would be two allocations per
// line. A slab is never written where a string already lies and never
// reused, so its strings stay immutable and the garbage collector frees it
// once no point refers to it; nothing depends on when the sink is done
// with a record. Records leave in the order they were made, so the slabs
// alive are those spanned by the queued records plus the one being filled:
// memory is what the queued points keep, plus at most two slabs and a
// sixteenth of waste at slab ends (a value that does not fit starts a new
// slab, and values over maxSlabValue get an allocation of their own).
//
// Interning small repeated values (a per-rule map of recent methods and
// statuses) was the alternative: no copy on a hit, but a map lookup per tag
// (slower than the copy) and a miss on every high-cardinality value.
const (
	slabBytes    = 16 << 10
	maxSlabValue = slabBytes / 16
)

// keeper hands out copies of strings from its current slab. A strings.Builder
// is the slab: String returns its bytes without copying, and appending
// within its capacity never touches the bytes already returned.
type keeper struct {
	slab strings.Builder
}

// keep returns a copy of s that shares no memory with s.
func (k *keeper) keep(s string) string {
	switch {
	case s == "":
		return ""
	case len(s) > maxSlabValue:
		return strings.Clone(s)
	case k.slab.Cap()-k.slab.Len() < len(s):
		k.slab.Reset() // the old slab is left to the strings in it
		k.slab.Grow(slabBytes)
	}
	n := k.slab.Len()
	k.slab.WriteString(s)
	return k.slab.String()[n:]
}
