package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// follower reads one file, from the descriptor it opened, and turns its
// complete lines into pipeline.Lines. It owns what happens to the file:
//
//   - Growth is found by polling the descriptor (see readInterval):
//     no inotify watch to run out of, no wakeup to lose.
//   - Rename or deletion (the path now names another file, or none): the
//     descriptor is read on to its end until the file has stayed unchanged
//     for rotateGrace, so what an application writes before it reopens its
//     log is read; then the file is released (descriptor closed, and a
//     final Line tells extract to free its state).
//   - Truncation (copytruncate, "> file"), also when the file was refilled
//     past the read offset before a poll saw it: the size is below the read
//     offset, or the last bytes read before it (read again with each read)
//     are no longer there. What was not read yet may still be in a copy
//     (copytruncate while the agent is behind): a sibling that starts as
//     the file did (see copyOf) is read from the read offset to its end
//     first, as the old identity; without one the bytes lost are logged
//     and counted. The old identity is then released, and the new content
//     read from 0 as a new identity, nothing of it passed on from the old
//     offset.
//   - A file found at startup under a rotated name (rotated) is released
//     like a renamed one; a copy or a compressed file (finite) is read
//     once to its end and released.
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
	// adopt: reading began at the file's ReplayFrom > 0 (it was first
	// followed from its end) and no line was emitted yet: the next one is
	// flagged Adopted, at the first start and after every restart.
	adopt bool
	// pos records new identities, finer fingerprints and releases; nil
	// without a state folder.
	pos *positions
	// tl follows the file, as in (its device and inode); it and globs
	// are where a copy of the file is looked for when it is truncated.
	tl    *Tailer
	in    inode
	globs []string
	// rotated marks a file found at startup under a rotated name: it is
	// released once read to its end and quiet, whatever its path names.
	rotated bool
	// finite marks a copy or compressed file, read once to its end, its
	// content decompressed as packed says.
	finite bool
	packed compression
	// self is the identity of the open file itself: id, except for a
	// finite file, whose id is the identity of the file it is the rest
	// of. end is where a released self ends.
	self pipeline.FileID
	// print is the fingerprint saved for id, finer than id's once the
	// file has grown past it. Read by discovery.
	print atomic.Pointer[position]
	// copyPath is the copy being read for the truncated file, if any:
	// the lines read from it name it. It stays set in a follower stopped
	// while it read one (doneWithCopy).
	copyPath string
	// join joins the lines of a multiline source's records; nil for a
	// source without a multiline block, whose lines go out one by one.
	join *Joiner
	ml   *Multiline

	// Written by run, read by Stats.
	lines, tooLong atomic.Int64
	err            atomic.Pointer[error]
	// size is the file's size at its latest stat.
	size atomic.Int64
	// progress is the log time its lines reached, noted by extraction;
	// committed and delivered are the offset and the greatest log time
	// of its last ack, noted by Run (noteAck).
	progress             pipeline.Progress
	committed, delivered atomic.Int64
	// wholeAt is when the file was last found not truncated: copies made
	// after it may hold contents never seen (see readMissed).
	wholeAt time.Time
	// releasedPrints are the prints of the contents it released lately
	// (see remember).
	releasedPrints []position
	// idle is set while the file is read to its end (for tests).
	idle atomic.Bool
	// truncations counts the times the file was found truncated; lost
	// the bytes known to be lost to them, unread and without a copy.
	truncations, lost atomic.Int64
	// sizeSeen is the largest size a stat found since the last
	// truncation: what a truncation without a copy loses is at least
	// sizeSeen minus the offset read to.
	sizeSeen int64

	// The last stat of the file, used and refreshed by run only: see modTime.
	statSize int64
	statMod  time.Time
	lastOff  int64

	// While bytes read are fed to the splitter: chunk holds their
	// complete lines as one string, which the Lines' Texts are cut from
	// (see text), and chunkAt is the file offset of its first byte;
	// readAt is when they were read, every Line's ReadAt.
	chunk   string
	chunkAt int64
	readAt  time.Time

	// seenSize is the size the last check found; seenTail the bytes just
	// before the read offset, which a rewrite would change.
	seenSize int64
	seenTail []byte
	// moved is when the path was first found naming another file, or
	// none; zero while it names this one.
	moved time.Time

	// sentTo is the offset just past the last line sent (or dropped as
	// too long): where a follower stopped by a reload has read to. cancel
	// stops the follower alone and done is closed once it has stopped
	// (Tailer.start); unparked marks one resumed where a reload parked
	// its file (Tailer.unpark). See reload.go.
	sentTo   int64
	cancel   context.CancelFunc
	done     chan struct{}
	unparked bool

	// warnedOverlap is set, by Run's discovery only, once a second source
	// matching this file has been reported.
	warnedOverlap bool
}

// Timing of followers. Variables, so tests can shorten them.
var (
	// readInterval is how often a file at its end is polled for growth
	// at first; each poll that finds nothing doubles the wait, up to
	// idleInterval, and a poll that finds lines starts again. A busy
	// file's line is read within readInterval, a quiet file's within
	// idleInterval, and a thousand quiet files cost little CPU.
	readInterval = 250 * time.Millisecond
	idleInterval = 800 * time.Millisecond
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
	if f.finite {
		f.runFinite(ctx, lines)
		return
	}
	wait := time.NewTimer(0)
	defer wait.Stop()
	interval := readInterval
	for {
		grew, err := f.read(ctx, lines)
		if errors.Is(err, errRewritten) {
			// The new content is read at once and at the busy pace: a
			// writer that is refilling it may truncate it again soon.
			err, grew = f.truncated(ctx, lines), true
		}
		if err != nil {
			if ctx.Err() == nil {
				f.fail(err)
			}
			return
		}
		f.idle.Store(!grew)
		if grew {
			interval = readInterval
			continue // read on while there is more
		}
		switch f.check() {
		case fileTruncated:
			if f.truncated(ctx, lines) != nil {
				return
			}
			interval = readInterval
			continue
		case fileReleased:
			f.letGo(ctx, lines)
			return
		case fileMoved:
			// The logger writes to the file's successor now: the
			// pending record is complete, and goes on before the
			// successor's first record, as backfill, reading the
			// rotated file first, has it.
			if f.flushJoined(ctx, lines, cutNone) != nil {
				return
			}
			if f.tl != nil {
				f.tl.wakeDiscovery()
			}
		}
		next := interval
		if at, ok := f.joinDue(); ok {
			// A pending record waits for its next line until its
			// timeout, then goes on as complete.
			if left := time.Until(at); left > 0 {
				next = min(next, left)
			} else if f.flushJoined(ctx, lines, cutTimeout) != nil {
				return
			}
		}
		wait.Reset(next)
		interval = min(2*interval, idleInterval)
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
func (f *follower) read(ctx context.Context, lines chan<- pipeline.Line) (grew bool, err error) {
	rest, grew, err := f.readNew()
	if !grew || err != nil {
		return grew, err
	}
	err = f.feedTaken(rest, f.emitter(ctx, lines))
	if f.join != nil {
		// A pending record waits, maybe for its timeout: a one-line
		// one takes its own copy of its text rather than keep the
		// read's chunk (up to 64 KiB per file) alive that long.
		f.join.own()
	}
	if print := f.print.Load(); print != nil && print.FingerprintBytes < fingerprintBytes && f.sp.pos > print.FingerprintBytes {
		f.refine()
	}
	return true, err
}

// readNew is read's reading: into a pooled buffer, which it puts back
// before the lines are sent (take copies what they need), so that
// followers waiting for room in the lines channel (a hundred files read
// at startup) hold no read buffer, and the pool keeps about as many
// buffers as reads run at once.
func (f *follower) readNew() (rest []byte, grew bool, err error) {
	bp := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(bp)
	buf := *bp
	k := len(f.seenTail)
	n, rerr := f.file.ReadAt(buf, f.sp.pos-int64(k))
	if rerr != nil && !errors.Is(rerr, io.EOF) {
		return nil, false, fmt.Errorf("read %s: %w", f.path, rerr)
	}
	if n < k || !bytes.Equal(buf[:k], f.seenTail) {
		return nil, false, errRewritten
	}
	data := buf[k:n]
	if f.sp.pos == int64(k) && !f.sameHead(buf[:n]) {
		return nil, false, errRewritten
	}
	if len(data) == 0 {
		return nil, false, nil
	}
	if n == len(buf) {
		// A backlog: know how far it goes, for what a truncation would
		// lose (one stat per buffer read).
		f.noteSize()
	}
	rest = f.take(data)
	f.keepTail(data)
	return rest, true, nil
}

// sameHead reports whether head, the file's content from its start as read
// now, is still the content the follower identified: until tailBytes of it
// are read, the bytes before the read offset are too few to notice a
// rewrite (a copytruncate and refill between the identification and the
// first read). It is checked against the fingerprint; a content
// identified while empty has none, so when there is a rotated copy made
// since that it never saw, its head cannot be the content it identified.
func (f *follower) sameHead(head []byte) bool {
	print := f.print.Load()
	switch {
	case print == nil:
		return true
	case print.FingerprintBytes > 0:
		return startsWith(head, *print)
	default:
		return len(head) == 0 || len(f.missed(f.wholeAt)) == 0
	}
}

// feed feeds data, the bytes at the read offset just read, to the
// splitter with emit (take, then feedTaken).
func (f *follower) feed(data []byte, emit func(line) error) error {
	return f.feedTaken(f.take(data), emit)
}

// take copies out what feedTaken needs of data, the bytes at the read
// offset just read, so that data may be reused once it returns. The
// complete lines of data become one string, the chunk, which their Texts
// share: one allocation and copy per read rather than per line. A chunk
// lives while a line of it waits to be extracted; what extraction keeps
// of a line it copies (extract's keeper), so no chunk outlives its lines'
// records. The bytes after the last "\n" (a line being written) are
// returned, copied; without a "\n" the splitter holds data at once.
func (f *follower) take(data []byte) (rest []byte) {
	f.readAt = f.now()
	i := bytes.LastIndexByte(data, '\n')
	if i < 0 {
		f.sp.hold(data)
		return nil
	}
	f.chunk, f.chunkAt = string(data[:i+1]), f.sp.pos
	if i+1 < len(data) {
		rest = bytes.Clone(data[i+1:])
	}
	return rest
}

// feedTaken feeds the chunk and then rest, as take left them, to the
// splitter with emit. The splitter only reads the chunk's bytes (it
// copies what it holds), so the string is not written through.
func (f *follower) feedTaken(rest []byte, emit func(line) error) error {
	if f.chunk == "" {
		return nil
	}
	err := f.sp.feed(unsafe.Slice(unsafe.StringData(f.chunk), len(f.chunk)), emit)
	if err == nil {
		err = f.sp.feed(rest, emit) // no "\n" in it: only held
	}
	f.chunk = ""
	return err
}

// text returns the text of l as a string: cut from the chunk when the
// whole line is in it, else (a line begun in an earlier read, gathered
// by the splitter) a copy of its own.
func (f *follower) text(l line) string {
	if len(l.text) == 0 {
		return ""
	}
	e := l.end - 1 - f.chunkAt // where its "\n" is in the chunk
	if e < 0 || e >= int64(len(f.chunk)) {
		return string(l.text)
	}
	if e > 0 && f.chunk[e-1] == '\r' {
		e-- // a "\r\n" ending: the text stops before the "\r"
	}
	b := e - int64(len(l.text))
	if b < 0 {
		return string(l.text) // begun before the chunk
	}
	return f.chunk[b:e]
}

// emitter returns the splitter's emit for this file: it counts each line
// and sends the ones not too long. A line is counted before its send, so
// that whoever receives it finds it counted in Stats, and uncounted when
// the follower is stopped before it is sent: a reload that parks the file
// has it read again, and counted, by the follower that resumes it.
func (f *follower) emitter(ctx context.Context, lines chan<- pipeline.Line) func(line) error {
	if f.join != nil {
		return f.joinEmitter(ctx, lines)
	}
	return func(l line) error {
		f.lines.Add(1)
		if l.tooLong {
			// Log a sample: the 1st, 2nd, 4th, 8th... dropped line.
			if n := f.tooLong.Add(1); n&(n-1) == 0 {
				f.log.Warn("line too long, dropped", "offset", l.end, "max_line_bytes", f.limit, "dropped", n)
			}
			f.sentTo = l.end
			return nil
		}
		pl := f.line(l)
		// Without the select while there is room: it costs more than
		// the send.
		select {
		case lines <- pl:
			f.sentTo = l.end
			return nil
		default:
		}
		select {
		case lines <- pl:
			f.sentTo = l.end
			return nil
		case <-ctx.Done():
			f.lines.Add(-1)
			return ctx.Err()
		}
	}
}

// joinEmitter is emitter for a multiline source: lines go to the joiner,
// records from it to lines (sendRecord). A line is counted when read; the
// lines of the pending record, not sent, are uncounted when the follower
// stops (unread), as they are read again by whoever resumes the file.
func (f *follower) joinEmitter(ctx context.Context, lines chan<- pipeline.Line) func(line) error {
	send := f.sendRecord(ctx, lines)
	return func(l line) error {
		f.lines.Add(1)
		if l.tooLong {
			if n := f.tooLong.Add(1); n&(n-1) == 0 {
				f.log.Warn("line too long, dropped", "offset", l.end, "max_line_bytes", f.limit, "dropped", n)
			}
			if !f.join.dropped(l.end) {
				f.sentTo = l.end
			}
			return nil
		}
		if err := f.join.add(f.line(l), send); err != nil {
			f.lines.Add(-1)
			return err
		}
		return nil
	}
}

// sendRecord returns the joiner's emit: it sends a record, and moves
// sentTo past it.
func (f *follower) sendRecord(ctx context.Context, lines chan<- pipeline.Line) func(pipeline.Line) error {
	return func(rec pipeline.Line) error {
		select {
		case lines <- rec:
			f.sentTo = rec.Offset
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// flushJoined passes the pending record of a multiline source on: at the
// end of the file (why cutNone) or at its timeout.
func (f *follower) flushJoined(ctx context.Context, lines chan<- pipeline.Line, why cut) error {
	if f.join == nil {
		return nil
	}
	n, _ := f.join.pending()
	if err := f.join.flush(f.sendRecord(ctx, lines), why); err != nil {
		return err
	}
	if why == cutTimeout && n > 0 {
		f.pos.timeoutCut(f.id, f.sentTo)
	}
	return nil
}

// replayCuts gives the joiner the timeout cuts of the file's saved
// position, for the replay up to it.
func (f *follower) replayCuts(saved position) {
	if f.join != nil {
		f.join.cuts = saved.TimeoutCuts
	}
}

// unread uncounts the lines of the pending record, which were read but
// not sent: the follower has stopped, and a restart or a resumed follower
// reads them again from the record's first line.
func (f *follower) unread() {
	if f.join == nil {
		return
	}
	n, tooLong := f.join.pending()
	f.lines.Add(-int64(n + tooLong))
	f.tooLong.Add(-int64(tooLong))
}

// noteSize notes the file's size for sizeSeen.
func (f *follower) noteSize() {
	if fi, err := f.file.Stat(); err == nil {
		f.sizeSeen = max(f.sizeSeen, fi.Size())
	}
}

// refine makes the saved fingerprint cover what the file now has of its
// first fingerprintBytes, read and checked: a file identified while empty
// or short would otherwise be told, after a restart, by too few bytes.
// The identity in Lines stays the one the file was opened with.
func (f *follower) refine() {
	fp, n, err := fingerprint(f.file, min(f.sp.pos, fingerprintBytes))
	if err != nil || n <= f.print.Load().FingerprintBytes {
		return
	}
	p := positionOf(f.id)
	p.Fingerprint, p.FingerprintBytes = hexFingerprint(fp), n
	f.print.Store(&p)
	f.pos.refine(f.id, fp, n)
}

// readStream reads r, the file's content from its start (decompressed,
// or a copy's), from the read offset to its end and sends its complete
// lines. The bytes last read before the read offset must be there as they
// were (errRewritten), and r must reach the read offset (errShort):
// otherwise it is not the rest of this file.
func (f *follower) readStream(ctx context.Context, r io.Reader, lines chan<- pipeline.Line) error {
	k := len(f.seenTail)
	if _, err := io.CopyN(io.Discard, r, f.sp.pos-int64(k)); err != nil {
		if errors.Is(err, io.EOF) {
			return errShort
		}
		return err
	}
	buf := make([]byte, scanBufSize)
	if _, err := io.ReadFull(r, buf[:k]); err != nil || !bytes.Equal(buf[:k], f.seenTail) {
		return errRewritten
	}
	emit := f.emitter(ctx, lines)
	for {
		n, err := r.Read(buf)
		if ferr := f.feed(buf[:n], emit); ferr != nil {
			return ferr
		}
		f.keepTail(buf[:n])
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// joinDue returns when the pending record of a multiline source times
// out; ok is false when there is none.
func (f *follower) joinDue() (time.Time, bool) {
	if f.join == nil {
		return time.Time{}, false
	}
	return f.join.due()
}

// errShort is readStream's word for content that ends before the read
// offset.
var errShort = errors.New("ends before the read offset")

// runFinite reads a copy or compressed file from the read offset to its
// end, then releases it.
func (f *follower) runFinite(ctx context.Context, lines chan<- pipeline.Line) {
	r, err := decompress(f.file, f.packed)
	if err == nil {
		defer r.Close()
		err = f.readStream(ctx, r, lines)
	}
	if err != nil {
		if ctx.Err() == nil {
			f.fail(fmt.Errorf("read %s from offset %d: %w", f.path, f.sp.pos, err))
		}
		return
	}
	f.letGo(ctx, lines)
}

// letGo lets the file go for good, read to its end: its pending record is
// passed on first, so that it is counted in the stats that Tailer.letGo
// moves to the source's, then the file is released.
func (f *follower) letGo(ctx context.Context, lines chan<- pipeline.Line) {
	// This fails only when ctx is done, as release's sends do.
	_ = f.flushJoined(ctx, lines, cutNone)
	f.tl.letGo(f)
	f.release(ctx, lines)
}

// release lets the file go, read to its end: it records the end with the
// positions and sends the EOF Line that makes extract free its state.
func (f *follower) release(ctx context.Context, lines chan<- pipeline.Line) {
	// Its pending record first: nothing of the file follows it. This
	// fails only when ctx is done, as the EOF send below does.
	_ = f.flushJoined(ctx, lines, cutNone)
	if f.sp.pos != f.sp.end {
		f.log.Warn("released with an unfinished last line, not passed on", "bytes", f.sp.pos-f.sp.end)
	}
	f.log.Info("file released", "offset", f.sp.end)
	f.pos.release(f.id, f.sp.end)
	select {
	case lines <- pipeline.Line{Origin: pipeline.Origin{Path: f.linePath(), Offset: f.sp.end, File: f.id}, Source: f.source, EOF: true}:
	case <-ctx.Done():
	}
}

// truncated handles a truncation found by read or check: the rest of the
// old content from its copy, if there is one, then the old identity
// released, then the new content from 0. It returns an error only when
// ctx is done.
func (f *follower) truncated(ctx context.Context, lines chan<- pipeline.Line) error {
	f.truncations.Add(1)
	// sizeSeen, not a stat now: the size now is the new content's.
	known := max(f.sizeSeen, f.sp.pos)
	since, old := f.wholeAt, *f.print.Load()
	f.remember(old)
	// Every copy that starts like the file is tried, newest first: a short
	// fingerprint may match several, and a wrong one fails the check of
	// the bytes before the read offset before it passes anything on.
	for _, c := range f.copiesOf() {
		from := f.sp.pos
		err := f.readCopy(ctx, c, lines)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			f.log.Info("file truncated: read the rest of it from its copy", "copy", c.path, "from", from, "to", f.sp.pos)
			known = f.sp.pos
			break
		}
		f.log.Debug("file truncated: this copy does not hold its rest", "copy", c.path, "err", err)
	}
	// An unfinished last line held by the splitter is lost with the rest.
	if lost := known - f.sp.end; lost > 0 {
		f.lost.Add(lost)
		f.log.Warn("file truncated before it was read to its end and no copy holds the rest: bytes lost",
			"lost_bytes", lost, "offset", f.sp.end, "size_seen", known)
	}
	f.release(ctx, lines)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := f.readMissed(ctx, lines, since); err != nil {
		return err
	}
	f.restart()
	return nil
}

// recentPrints is how many prints of contents it released a follower
// remembers (see remember).
const recentPrints = 16

// remember notes the print of a content the follower read and released: a
// copy that starts like it (compressed since, so on another inode) holds
// nothing missed.
func (f *follower) remember(print position) {
	if print.FingerprintBytes == 0 {
		return
	}
	if len(f.releasedPrints) == recentPrints {
		f.releasedPrints = f.releasedPrints[:copy(f.releasedPrints, f.releasedPrints[1:])]
	}
	f.releasedPrints = append(f.releasedPrints, print)
}

// missed returns, oldest first, the rotated copies made since the given
// time that hold contents the follower never saw: not empty, not
// followed or released (by inode), not starting like a content it
// released, and not a copy of what the file holds now.
func (f *follower) missed(since time.Time) []candidate {
	since = since.Add(-mtimeSlack)
	var out []candidate
	for _, c := range f.tl.siblingFinder(globMatches(f.globs)).of(f.path) {
		if !c.named || len(c.head) == 0 || !c.fi.ModTime().After(since) || f.tl.isLive(c.in) || f.tl.isReleased(c.in) {
			continue
		}
		if !slices.ContainsFunc(f.releasedPrints, func(p position) bool { return startsWith(c.head, p) }) && !f.holdsCurrent(c) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b candidate) int { return a.fi.ModTime().Compare(b.fi.ModTime()) })
	return out
}

// mtimeSlack is how much earlier than the moment it was made a file's
// modification time may be: the kernel stamps files with a clock that lags
// by up to a tick (a copy made 1 ms after the follower looked can be dated
// 3 ms before), and a file server with its own. A copy dated this much
// before the follower last saw the file whole may still hold a content it
// never saw; the other tests of missed keep out those it did see.
const mtimeSlack = time.Second

// holdsCurrent reports whether c is a copy of what the followed file holds
// now (copied, not truncated yet): it starts alike and, uncompressed, also
// ends as the file does at the copy's length.
func (f *follower) holdsCurrent(c candidate) bool {
	head := make([]byte, len(c.head))
	if n, _ := f.file.ReadAt(head, 0); n < len(head) || !bytes.Equal(head, c.head) {
		return false
	}
	if c.packed != uncompressed {
		return true
	}
	size := c.fi.Size()
	k := min(size, tailBytes)
	mine, theirs := make([]byte, k), make([]byte, k)
	if n, _ := f.file.ReadAt(mine, size-k); int64(n) < k {
		return false
	}
	cf, err := os.Open(c.path)
	if err != nil {
		return false
	}
	defer cf.Close()
	n, _ := cf.ReadAt(theirs, size-k)
	return int64(n) == k && bytes.Equal(mine, theirs)
}

// readMissed reads, oldest first, the rotated copies made since the file
// was last seen whole that hold contents it never saw (see missed):
// copytruncate repeated while the follower was held up (InfluxDB down, the
// tailer paused) or faster than its polls writes, copies and truncates
// whole contents between two looks. Each is read from its start as a file
// of its own, then released. It looks for such copies again after reading
// them, until there are none: reading them can take long (the sink held
// up), and a copytruncate meanwhile makes another, whose content the file
// no longer holds. It returns an error only when ctx is done.
func (f *follower) readMissed(ctx context.Context, lines chan<- pipeline.Line, since time.Time) error {
	tried := map[inode]bool{} // a copy that fails to read is tried once
	for {
		more := false
		for _, c := range f.missed(since) {
			if tried[c.in] {
				continue
			}
			tried[c.in], more = true, true
			if err := f.readWhole(ctx, c, lines); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				f.log.Warn("a copy made while the file was not looked at could not be read", "copy", c.path, "err", err)
			}
		}
		if !more {
			return nil
		}
	}
}

// readWhole reads c from its start as its own identity and releases it.
func (f *follower) readWhole(ctx context.Context, c candidate, lines chan<- pipeline.Line) error {
	file, err := os.Open(c.path)
	if err != nil {
		return err
	}
	defer file.Close()
	id, err := Identify(file)
	if err != nil {
		return err
	}
	r, err := decompress(file, c.packed)
	if err != nil {
		return err
	}
	defer r.Close()
	f.log.Info("reading a copy made while the file was not looked at", "copy", c.path)
	f.remember(positionOf(id))
	f.id, f.self, f.replayUntil, f.copyPath = id, id, 0, c.path
	f.adopt = false
	defer f.doneWithCopy(ctx)
	f.sp.reset(0)
	f.seenTail = f.seenTail[:0]
	f.pos.start(c.path, id, 0)
	if err := f.readStream(ctx, r, lines); err != nil {
		return err
	}
	f.release(ctx, lines)
	f.tl.drained(c.in, id, c.fi.Size())
	return nil
}

// readCopy reads the rest of the truncated file from c, its copy, as the
// file's old identity; then c counts as released, so that discovery does
// not read it again.
func (f *follower) readCopy(ctx context.Context, c candidate, lines chan<- pipeline.Line) error {
	file, err := os.Open(c.path)
	if err != nil {
		return err
	}
	defer file.Close()
	r, err := decompress(file, c.packed)
	if err != nil {
		return err
	}
	defer r.Close()
	f.copyPath = c.path
	defer f.doneWithCopy(ctx)
	if err := f.readStream(ctx, r, lines); err != nil {
		return err
	}
	if id, err := Identify(file); err == nil {
		f.tl.drained(c.in, id, c.fi.Size())
	}
	return nil
}

// readBuffers are the followers' read buffers. Lines are copied out of a
// buffer before it is put back (Line.Text, the splitter's part).
var readBuffers = sync.Pool{New: func() any { b := make([]byte, scanBufSize); return &b }}

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
	fileMoved                      // just seen rotated away: read on, and find its successor
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
	f.size.Store(size)
	f.sizeSeen = max(f.sizeSeen, size)
	at, err := os.Stat(f.path)
	if !f.rotated && err == nil && os.SameFile(fi, at) {
		f.moved = time.Time{}
		f.wholeAt = time.Now()
		return fileSame
	}
	if !f.rotated && err != nil && !errors.Is(err, os.ErrNotExist) {
		// Neither here nor known gone (a permission changed, say):
		// keep reading the descriptor.
		f.log.Warn("stat failed", "err", err)
		return fileSame
	}
	now := time.Now()
	if f.moved.IsZero() || changed {
		first := f.moved.IsZero()
		f.moved = now
		if first {
			f.log.Info("file renamed or deleted: reading it to its end", "grace", rotateGrace)
			return fileMoved
		}
		return fileSame
	}
	if now.Sub(f.moved) < rotateGrace {
		return fileSame
	}
	return fileReleased
}

// restart reads the truncated file again from 0, as the new file it is.
func (f *follower) restart() {
	f.log.Info("file truncated: reading it from its start", "offset", f.sp.pos)
	f.sp.reset(0)
	f.seenTail, f.seenSize, f.sizeSeen, f.replayUntil, f.lastOff = f.seenTail[:0], 0, 0, 0, 0
	f.committed.Store(0) // of the new content, from its acks
	f.adopt = false
	f.wholeAt = time.Now() // what is identified now is whole
	old := f.id
	if id, err := Identify(f.file); err == nil {
		f.id = id
	} else {
		f.log.Warn("identify truncated file", "err", err)
	}
	f.self = f.id
	p := positionOf(f.id)
	f.print.Store(&p)
	again := f.id == old
	if again {
		// Emptied again ("> file" twice), or refilled alike: still a
		// new identity downstream, or a late ack of the old content
		// would move the new content's position.
		f.id.Fingerprint++
	}
	f.pos.start(f.path, f.id, 0)
	if again {
		f.pos.refine(f.id, f.self.Fingerprint, f.self.FingerprintBytes) // saved as the file's own
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
	adopted := f.adopt
	f.adopt = false
	return pipeline.Line{
		Adopted:  adopted,
		Origin:   pipeline.Origin{Path: f.linePath(), Offset: l.end, File: f.id},
		Source:   f.source,
		Text:     f.text(l),
		Span:     l.end - l.start,
		ReadAt:   f.readAt,
		ModTime:  f.modTime(l.end),
		Replay:   l.end <= f.replayUntil,
		Progress: &f.progress,
	}
}

// doneWithCopy ends the reading of a copy, unless ctx is done: the
// copyPath of a follower stopped by a reload says it stopped in one.
func (f *follower) doneWithCopy(ctx context.Context) {
	if ctx.Err() == nil {
		f.copyPath = ""
	}
}

// linePath is where the bytes being read are: the file's path, or its
// copy's.
func (f *follower) linePath() string {
	if f.copyPath != "" {
		return f.copyPath
	}
	return f.path
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
			f.size.Store(fi.Size())
		}
	}
	f.lastOff = off
	return f.statMod
}

func (f *follower) stats() FileStats {
	s := FileStats{
		Source:           f.source,
		Path:             f.path,
		Counts:           Counts{Lines: f.lines.Load(), TooLong: f.tooLong.Load()},
		LostToTruncation: f.lost.Load(),
		Size:             f.size.Load(),
		Committed:        f.committed.Load(),
	}
	f.join.counts(&s.Counts)
	s.Multiline = f.join != nil
	// The log lag: from the newest delivered line's time, or while none
	// was, from the first line's (the least the lag can be), to the
	// newest read.
	first, newest := f.progress.Read()
	if from := max(first, f.delivered.Load()); from != 0 && newest > from {
		s.LogLag = time.Duration(newest - from)
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
