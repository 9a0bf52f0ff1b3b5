// Package pipeline holds the plain data that flows between the stages:
//
//	file --tailer--> Line --extract--> Record --sink--> batch --2xx--> Ack
//
// It depends on the standard library only, so tailer, extract and sink can
// share these types without importing each other.
package pipeline

import (
	"math"
	"sync/atomic"
	"time"
)

// Origin says where a line came from: the file and the byte offset just past
// the line's newline. A Record carries the Origin of its line so that, once the
// sink has delivered everything up to it, the file's position can move there.
type Origin struct {
	// Path is where the file was when the line was read; File says which
	// file it is.
	Path   string
	Offset int64
	File   FileID
}

// FileID identifies a file by what it is, not where it is: the device and
// inode it had when opened, and a fingerprint of its first bytes, which
// tells a file on a reused inode apart. Two lines come from the same file
// exactly when their FileIDs are equal.
type FileID struct {
	Dev, Ino uint64
	// Fingerprint is the FNV-1a hash of the first FingerprintBytes bytes
	// of the file (at most 1 KiB; fewer while the file was shorter when
	// it was opened).
	Fingerprint      uint64
	FingerprintBytes int64
}

// Line is one complete line of a followed file, without its line ending
// ("\n" or "\r\n").
type Line struct {
	Origin
	// Source is the name of the source block whose globs matched the file.
	Source string
	Text   string
	// Span is how many bytes of the file the line covers: its text, its
	// line ending, and for a multiline record all its lines' endings and
	// the too-long lines dropped inside it. The line starts at Offset less
	// Span, which the text's length cannot tell once a "\r\n" ending or a
	// record's joining is in between. Zero when not known (a Line made by
	// hand); the tailer sets it on every line and record it reads.
	Span int64
	// ReadAt is when the line was read. Rules without a time block stamp
	// their points with it; nothing else in extraction reads the clock.
	ReadAt time.Time
	// ModTime is the file's modification time when the line was read. The
	// syslog layout, which has no year, picks the year from it.
	ModTime time.Time
	// Replay marks a line read again after a restart only to rebuild
	// extraction's state (the collision separator's): it was delivered
	// before, so it yields no record.
	Replay bool
	// Adopted marks the first line a follower emits from a file it began
	// reading at the file's ReplayFrom > 0 (first followed from its end,
	// start_at = "end"), whether new or replayed after a restart. Its time
	// bounds the adoption windows: the aggregation windows that start at or
	// before the window of its time got lines before the file's start that
	// run never read, so run leaves them to backfill, which writes them
	// whole (AggregateOnly).
	Adopted bool
	// AggregateOnly marks a line that backfill reads again after the
	// start of a file run adopted, only to complete the adoption windows:
	// it makes no per-line point, leaves the collision separator alone,
	// and folds only into the windows that start at or before the window
	// of the first Adopted line's time. It yields no point of its own.
	AggregateOnly bool
	// EOF marks no line but the end of a file that was rotated away and
	// read to its end: no line of it follows, so extraction frees what it
	// keeps for the file. It yields no record.
	EOF bool
	// HasLatest marks no line either, but the latest time (Unix ns) the
	// source had reached when the positions were last saved (Latest): the
	// tailer sends one per source at startup, before any line, so that
	// the windows closed before the restart stay closed (their lines
	// come late) although no line of theirs is replayed. It yields no
	// record.
	Latest    int64
	HasLatest bool
	// Progress, when not nil, is the followed file's: extraction notes
	// the log times of its lines there (Progress.NoteRead).
	Progress *Progress
	// Rules marks no line either, but a reload: the rules it holds (an
	// *extract.Extractor, opaque to the other stages) apply from the next
	// line on. The tailer sends it after every line read before the
	// reload, so the lines read before and after it are told apart
	// exactly. It yields no record.
	Rules any
}

// Progress is how far in log time the lines read from a followed file go.
// The tailer makes one per file it follows and points the file's Lines to
// it; extraction notes each line's log time, one pointer away instead of a
// lookup by file, and the tailer reads it for its stats. It lives as long
// as the file is followed.
type Progress struct {
	first, newest atomic.Int64
}

// NoteRead notes t (Unix ns), the log time of a line of the file. Safe on
// a nil *Progress, and for concurrent use.
func (p *Progress) NoteRead(t int64) {
	if p == nil {
		return
	}
	if p.first.Load() == 0 {
		p.first.CompareAndSwap(0, t)
	}
	for {
		n := p.newest.Load()
		if t <= n || p.newest.CompareAndSwap(n, t) {
			return
		}
	}
}

// Read returns the log times of the first and the newest line noted, 0 for
// none.
func (p *Progress) Read() (first, newest int64) {
	if p == nil {
		return 0, 0
	}
	return p.first.Load(), p.newest.Load()
}

// Tag is one tag of a point. Values are never empty.
type Tag struct {
	Key, Value string
}

// Kind says which member of a Value is set.
type Kind uint8

// The kinds of field values InfluxDB stores.
const (
	Float Kind = iota
	Int
	Uint
	Bool
	String
)

// Value is a field value. It is a small tagged union rather than an
// interface so that building one never allocates.
type Value struct {
	Kind Kind
	num  uint64
	str  string
}

// FloatValue, IntValue, UintValue, BoolValue and StringValue make Values.
func FloatValue(f float64) Value { return Value{Kind: Float, num: math.Float64bits(f)} }
func IntValue(i int64) Value     { return Value{Kind: Int, num: uint64(i)} }
func UintValue(u uint64) Value   { return Value{Kind: Uint, num: u} }
func StringValue(s string) Value { return Value{Kind: String, str: s} }
func BoolValue(b bool) Value {
	v := Value{Kind: Bool}
	if b {
		v.num = 1
	}
	return v
}

// Float, Int, Uint, Bool and Str return the value; each is meaningful only
// for its own Kind.
func (v Value) Float() float64 { return math.Float64frombits(v.num) }
func (v Value) Int() int64     { return int64(v.num) }
func (v Value) Uint() uint64   { return v.num }
func (v Value) Bool() bool     { return v.num != 0 }
func (v Value) Str() string    { return v.str }

// Field is one field of a point.
type Field struct {
	Key   string
	Value Value
}

// Point is one InfluxDB point. Tags are sorted by key with unique keys, and
// there is at least one field: extract guarantees both.
type Point struct {
	Measurement string
	Tags        []Tag
	Fields      []Field
	// Time is in Unix nanoseconds.
	Time int64
}

// Record is what extract makes of one line: the points of every rule that
// took it, possibly none. A record without points is still sent downstream
// as a checkpoint, so that a file whose lines match no rule still advances.
type Record struct {
	Origin
	Points []Point
	// LogTime is the latest time (Unix ns) a rule with a time block read
	// from the record's line; 0 when none did.
	LogTime int64
	Hold
}

// Hold keeps a file's position back: when Held, once the record is
// delivered the position may move to Hold, not past it, because the lines
// from Hold on are still needed (an aggregation window still open takes
// them): a restart must read them again.
//
// Latest, when HasLatest, is the latest time (Unix ns) any rule of the
// record's source read from a line, when the record was made: the windows
// that closed by it were written in this record or before, so once the
// record is delivered a restart may take them as closed (Line.Latest).
type Hold struct {
	Hold int64
	Held bool

	Latest    int64
	HasLatest bool
	// Rules marks no line either, but a reload: the rules it holds (an
	// *extract.Extractor, opaque to the other stages) apply from the next
	// line on. The tailer sends it after every line read before the
	// reload, so the lines read before and after it are told apart
	// exactly. It yields no record.
	Rules any
}

// Commit is where a delivered record (or ack) lets its file's position
// move: its Offset, or Hold when that is held back.
func (h Hold) Commit(o Origin) int64 {
	if h.Held {
		return min(h.Hold, o.Offset)
	}
	return o.Offset
}

// Ack tells the tailer that everything up to and including Origin has been
// delivered (or deliberately set aside) and its position may move there.
type Ack struct {
	Origin
	// Hold is that of the file's last record delivered: the position
	// moves to Hold.Commit(Origin).
	Hold
	// LogTime is the greatest LogTime of the file's records delivered
	// with this ack; 0 when none had one.
	LogTime int64
}
