package tailer

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// compression is how a file is compressed, told by its first bytes, not
// its name: logrotate's compressext and dateext make any name possible.
type compression int

const (
	uncompressed compression = iota
	gzipped
	zstandard
	bzipped
)

func (c compression) String() string {
	return [...]string{"none", "gzip", "zstd", "bzip2"}[c]
}

// magics are the first bytes of each compressed format.
var magics = []struct {
	c     compression
	magic []byte
}{
	{gzipped, []byte{0x1f, 0x8b}},
	{zstandard, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{bzipped, []byte("BZh")},
}

// sniff tells how f is compressed from its first bytes. An empty or short
// file is uncompressed: a compressor writes its magic first.
func sniff(f *os.File) (compression, error) {
	var head [4]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return uncompressed, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	for _, m := range magics {
		if bytes.HasPrefix(head[:n], m.magic) {
			return m.c, nil
		}
	}
	return uncompressed, nil
}

// decompress returns the content of f, read from its start, as c says it
// is compressed. Closing it does not close f.
func decompress(f *os.File, c compression) (io.ReadCloser, error) {
	z, err := decoder(io.NewSectionReader(f, 0, 1<<63-1), c) // from the start, whatever f's offset
	if err != nil {
		switch c {
		case gzipped:
			return nil, fmt.Errorf("gunzip %s: %w", f.Name(), err)
		case zstandard:
			return nil, fmt.Errorf("unzstd %s: %w", f.Name(), err)
		}
		return nil, err
	}
	return z, nil
}

// decoder returns the content of r, compressed as c says. Closing it does
// not close r. The gzip reader reads its header at once, so a file too
// short for one fails here, not at the first read.
func decoder(r io.Reader, c compression) (io.ReadCloser, error) {
	switch c {
	case uncompressed:
		return io.NopCloser(r), nil
	case gzipped:
		z, err := gzip.NewReader(bufio.NewReader(r))
		if err != nil {
			return nil, err
		}
		return z, nil
	case zstandard:
		// One goroutine-free decoder with little memory: archives are
		// read rarely and once.
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		return z.IOReadCloser(), nil
	case bzipped:
		return io.NopCloser(bzip2.NewReader(bufio.NewReader(r))), nil
	}
	return nil, fmt.Errorf("bug: compression %d", c)
}

// head returns the first bytes of f's content, decompressed as c says, up
// to fingerprintBytes: what its fingerprint is made of.
func head(f *os.File, c compression) ([]byte, error) {
	r, err := decompress(f, c)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	buf := make([]byte, fingerprintBytes)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read %s (%s): %w", f.Name(), c, err)
	}
	return buf[:n], nil
}
