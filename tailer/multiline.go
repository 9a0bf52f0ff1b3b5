package tailer

import (
	"regexp"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// Defaults of a Multiline's zero values.
const (
	// DefaultMultilineMaxLines bounds a record at 500 lines: a Java stack
	// trace with its "Caused by" chains rarely passes 200, so a longer
	// "record" is almost always a start pattern that stopped matching.
	DefaultMultilineMaxLines = 500
	// DefaultMultilineTimeout is how long a followed file's pending record
	// waits for its next line: long enough for a logger that writes a
	// trace in several writes, short enough to keep the record's points
	// near real time.
	DefaultMultilineTimeout = 2 * time.Second
)

// Multiline joins the lines of one record (a stack trace, a traceback)
// into one Line, whose Text holds them separated by "\n". Exactly one of
// Start and Continue is set:
//
//   - Start: a line matching it starts a new record; any other line
//     continues the record open (or, with none open, starts one).
//   - Continue: a line matching it continues the record open (or, with
//     none open, starts one); any other line starts a new record.
type Multiline struct {
	Start, Continue *regexp.Regexp
	// MaxLines is the most lines a record holds; zero means
	// DefaultMultilineMaxLines. A line that would continue a full record
	// starts a new one, and the full record counts as cut (CutMaxLines).
	MaxLines int
	// Timeout is how long a followed file's pending record waits for its
	// next line before it is passed on as complete (Timeouts); zero means
	// DefaultMultilineTimeout. Finite inputs pass their last record on at
	// their end.
	Timeout time.Duration
}

func (m *Multiline) maxLines() int {
	if m.MaxLines == 0 {
		return DefaultMultilineMaxLines
	}
	return m.MaxLines
}

func (m *Multiline) timeout() time.Duration {
	if m.Timeout == 0 {
		return DefaultMultilineTimeout
	}
	return m.Timeout
}

// same reports whether a and b join alike.
func (m *Multiline) same(o *Multiline) bool {
	if m == nil || o == nil {
		return m == o
	}
	re := func(a, b *regexp.Regexp) bool {
		return (a == nil) == (b == nil) && (a == nil || a.String() == b.String())
	}
	return re(m.Start, o.Start) && re(m.Continue, o.Continue) && m.maxLines() == o.maxLines() && m.timeout() == o.timeout()
}

// Why a record was passed on, besides its next record starting or its
// input ending.
type cut int

const (
	cutNone     cut = iota
	cutMaxLines     // it had MaxLines lines and the next line continued it
	cutMaxBytes     // the next line would have taken its text past the line limit
	cutTimeout      // no next line came within Timeout (followers only)
)

// Joiner is the one place where a multiline source's lines become records,
// for followers and Scan alike. It holds the record being gathered (the
// pending record) and passes each on, to the emit function it is given,
// once the line after it shows that it is complete (or at a limit, a
// timeout, or the end of the input). A record never joins a replayed line
// (Line.Replay) with one that is not: a restart replays up to the
// committed position, the end of a record delivered, however it ended.
//
// A record is one Line: its Text is its lines joined by "\n" (each
// without its line ending, "\r\n" included), and it takes its Origin,
// ReadAt, ModTime and Replay from its last line, so that a committed
// position is always the end of a whole record and a restart reads a
// pending record again from its first line; Adopted when its first line
// is. Its Span runs from its first line's start to its end, the too-long
// lines dropped inside it included (zero when its first line's is). Its Text is never longer than limit: a line that would take it
// past limit starts the next record instead (CutMaxBytes).
//
// When emit fails, the record stays pending and add returns the error
// without taking the line: the caller still owns it.
type Joiner struct {
	start, cont *regexp.Regexp
	maxLines    int
	limit       int
	timeout     time.Duration
	// borrowed: the Texts given to add are valid only until add returns
	// (Input.Borrowed), so add copies them, and a record's Text is handed
	// out of buf, valid only until emit returns. Otherwise a one-line
	// record keeps its line's Text, and a joined one gets its own string.
	borrowed bool

	rec  pipeline.Line // the pending record, its Text set only while n == 1 and stable
	buf  []byte        // the pending record's text, once copied
	n    int           // lines in the pending record, 0 when none
	skip int           // too-long lines dropped inside it
	// last is when the pending record last grew (time.Now), for its
	// timeout.
	last time.Time

	records, cutLines, cutBytes, timeouts atomic.Int64

	// cuts are where records were passed on at their timeout before a
	// restart (position.TimeoutCuts): replayed records end there too.
	cuts []int64
}

// NewJoiner returns a Joiner for m, whose records' Texts stay within
// limit bytes (zero means DefaultMaxLineBytes). With borrowed, the
// Texts given to Add are valid only until it returns, and so are the
// records' Texts until emit returns.
func NewJoiner(m *Multiline, limit int, borrowed bool) *Joiner {
	return &Joiner{start: m.Start, cont: m.Continue, maxLines: m.maxLines(), limit: maxLineBytes(limit), timeout: m.timeout(), borrowed: borrowed}
}

// Add takes the next line of the input, and passes the pending record to
// emit when l shows it complete (see Joiner).
func (j *Joiner) Add(l pipeline.Line, emit func(pipeline.Line) error) error { return j.add(l, emit) }

// Flush passes the pending record, if any, to emit: the input has ended.
func (j *Joiner) Flush(emit func(pipeline.Line) error) error { return j.flush(emit, cutNone) }

// Counts returns the records passed on so far, and why (Records,
// CutMaxLines, CutMaxBytes, Timeouts; the rest is zero).
func (j *Joiner) Counts() Counts {
	var c Counts
	j.counts(&c)
	return c
}

// starts reports whether text starts a new record even when one is open.
func (j *Joiner) starts(text string) bool {
	if j.start != nil {
		return j.start.MatchString(text)
	}
	return !j.cont.MatchString(text)
}

// add takes the next line of the input.
func (j *Joiner) add(l pipeline.Line, emit func(pipeline.Line) error) error {
	if j.n > 0 {
		why := cutNone
		switch {
		case j.starts(l.Text):
		case j.rec.Replay && !l.Replay:
			// The pending record ends at the committed position: it
			// was delivered before a restart, passed on there (at a
			// timeout, say), and l was not. Joined, l's record would
			// deliver its replayed lines again.
		case j.rec.Replay && slices.Contains(j.cuts, j.rec.Offset):
			// Replayed, and passed on there at its timeout before the
			// restart: l began a record of its own.
		case j.n >= j.maxLines:
			why = cutMaxLines
		case j.size()+1+len(l.Text) > j.limit:
			why = cutMaxBytes
		default:
			j.own()
			j.buf = append(append(j.buf, '\n'), l.Text...)
			j.n++
			j.follow(l)
			return nil
		}
		if err := j.flush(emit, why); err != nil {
			return err
		}
	}
	j.rec, j.n, j.skip = l, 1, 0
	j.buf = j.buf[:0]
	if j.borrowed {
		j.own()
	}
	j.last = time.Now()
	return nil
}

// follow makes the pending record end where l, its new last line, does.
func (j *Joiner) follow(l pipeline.Line) {
	j.endAt(l.Offset)
	j.rec.Origin, j.rec.ReadAt, j.rec.ModTime, j.rec.Replay = l.Origin, l.ReadAt, l.ModTime, l.Replay
	j.last = time.Now()
}

// endAt moves the pending record's end to off, its Span with it: its
// start stays where its first line's is.
func (j *Joiner) endAt(off int64) {
	if j.rec.Span > 0 {
		j.rec.Span += off - j.rec.Offset
	}
	j.rec.Offset = off
}

// own copies a one-line record's Text into buf, so that the record no
// longer refers to the text it was given.
func (j *Joiner) own() {
	if j.rec.Text != "" {
		j.buf = append(j.buf[:0], j.rec.Text...)
		j.rec.Text = ""
	}
}

// size is the length of the pending record's text.
func (j *Joiner) size() int {
	if j.rec.Text != "" {
		return len(j.rec.Text)
	}
	return len(j.buf)
}

// dropped notes a too-long line (dropped, counted by the caller) read
// while a record is pending: the record then ends past it, so that a
// committed position does not fall before it. It reports false when no
// record is pending.
func (j *Joiner) dropped(end int64) bool {
	if j.n == 0 {
		return false
	}
	j.endAt(end)
	j.skip++
	j.last = time.Now()
	return true
}

// pending returns the physical lines of the pending record: n joined and
// tooLong dropped inside it.
func (j *Joiner) pending() (n, tooLong int) { return j.n, j.skip }

// due returns when the pending record times out; ok is false when none is
// pending.
func (j *Joiner) due() (at time.Time, ok bool) {
	if j.n == 0 {
		return time.Time{}, false
	}
	return j.last.Add(j.timeout), true
}

// flush passes the pending record on, if any, counting why.
func (j *Joiner) flush(emit func(pipeline.Line) error, why cut) error {
	if j.n == 0 {
		return nil
	}
	rec := j.rec
	if rec.Text == "" && len(j.buf) > 0 {
		if j.borrowed {
			rec.Text = unsafe.String(unsafe.SliceData(j.buf), len(j.buf))
		} else {
			rec.Text = string(j.buf)
		}
	}
	// Counted before it is passed on, so that whoever receives it finds
	// it counted in Stats; uncounted when it is not.
	j.count(why, 1)
	if err := emit(rec); err != nil {
		j.count(why, -1)
		return err
	}
	j.n, j.skip, j.rec, j.buf = 0, 0, pipeline.Line{}, j.buf[:0]
	if cap(j.buf) > keptJoinBuf {
		// A long record's room goes with it: a follower per file
		// would otherwise keep its longest record's size for good.
		j.buf = nil
	}
	return nil
}

// keptJoinBuf is the most room a Joiner keeps between records.
const keptJoinBuf = 64 << 10

// count adds d to the records and to the count of why.
func (j *Joiner) count(why cut, d int64) {
	j.records.Add(d)
	switch why {
	case cutMaxLines:
		j.cutLines.Add(d)
	case cutMaxBytes:
		j.cutBytes.Add(d)
	case cutTimeout:
		j.timeouts.Add(d)
	}
}

// counts adds the Joiner's counts to c.
func (j *Joiner) counts(c *Counts) {
	if j == nil {
		return
	}
	c.Records += j.records.Load()
	c.CutMaxLines += j.cutLines.Load()
	c.CutMaxBytes += j.cutBytes.Load()
	c.Timeouts += j.timeouts.Load()
}
