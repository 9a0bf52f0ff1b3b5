package tailer

import (
	"context"
	"fmt"
	"io"
	"time"
	"unsafe"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// Input describes one finite input for Scan.
type Input struct {
	// Source is the name of the source block the lines belong to.
	Source string
	// Path is the file name, or "-" for standard input. It goes into every
	// Line and into errors.
	Path string
	// ModTime is the file's modification time. For standard input, which has
	// none, the caller passes the time it started reading.
	ModTime time.Time
	// MaxLineBytes is as in Config; zero means DefaultMaxLineBytes.
	MaxLineBytes int
	// Now stamps Line.ReadAt; nil means time.Now. `logmetrics test` passes a
	// fixed clock so that its output is reproducible.
	Now func() time.Time
	// File is the input's identity, for the collision separator; zero for
	// standard input.
	File pipeline.FileID
	// Multiline, when not nil, joins the lines of each record into one
	// Line (see Multiline); the last record is passed on at the end of
	// the input.
	Multiline *Multiline
	// Borrowed hands each Line's Text out of Scan's own buffer instead of
	// a copy: it is valid only until emit returns, and emit must not keep
	// it. For a caller that is done with each line by then (`logmetrics
	// test` extracts and encodes it at once), it saves an allocation and a
	// copy per line.
	Borrowed bool
}

// Counts are the lines read from one file or input.
type Counts struct {
	// Lines is every line read, the dropped ones included.
	Lines int64
	// TooLong is the lines dropped because they exceed MaxLineBytes
	// (reason "too_long").
	TooLong int64
	// The records of a source with a multiline block (zero otherwise):
	// Records is every record passed on, one-line ones included;
	// CutMaxLines the records passed on at max_lines with their next line
	// still continuing them, CutMaxBytes those passed on because their
	// next line would have taken them past MaxLineBytes, and Timeouts
	// those a follower passed on after no next line came within the
	// timeout. Lines counts the lines, not the records.
	Records, CutMaxLines, CutMaxBytes, Timeouts int64
}

// Add adds o to c.
func (c *Counts) Add(o Counts) { c.add(o, 1) }

func (c *Counts) add(o Counts, sign int64) {
	c.Lines += sign * o.Lines
	c.TooLong += sign * o.TooLong
	c.Records += sign * o.Records
	c.CutMaxLines += sign * o.CutMaxLines
	c.CutMaxBytes += sign * o.CutMaxBytes
	c.Timeouts += sign * o.Timeouts
}

// scanBufSize is the read buffer of Scan and of followers. A line that fits
// is handed on straight from it; a longer one is gathered by the splitter.
const scanBufSize = 64 << 10

// Scan reads r to its end and calls emit with each line in order: a file
// given to `logmetrics test`, or standard input. It is the finite
// counterpart of Run and makes the same Lines: Offset is the byte offset just
// past the line's "\n" (for a last line without one, the end of input), and
// Text has no "\n" or "\r\n" ending. A lone "\r" elsewhere, including at the
// very end of input, stays, as do invalid UTF-8 and any other bytes:
// deciding what they mean is extract's job.
//
// With Multiline, emit gets records rather than lines (see Multiline and
// Joiner), the last one at the end of the input.
//
// A line longer than MaxLineBytes is not emitted, only counted; its bytes
// still advance the offsets of the lines after it. Only the Text strings are
// allocated per line (none with Borrowed), so memory stays bounded by
// MaxLineBytes however long the input.
//
// Scan stops at the first error from r (wrapped with the path) or emit
// (returned as is), or when ctx is done (ctx.Err()), and returns the counts
// so far with it.
func Scan(ctx context.Context, r io.Reader, in Input, emit func(pipeline.Line) error) (c Counts, err error) {
	now := in.Now
	if now == nil {
		now = time.Now
	}
	sp := splitter{limit: maxLineBytes(in.MaxLineBytes)}
	buf := make([]byte, scanBufSize)
	var j *Joiner
	send := emit
	if in.Multiline != nil {
		j = NewJoiner(in.Multiline, sp.limit, in.Borrowed)
		send = func(l pipeline.Line) error { return j.add(l, emit) }
		defer j.counts(&c) // c is the result: counted whatever the return
	}
	emit1 := func(l line) error {
		c.Lines++
		if l.tooLong {
			c.TooLong++
			if j != nil {
				j.dropped(l.end)
			}
			return nil
		}
		var text string
		if in.Borrowed {
			text = unsafe.String(unsafe.SliceData(l.text), len(l.text))
		} else {
			text = string(l.text)
		}
		return send(pipeline.Line{
			Origin:  pipeline.Origin{Path: in.Path, Offset: l.end, File: in.File},
			Source:  in.Source,
			Text:    text,
			Span:    l.end - l.start,
			ReadAt:  now(),
			ModTime: in.ModTime,
		})
	}
	for {
		if err := ctx.Err(); err != nil {
			return c, err
		}
		n, rerr := r.Read(buf)
		if err := sp.feed(buf[:n], emit1); err != nil {
			return c, err
		}
		if rerr == io.EOF {
			if l, ok := sp.last(); ok {
				if err := emit1(l); err != nil {
					return c, err
				}
			}
			if j != nil {
				return c, j.flush(emit, cutNone)
			}
			return c, nil
		}
		if rerr != nil {
			return c, fmt.Errorf("read %s: %w", in.Path, rerr)
		}
	}
}

// dropCR removes the "\r" of a "\r\n" line ending whose "\n" the caller has
// already removed.
func dropCR[T string | []byte](s T) T {
	if n := len(s); n > 0 && s[n-1] == '\r' {
		return s[:n-1]
	}
	return s
}
