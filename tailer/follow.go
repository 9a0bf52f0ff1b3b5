package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// follower reads one file, from the descriptor it opened, and turns its
// complete lines into pipeline.Lines. It owns what happens to the file:
//
//   - Growth is found by polling the descriptor's size every readInterval:
//     no inotify watch to run out of, no wakeup to lose.
//   - Rename or deletion (the path now names another file, or none): the
//     descriptor is read on to its end until the file has stayed unchanged
//     for rotateGrace, so what an application writes before it reopens its
//     log is read; then the file is released (descriptor closed, and a
//     final Line tells extract to free its state).
//   - Truncation (copytruncate, "> file"), also when the file was refilled
//     past the read offset before a poll saw it: the size is below the read
//     offset, or the last bytes read before it (read again with each read)
//     are no longer there. The content is new: reading starts again at 0,
//     as a new file identity, and nothing of it is passed on from the old
//     offset.
//
// A line is passed on only once its "\n" is there, and never more than
// limit+2 bytes of a line are held.
type follower struct {
	source string
	path   string
	id     pipeline.FileID
	file   *os.File
	sp     splitter
	limit  int
	log    *slog.Logger
	now    func() time.Time
	// Lines ending at or before replayUntil were delivered before a
	// restart: they are read again only to rebuild extraction's state.
	replayUntil int64
	// newID is called when truncation makes the file a new identity; it
	// records it with the positions.
	newID func(pipeline.FileID)

	// Written by run, read by Stats.
	lines, tooLong atomic.Int64
	err            atomic.Pointer[error]
	// idle is set while the file is read to its end (for tests).
	idle atomic.Bool
	// truncations counts the times the file was found truncated.
	truncations atomic.Int64

	// The last stat of the file, used and refreshed by run only: see modTime.
	statSize int64
	statMod  time.Time
	lastOff  int64

	// seenSize is the size the last check found; seenTail the bytes just
	// before the read offset, which a rewrite would change.
	seenSize int64
	seenTail []byte
	// moved is when the path was first found naming another file, or
	// none; zero while it names this one.
	moved time.Time

	// warnedOverlap is set, by Run's discovery only, once a second source
	// matching this file has been reported.
	warnedOverlap bool
}

// Timing of followers. Variables, so tests can shorten them.
var (
	// readInterval is how often a file at its end is polled for growth:
	// a line is read within it.
	readInterval = 250 * time.Millisecond
	// rotateGrace is how long a renamed or deleted file is read on after
	// its last change, for the writes of an application that reopens its
	// log late.
	rotateGrace = 5 * time.Second
)

// tailBytes is how many bytes before the read offset are kept to notice a
// file rewritten in place.
const tailBytes = 64

// run reads the file until ctx is done or the file is released after a
// rotation; then it closes the descriptor and, when released, sends a last
// Line with EOF set.
func (f *follower) run(ctx context.Context, lines chan<- pipeline.Line) {
	defer f.file.Close()
	buf := make([]byte, scanBufSize)
	wait := time.NewTimer(0)
	defer wait.Stop()
	for {
		grew, err := f.read(ctx, buf, lines)
		if errors.Is(err, errRewritten) {
			f.restart()
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				f.fail(err)
			}
			return
		}
		f.idle.Store(!grew)
		if grew {
			continue // read on while there is more
		}
		switch f.check() {
		case fileTruncated:
			f.restart()
			continue
		case fileReleased:
			select {
			case lines <- pipeline.Line{Origin: pipeline.Origin{Path: f.path, Offset: f.sp.end, File: f.id}, Source: f.source, EOF: true}:
			case <-ctx.Done():
			}
			return
		}
		wait.Reset(readInterval)
		select {
		case <-ctx.Done():
			return
		case <-wait.C:
		}
	}
}

// read reads what the file holds past the read offset and sends its
// complete lines. grew reports whether there was anything. The bytes just
// before the read offset are read again with it: when they changed, the
// file was rewritten in place (truncated and refilled past the offset
// before a poll saw it shorter), and read reports errRewritten without
// passing on anything of the new content.
func (f *follower) read(ctx context.Context, buf []byte, lines chan<- pipeline.Line) (grew bool, err error) {
	k := len(f.seenTail)
	n, rerr := f.file.ReadAt(buf, f.sp.pos-int64(k))
	if rerr != nil && !errors.Is(rerr, io.EOF) {
		return false, fmt.Errorf("read %s: %w", f.path, rerr)
	}
	if n < k || !bytes.Equal(buf[:k], f.seenTail) {
		return false, errRewritten
	}
	data := buf[k:n]
	if len(data) == 0 {
		return false, nil
	}
	err = f.sp.feed(data, func(l line) error {
		f.lines.Add(1)
		if l.tooLong {
			// Log a sample: the 1st, 2nd, 4th, 8th... dropped line.
			if n := f.tooLong.Add(1); n&(n-1) == 0 {
				f.log.Warn("line too long, dropped", "offset", l.end, "max_line_bytes", f.limit, "dropped", n)
			}
			return nil
		}
		select {
		case lines <- f.line(l):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	f.keepTail(data)
	return true, err
}

// errRewritten is read's word for a file rewritten under the read offset.
var errRewritten = errors.New("file rewritten before the read offset")

// keepTail keeps the last bytes read before the read offset.
func (f *follower) keepTail(read []byte) {
	if len(read) >= tailBytes {
		f.seenTail = append(f.seenTail[:0], read[len(read)-tailBytes:]...)
		return
	}
	f.seenTail = append(f.seenTail, read...)
	if extra := len(f.seenTail) - tailBytes; extra > 0 {
		f.seenTail = f.seenTail[:copy(f.seenTail, f.seenTail[extra:])]
	}
}

// fileState is what check found.
type fileState int

const (
	fileSame      fileState = iota // nothing to do but wait
	fileTruncated                  // new content: read it from 0
	fileReleased                   // rotated away and read to its end
)

// check looks at the file once its end is reached.
func (f *follower) check() fileState {
	fi, err := f.file.Stat()
	if err != nil {
		f.log.Warn("stat of open file failed", "err", err)
		return fileSame
	}
	size := fi.Size()
	if size < f.sp.pos {
		return fileTruncated
	}
	changed := size != f.seenSize
	f.seenSize = size
	at, err := os.Stat(f.path)
	if err == nil && os.SameFile(fi, at) {
		f.moved = time.Time{}
		return fileSame
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		// Neither here nor known gone (a permission changed, say):
		// keep reading the descriptor.
		f.log.Warn("stat failed", "err", err)
		return fileSame
	}
	now := time.Now()
	if f.moved.IsZero() || changed {
		if f.moved.IsZero() {
			f.log.Info("file renamed or deleted: reading it to its end", "grace", rotateGrace)
		}
		f.moved = now
		return fileSame
	}
	if now.Sub(f.moved) < rotateGrace {
		return fileSame
	}
	if f.sp.pos != f.sp.end {
		f.log.Warn("released with an unfinished last line, not passed on", "bytes", f.sp.pos-f.sp.end)
	}
	f.log.Info("file released", "offset", f.sp.end)
	return fileReleased
}

// restart reads the truncated file again from 0, as the new file it is.
func (f *follower) restart() {
	f.truncations.Add(1)
	f.log.Info("file truncated: reading it from its start", "offset", f.sp.pos)
	if f.sp.pos != f.sp.end {
		f.log.Warn("unfinished last line lost to truncation", "bytes", f.sp.pos-f.sp.end)
	}
	f.sp.reset(0)
	f.seenTail, f.seenSize, f.replayUntil, f.lastOff = f.seenTail[:0], 0, 0, 0
	if id, err := Identify(f.file); err == nil {
		f.id = id
	} else {
		f.id.Fingerprint++ // still a new identity downstream
		f.log.Warn("identify truncated file", "err", err)
	}
	if f.newID != nil {
		f.newID(f.id)
	}
}

// fail records and logs why the file is no longer followed.
func (f *follower) fail(err error) {
	if f.err.CompareAndSwap(nil, &err) {
		f.log.Error("stopped following file", "err", err)
	}
}

// line turns a complete line into a Line.
func (f *follower) line(l line) pipeline.Line {
	return pipeline.Line{
		Origin:  pipeline.Origin{Path: f.path, Offset: l.end, File: f.id},
		Source:  f.source,
		Text:    string(l.text),
		ReadAt:  f.now(),
		ModTime: f.modTime(l.end),
		Replay:  l.end <= f.replayUntil,
	}
}

// modTime returns the file's modification time for the line ending at off.
// Statting per line would cost a system call for every line; instead the
// file is statted again only when the line ends beyond the size seen at the
// last stat (so it was written after it) or the offset went backwards (the
// file was truncated). A line within the size seen was already written at
// that stat, so its mtime is a time at or after the line's writing, which is
// all the year and date inference needs. A backlog is thus read with one
// stat; a stat per line happens only while the reader keeps up with a
// writer that writes one line at a time, that is, when reading is not the
// bottleneck.
func (f *follower) modTime(off int64) time.Time {
	if off > f.statSize || off <= f.lastOff {
		// A failed stat keeps the last time, still the best known.
		if fi, err := f.file.Stat(); err == nil {
			f.statSize, f.statMod = fi.Size(), fi.ModTime()
		}
	}
	f.lastOff = off
	return f.statMod
}

func (f *follower) stats() FileStats {
	s := FileStats{
		Source: f.source,
		Path:   f.path,
		Counts: Counts{Lines: f.lines.Load(), TooLong: f.tooLong.Load()},
	}
	if err := f.err.Load(); err != nil {
		s.Err = *err
	}
	return s
}

// endOffsetChunk is how much endOffset reads at a time, backwards. Most files
// end with "\n", so the first read settles it.
const endOffsetChunk = 4 << 10

// endOffset returns where StartAtEnd starts reading: just past the file's
// last "\n", so that a line being written at startup is read whole once it
// is complete instead of as its tail end. It looks back at most limit+2
// bytes (the longest allowed text and its "\r\n"): an unfinished line longer
// than that is too long anyway, and starting inside it still drops it as
// too long, so memory and time stay bounded.
func endOffset(path string, limit int) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	floor := max(0, fi.Size()-int64(limit)-2)
	buf := make([]byte, endOffsetChunk)
	for end := fi.Size(); end > floor; {
		start := max(floor, end-endOffsetChunk)
		n, err := f.ReadAt(buf[:end-start], start)
		// A file truncated under us reads short: search what was read.
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		if err != nil && err != io.EOF {
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
		end = start
	}
	return floor, nil
}
