package tailer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

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
}

// Counts are the lines read from one file or input.
type Counts struct {
	// Lines is every line read, the dropped ones included.
	Lines int64
	// TooLong is the lines dropped because they exceed MaxLineBytes
	// (reason "too_long").
	TooLong int64
}

// scanBufSize is Scan's read buffer. A line that fits is handed to emit
// straight from it; a longer one is gathered in a second, reused buffer.
const scanBufSize = 64 << 10

// Scan reads r to its end and calls emit with each line in order: a file
// given to `logmetrics test`, or standard input. It is the finite
// counterpart of Run and makes the same Lines: Offset is the byte offset just
// past the line's "\n" (for a last line without one, the end of input), and
// Text has no "\n" or "\r\n" ending. A lone "\r" elsewhere, including at the
// very end of input, stays, as do invalid UTF-8 and any other bytes:
// deciding what they mean is extract's job.
//
// A line longer than MaxLineBytes is not emitted, only counted; its bytes
// still advance the offsets of the lines after it. Only the Text strings are
// allocated per line, so memory stays bounded by MaxLineBytes however long
// the input.
//
// Scan stops at the first error from r (wrapped with the path) or emit
// (returned as is), or when ctx is done (ctx.Err()), and returns the counts
// so far with it.
func Scan(ctx context.Context, r io.Reader, in Input, emit func(pipeline.Line) error) (Counts, error) {
	limit := maxLineBytes(in.MaxLineBytes)
	now := in.Now
	if now == nil {
		now = time.Now
	}
	br := bufio.NewReaderSize(r, scanBufSize)
	done := ctx.Done()
	var (
		c    Counts
		off  int64
		long []byte // the start of a line longer than br's buffer
		over bool   // the current line is already known to be too long
	)
	for {
		select {
		case <-done:
			return c, ctx.Err()
		default:
		}
		chunk, err := br.ReadSlice('\n')
		off += int64(len(chunk))
		if err == bufio.ErrBufferFull {
			// Gather at most limit+2 bytes, room for the longest allowed
			// text and its "\r\n": past that the line is too long whatever
			// follows, and holding more would only waste memory.
			if !over && len(long)+len(chunk) <= limit+2 {
				long = append(long, chunk...)
			} else {
				over, long = true, long[:0]
			}
			continue
		}
		if err != nil && err != io.EOF {
			return c, fmt.Errorf("read %s: %w", in.Path, err)
		}
		eof := err == io.EOF
		if eof && len(chunk) == 0 && len(long) == 0 && !over {
			return c, nil
		}
		text := chunk
		if len(long) > 0 {
			long = append(long, chunk...)
			text = long
		}
		if !eof {
			text = dropCR(text[:len(text)-1])
		}
		c.Lines++
		if over || len(text) > limit {
			c.TooLong++
		} else {
			err := emit(pipeline.Line{
				Origin:  pipeline.Origin{Path: in.Path, Offset: off},
				Source:  in.Source,
				Text:    string(text),
				ReadAt:  now(),
				ModTime: in.ModTime,
			})
			if err != nil {
				return c, err
			}
		}
		long, over = long[:0], false
		if eof {
			return c, nil
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
