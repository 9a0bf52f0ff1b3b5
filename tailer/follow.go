package tailer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/nxadm/tail"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// follower reads one file through nxadm/tail and turns its lines into
// pipeline.Lines. Rotation, truncation and deletion are nxadm's ReOpen for
// now; the next issue wraps or replaces that here, where the file's identity
// (device, inode, fingerprint) will also live. Gaps of nxadm v1.4.11 it has
// to close, found while writing this:
//
//   - Lost wakeup: nxadm reads to the end and only then adds its inotify
//     watch, so an append in between goes unnoticed until the next write
//     (delayed, not lost). This happens at the first end of file and after
//     every reopen; in a tight loop, 140 appends out of 300 were missed.
//   - Memory: a line is read whole, however long, before we can drop it as
//     too long, so one endless line grows without bound.
//   - Watches are shared per path: a tail stopped while another starts on
//     the same path can close the new tail's event channel, so a file must
//     not be re-followed until the old tail's watch goroutine has gone.
//   - A failed stat other than "not exist" in its watch goroutine exits the
//     process (util.Fatal), and its inotify tracker logs to stderr directly.
type follower struct {
	source string
	path   string
	id     pipeline.FileID
	// Lines ending at or before replayUntil were delivered before a
	// restart: they are read again only to rebuild extraction's state.
	replayUntil int64
	limit       int
	log         *slog.Logger
	now         func() time.Time
	tail        *tail.Tail

	// Written by run, read by Stats.
	lines, tooLong atomic.Int64
	err            atomic.Pointer[error]

	// The last stat of the file, used and refreshed by run only: see modTime.
	statSize int64
	statMod  time.Time
	lastOff  int64

	// warnedOverlap is set, by Run's discovery only, once a second source
	// matching this file has been reported.
	warnedOverlap bool
}

// start opens the file through nxadm/tail from offset from: 0 for the
// beginning, or endOffset for StartAtEnd. The next issue passes the saved
// position here.
func (f *follower) start(from int64) error {
	cfg := tail.Config{
		Follow: true,
		// Follow the name, not the descriptor, across rename+create
		// rotation. nxadm reopens at offset 0 and may lose the old file's
		// last lines: the next issue's work.
		ReOpen: true,
		// The file was just found, and if it is gone by the time nxadm
		// opens it, waiting for it to come back is what ReOpen does anyway.
		MustExist: false,
		// A half-written line is held until its "\n" arrives, so a line is
		// never emitted in two pieces.
		CompleteLines: true,
		// nxadm logs reopen and truncation notices through this; without
		// it, it would print them to stderr.
		Logger: slog.NewLogLogger(f.log.Handler(), slog.LevelInfo),
	}
	if from > 0 {
		cfg.Location = &tail.SeekInfo{Offset: from, Whence: io.SeekStart}
	}
	t, err := tail.TailFile(f.path, cfg)
	if err != nil {
		return fmt.Errorf("follow %s: %w", f.path, err)
	}
	f.tail = t
	return nil
}

// run sends the file's lines until ctx is done or nxadm gives up on the
// file, then stops nxadm's reading goroutine before returning.
func (f *follower) run(ctx context.Context, lines chan<- pipeline.Line) {
	defer f.stop()
	for {
		select {
		case <-ctx.Done():
			return
		case tl, ok := <-f.tail.Lines:
			if !ok {
				return // nxadm died; stop records why
			}
			if tl.Err != nil {
				// nxadm only reports rate limiting this way, and we set no
				// rate limiter; log rather than trust the Text.
				f.log.Error("unexpected nxadm/tail line", "err", tl.Err)
				continue
			}
			line, ok := f.line(tl)
			if !ok {
				continue
			}
			select {
			case lines <- line:
			case <-ctx.Done():
				return
			}
		}
	}
}

// stop ends nxadm's reading goroutine and waits for it. It deliberately does
// not call Tail.Cleanup: in nxadm v1.4.11 the tail's own watch goroutine
// already removes its inotify watch when the tail dies, and the second
// removal drives the shared watch count for the path below zero, after which
// that path is never watched again in this process (hpcloud/tail#153,
// nxadm/tail#18). That watch goroutine exits on its own just after Stop
// returns; nxadm offers no way to wait for it.
func (f *follower) stop() {
	if err := f.tail.Stop(); err != nil {
		f.fail(err)
	}
}

// fail records and logs why the file is no longer followed. The file is not
// retried until restart: reading it again from the start would duplicate
// lines, and resuming needs the positions of the next issue.
func (f *follower) fail(err error) {
	if f.err.CompareAndSwap(nil, &err) {
		f.log.Error("stopped following file", "err", err)
	}
}

// line turns an nxadm line into a Line, or reports false for a line that is
// too long, after counting it.
func (f *follower) line(tl *tail.Line) (pipeline.Line, bool) {
	text := dropCR(tl.Text)
	// nxadm takes the offset with Tell() after reading the line's "\n"
	// (sendLine in tail.go), so it is just past the line, even when the
	// line was completed across several reads and whatever Location it
	// started from. TestRunFromBeginning and TestRunFromEnd pin this.
	off := tl.SeekInfo.Offset
	f.lines.Add(1)
	if len(text) > f.limit {
		// Log a sample: the 1st, 2nd, 4th, 8th... dropped line.
		if n := f.tooLong.Add(1); n&(n-1) == 0 {
			f.log.Warn("line too long, dropped", "offset", off, "bytes", len(text),
				"max_line_bytes", f.limit, "dropped", n)
		}
		return pipeline.Line{}, false
	}
	return pipeline.Line{
		Origin:  pipeline.Origin{Path: f.path, Offset: off, File: f.id},
		Source:  f.source,
		Text:    text,
		ReadAt:  f.now(),
		ModTime: f.modTime(off),
		Replay:  off <= f.replayUntil,
	}, true
}

// modTime returns the file's modification time for the line ending at off.
// Statting per line would cost a path lookup for every line; instead the
// file is statted again only when the line ends beyond the size seen at the
// last stat (so it was written after it) or the offset went backwards (nxadm
// reopened the file). A line within the size seen was already written at
// that stat, so its mtime is a time at or after the line's writing, which is
// all the syslog year guess needs. A backlog is thus read with one stat; a
// stat per line happens only while the reader keeps up with a writer that
// writes one line at a time, that is, when reading is not the bottleneck.
func (f *follower) modTime(off int64) time.Time {
	if off > f.statSize || off <= f.lastOff {
		// A failed stat (the file was just deleted or renamed) keeps the
		// last time, which is still the best known.
		if fi, err := os.Stat(f.path); err == nil {
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
