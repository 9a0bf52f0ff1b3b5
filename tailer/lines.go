package tailer

import "bytes"

// splitter cuts bytes, fed in order as they are read, into lines. It holds
// at most limit+2 bytes of an unfinished line (the longest allowed text and
// its "\r\n"): past that the line is too long whatever follows, so its
// bytes are counted, not kept, and memory stays bounded however long a
// line gets.
type splitter struct {
	limit int
	part  []byte // the unfinished line so far, unless over
	over  bool   // the unfinished line is too long
	// end is the offset just past the last complete line; pos is the
	// offset of the next byte to feed.
	end, pos int64
}

// line is a complete line: its text without "\n" or "\r\n" (valid until
// the next feed), the offsets where it starts and just past it, and
// whether it was too long (its text is then empty).
type line struct {
	text       []byte
	start, end int64
	tooLong    bool
}

// feed splits data, the bytes at s.pos, calling emit with each complete
// line. It stops at the first error of emit, which it returns, with s.pos
// just past that line: the rest of data is then to be fed again.
func (s *splitter) feed(data []byte, emit func(line) error) error {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.hold(data)
			return nil
		}
		end := s.pos + int64(i) + 1
		text := data[:i]
		if len(s.part) > 0 || s.over {
			s.hold(text)
			text = s.part
		}
		l := line{text: dropCR(text), start: s.end, end: end, tooLong: s.over}
		if !l.tooLong && len(l.text) > s.limit {
			l.tooLong = true
		}
		if l.tooLong {
			l.text = nil
		}
		s.part, s.over = s.part[:0], false
		s.pos, s.end = l.end, l.end
		data = data[i+1:]
		if err := emit(l); err != nil {
			return err
		}
	}
	return nil
}

// hold adds b to the unfinished line, or counts it once the line is too
// long.
func (s *splitter) hold(b []byte) {
	s.pos += int64(len(b))
	if s.over {
		return
	}
	if len(s.part)+len(b) > s.limit+2 {
		s.over, s.part = true, s.part[:0]
		return
	}
	s.part = append(s.part, b...)
}

// last returns the unfinished line as a final line, for an input that ends
// without a "\n", and resets the splitter; ok is false when there is none.
func (s *splitter) last() (l line, ok bool) {
	if s.pos == s.end {
		return line{}, false
	}
	l = line{text: s.part, start: s.end, end: s.pos, tooLong: s.over || len(s.part) > s.limit}
	if l.tooLong {
		l.text = nil
	}
	s.part, s.over, s.end = s.part[:0], false, s.pos
	return l, true
}

// reset starts again at offset off, dropping any unfinished line.
func (s *splitter) reset(off int64) {
	s.part, s.over, s.end, s.pos = s.part[:0], false, off, off
}
