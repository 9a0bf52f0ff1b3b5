package sink

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// Reasons for setting points aside, as written in the dead-letter file.
const (
	reasonRefused  = "refused"   // 400, 422
	reasonTooLarge = "too_large" // 413 for a single point over splitAboveBytes
)

// lineOrigin is where an encoded line came from: the file and the offset
// just past the line, as in its record's Origin.
type lineOrigin struct {
	path   string
	offset int64
}

// setAside writes lines [lo, hi) of b to the dead-letter file, one entry
// per point, counts them under reason and moves b.done to hi. A dead
// letter that cannot be written is counted as dropped (DeadLetterFailed)
// and logged: the lines are acked all the same, so a full disk under the
// state folder cannot stall every file behind one refused point.
func (s *Sink) setAside(b *batch, lo, hi int, reason string, status int, err error) {
	points := hi - lo
	b.done = hi
	first := b.from[lo]
	bytes := len(b.lines(lo, hi))
	// The server's message, which the status already precedes in the
	// comment line.
	msg := err.Error()
	if we := (*WriteError)(nil); errors.As(err, &we) {
		msg = we.Body
		if msg == "" {
			msg = http.StatusText(status)
		}
	}
	if s.dead.path == "" {
		s.count(reason, points, false)
		if n := s.setAsides.Add(1); pipeline.Sampled(n) {
			s.log.Error("points dropped (no dead-letter file)", "reason", reason, "status", status,
				"points", points, "bytes", bytes, "file", first.path, "offset", first.offset,
				"occurrence", n, "err", msg)
		}
		return
	}
	kept, werr := s.writeDeadLetters(b, lo, hi, reason, status, msg)
	s.count(reason, kept, false)
	if werr != nil {
		s.count(reason, points-kept, true)
		if n := s.deadFailures.Add(1); pipeline.Sampled(n) {
			s.log.Error("dead letter not written: points dropped", "reason", reason, "status", status,
				"points", points-kept, "file", first.path, "offset", first.offset,
				"dead_letters", s.dead.path, "occurrence", n, "err", werr)
		}
	}
	if kept == 0 {
		return
	}
	if n := s.setAsides.Add(1); pipeline.Sampled(n) {
		s.log.Error("points set aside in the dead-letter file", "reason", reason, "status", status,
			"points", kept, "bytes", bytes, "file", first.path, "offset", first.offset,
			"dead_letters", s.dead.path, "occurrence", n, "err", msg)
	}
}

// writeDeadLetters appends lines [lo, hi) of b to the dead-letter file,
// each after its comment line, and returns how many are in the file, as
// deadLetters.write. Batches written at once take turns.
func (s *Sink) writeDeadLetters(b *batch, lo, hi int, reason string, status int, msg string) (int, error) {
	s.deadMu.Lock()
	defer s.deadMu.Unlock()
	s.dead.entries = s.dead.entries[:0]
	s.dead.ends = s.dead.ends[:0]
	now := s.dead.now().UTC()
	for i := lo; i < hi; i++ {
		s.dead.entries = appendComment(s.dead.entries, now, reason, status, b.from[i], msg)
		s.dead.entries = append(s.dead.entries, b.lines(i, i+1)...)
		s.dead.ends = append(s.dead.ends, len(s.dead.entries))
	}
	return s.dead.write()
}

// count adds n points to the counter of reason: dead-lettered, dropped
// for want of a dead-letter file, or dropped because it failed.
func (s *Sink) count(reason string, n int, failed bool) {
	if n == 0 {
		return
	}
	c := &s.stats
	switch {
	case failed:
		c.deadLetterFailed.Add(uint64(n))
	case s.dead.path == "" && reason == reasonRefused:
		c.droppedRefused.Add(uint64(n))
	case s.dead.path == "":
		c.droppedTooLarge.Add(uint64(n))
	case reason == reasonRefused:
		c.deadRefused.Add(uint64(n))
	default:
		c.deadTooLarge.Add(uint64(n))
	}
}

// closeDeadLetters closes the dead-letter file, if Run opened it.
func (s *Sink) closeDeadLetters() {
	if err := s.dead.close(); err != nil {
		s.log.Error("close dead-letter file", "dead_letters", s.dead.path, "err", err)
	}
}

// appendComment appends the comment line that precedes a dead letter:
//
//	# time=2025-03-10T12:00:00Z reason=refused status=400 file="/var/log/app.log" offset=1234 error="..."
//
// Line protocol skips lines that start with '#', so the file can be
// replayed as it is (influx write, curl --data-binary @file). The file and
// error are Go-quoted: they cannot break the line.
func appendComment(b []byte, now time.Time, reason string, status int, from lineOrigin, msg string) []byte {
	b = append(b, "# time="...)
	b = now.AppendFormat(b, time.RFC3339Nano)
	b = append(b, " reason="...)
	b = append(b, reason...)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " file="...)
	b = strconv.AppendQuote(b, from.path)
	b = append(b, " offset="...)
	b = strconv.AppendInt(b, from.offset, 10)
	b = append(b, " error="...)
	b = strconv.AppendQuote(b, msg)
	return append(b, '\n')
}

// deadLetters is the dead-letter file, opened on the first dead letter and
// owned by Run, whose writers take turns under Sink.deadMu. It holds at
// most max bytes, plus one entry when a single entry is larger; then it
// moves to path+".1", replacing that one, and a new file starts. Entries
// are whole: a failed write is cut off again.
type deadLetters struct {
	path string
	max  int64
	now  func() time.Time

	f    *os.File
	size int64 // of f

	// The entries of one setAside: entries[ends[i-1]:ends[i]] is entry i.
	entries []byte
	ends    []int
}

// write appends the pending entries and syncs the file. It returns how
// many entries are in the file and synced, which, on an error, may be
// fewer than all of them.
func (d *deadLetters) write() (int, error) {
	if d.f == nil {
		if err := d.open(); err != nil {
			return 0, err
		}
	}
	synced, done, start := 0, 0, 0
	for done < len(d.ends) {
		// As many whole entries as fit; a first entry that does not fit
		// an empty file goes alone.
		k := done
		for k < len(d.ends) && d.size+int64(d.ends[k]-start) <= d.max {
			k++
		}
		if k == done {
			if d.size > 0 {
				if err := d.rotate(); err != nil {
					return synced, err
				}
				synced = done
				continue
			}
			k = done + 1
		}
		n, err := d.f.Write(d.entries[start:d.ends[k-1]])
		if err != nil {
			// Cut the torn entry off, so the next one starts on its own
			// line; if even that fails, open checks the last byte.
			if terr := d.f.Truncate(d.size); terr != nil {
				_ = d.f.Close()
				d.f = nil
			}
			return synced, fmt.Errorf("write %s: %w", d.path, err)
		}
		d.size += int64(n)
		done, start = k, d.ends[k-1]
	}
	if err := d.f.Sync(); err != nil {
		return synced, fmt.Errorf("sync %s: %w", d.path, err)
	}
	return done, nil
}

// open opens the file for appending, making its folder if needed. A file
// that does not end with a newline (a crash mid-write) gets one first.
func (d *deadLetters) open() error {
	if err := os.MkdirAll(filepath.Dir(d.path), 0o750); err != nil {
		return fmt.Errorf("dead-letter folder: %w", err)
	}
	f, err := os.OpenFile(d.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	size := fi.Size()
	if size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil && err != io.EOF {
			f.Close()
			return fmt.Errorf("read %s: %w", d.path, err)
		}
		if last[0] != '\n' {
			n, err := f.Write([]byte{'\n'})
			size += int64(n)
			if err != nil {
				f.Close()
				return fmt.Errorf("write %s: %w", d.path, err)
			}
		}
	}
	d.f, d.size = f, size
	return nil
}

// rotate syncs and closes the full file, moves it to path+".1" and opens a
// new one.
func (d *deadLetters) rotate() error {
	err := d.f.Sync()
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	d.f = nil
	if err != nil {
		return fmt.Errorf("sync %s: %w", d.path, err)
	}
	if err := os.Rename(d.path, d.path+".1"); err != nil {
		return err
	}
	return d.open()
}

func (d *deadLetters) close() error {
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}
