//go:build unix

package tailer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// Archive is one finite input of a backfill: a plain log file, or a gzip,
// zstd or bzip2 archive told by its magic bytes, not its name (logrotate's
// compressext and dateext make any name possible). Make one with
// OpenArchive.
type Archive struct {
	Path string
	// Compression is "none", "gzip", "zstd" or "bzip2".
	Compression string
	// Size is the file's size on disk when it was opened (compressed, for
	// an archive): what ArchiveReader.Consumed counts up to.
	Size int64
	// ModTime is the file's modification time, for inferring the year of
	// timestamps that have none.
	ModTime time.Time
	// ID is the Dev and Ino of the file on disk, and the fingerprint of its
	// first decompressed bytes (fingerprintBytes, fewer when it is shorter):
	// a compressed copy of a file has the fingerprint of the original.
	ID pipeline.FileID

	packed compression
	// head is the first bytes of the content, decompressed, that ID's
	// fingerprint is made of: Describes hashes a saved fingerprint's
	// prefix of it.
	head []byte
}

// ArchiveReader reads an Archive's content, decompressed, from its start
// to the size it had when opened: a file still being written is read as it
// was then, so that Consumed ends at Size. Read and Close are for one
// goroutine; Consumed is for any.
type ArchiveReader struct {
	a    *Archive
	file *os.File
	disk *countingReader
	dec  io.ReadCloser // nil when the decoder could not start (gzip header)
	// pending is what of the head Read has not returned yet: OpenArchive
	// read it for the fingerprint.
	pending []byte
	out     int64 // content bytes returned by Read
	// err, once set, is what every later Read returns: io.EOF, or an
	// *ArchiveError.
	err error
}

// ArchiveError is a read of an archive that broke part way: a truncated or
// corrupt archive (or an I/O error). ArchiveReader.Read returned every byte
// decompressed before it, so the lines before the damage are kept. It is
// never io.EOF: a truncated archive is not a short one. Damage that only a
// checksum catches (gzip's and zstd's at the end of a member or frame,
// bzip2's at the end of a block) is reported after the damaged bytes.
type ArchiveError struct {
	Path        string
	Compression string
	// Offset is the bytes of the file on disk consumed when the read
	// broke (its decoder reads ahead a little), of Size.
	Offset, Size int64
	// Decompressed is the content bytes returned before the error.
	Decompressed int64
	Err          error
}

func (e *ArchiveError) Error() string {
	if e.Compression == uncompressed.String() {
		return fmt.Sprintf("read %s: %v at byte %d of %d", e.Path, e.Err, e.Offset, e.Size)
	}
	return fmt.Sprintf("read %s (%s): %v at byte %d of %d on disk, %d bytes decompressed",
		e.Path, e.Compression, e.Err, e.Offset, e.Size, e.Decompressed)
}

func (e *ArchiveError) Unwrap() error { return e.Err }

// OpenArchive opens the regular file at path and returns its description
// and a reader of its content, decompressed, from the start. The caller
// closes the reader. It fails only when the file cannot be opened or is no
// regular file; damaged content is an *ArchiveError from Read, after the
// content before the damage. An empty file is a plain, empty input.
func OpenArchive(path string) (*Archive, *ArchiveReader, error) {
	// Statted first: opening a FIFO would block.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("open %s: not a regular file (%s)", path, fi.Mode())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	a, r, err := openArchive(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return a, r, nil
}

func openArchive(f *os.File) (*Archive, *ArchiveReader, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() { // replaced since the first stat
		return nil, nil, fmt.Errorf("open %s: not a regular file (%s)", f.Name(), fi.Mode())
	}
	in, ok := inodeOf(fi)
	if !ok {
		return nil, nil, fmt.Errorf("stat %s: no device and inode", f.Name())
	}
	packed, err := sniff(f)
	if err != nil {
		return nil, nil, err
	}
	a := &Archive{Path: f.Name(), Compression: packed.String(), Size: fi.Size(), ModTime: fi.ModTime(), packed: packed}
	r := &ArchiveReader{a: a, file: f, disk: &countingReader{r: io.NewSectionReader(f, 0, fi.Size())}}
	if r.dec, err = decoder(r.disk, packed); err != nil {
		r.fail(err)
	}
	// The head is read here, for the fingerprint, and handed out first by
	// Read: the content is decompressed once.
	head := make([]byte, fingerprintBytes)
	n := 0
	for n < len(head) && r.err == nil {
		m, err := r.dec.Read(head[n:])
		n += m
		if err != nil {
			r.out = int64(n) // for the error's count
			r.fail(err)
		}
	}
	a.head, r.pending, r.out = head[:n], head[:n], 0
	a.ID = pipeline.FileID{Dev: in.dev, Ino: in.ino, Fingerprint: fnv1a(a.head), FingerprintBytes: int64(n)}
	return a, r, nil
}

// fail makes err, io.EOF or a decoder's, what Read returns from now on.
func (r *ArchiveReader) fail(err error) {
	if errors.Is(err, io.EOF) {
		r.err = io.EOF
		return
	}
	r.err = &ArchiveError{
		Path: r.a.Path, Compression: r.a.Compression, Offset: r.disk.n.Load(), Size: r.a.Size,
		Decompressed: r.out, Err: err,
	}
}

// Read reads the content. At its end it returns io.EOF; when the archive
// is damaged, an *ArchiveError, once every byte decompressed before the
// damage was returned (by earlier calls: a call that returns bytes returns
// no error).
func (r *ArchiveReader) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		r.out += int64(n)
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.dec.Read(p)
	r.out += int64(n)
	if err != nil {
		r.fail(err)
		if n == 0 {
			return 0, r.err
		}
	}
	return n, nil
}

// Consumed returns the bytes of the file on disk read so far (compressed
// bytes, for an archive): a progress bar counts input bytes with it. It is
// safe to call from any goroutine, while another reads.
func (r *ArchiveReader) Consumed() int64 { return r.disk.n.Load() }

// Close closes the decoder and the file. Calling it again does nothing.
func (r *ArchiveReader) Close() error {
	if r.file == nil {
		return nil
	}
	if r.dec != nil {
		r.dec.Close() // a decoder's Close only frees its buffers
	}
	err := r.file.Close()
	r.file = nil
	return err
}

// countingReader counts the bytes read from r, for another goroutine.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// BackfillFiles returns the files a backfill of src reads when the user
// names none: those src's globs match and, in the folder of each, its
// rotated names (see isSibling: access.log.1, access.log.2.gz,
// access.log-20250101.zst, app.1.log, ...), which Run never reads but may
// hold what it did not see. A file src.Exclude matches (full path or base
// name, as for Run) is left out, and its rotated names are not looked for:
// Run does not follow it. Only regular files are returned, each once, sorted by path;
// the caller orders them by time. An unreadable folder is an error: its
// archives would be missed without a word.
func BackfillFiles(src Source) ([]string, error) {
	// Cleaned as New cleans them: glob matches come back cleaned.
	exclude := make([]string, len(src.Exclude))
	for i, p := range src.Exclude {
		exclude[i] = filepath.Clean(p)
	}
	seen := map[string]bool{}
	var out []string
	keep := func(path string) bool {
		if seen[path] {
			return false
		}
		seen[path] = true
		if excluded(exclude, path) {
			return false
		}
		// Stat, not Lstat: a link to a log is read as the log.
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			return false // gone since listed, a folder, a FIFO
		}
		out = append(out, path)
		return true
	}
	folders := map[string][]os.DirEntry{}
	siblings := func(dir, base string) error {
		entries, ok := folders[dir]
		if !ok {
			var err error
			if entries, err = os.ReadDir(dir); err != nil {
				return fmt.Errorf("source %q: read folder for rotated files: %w", src.Name, err)
			}
			folders[dir] = entries
		}
		for _, e := range entries {
			if isSibling(base, e.Name()) {
				keep(filepath.Join(dir, e.Name()))
			}
		}
		return nil
	}
	for _, pattern := range src.Paths {
		matches, err := doublestar.FilepathGlob(pattern, doublestar.WithFilesOnly())
		if err != nil {
			return nil, fmt.Errorf("source %q: glob %q: %w", src.Name, pattern, err)
		}
		for _, m := range matches {
			if !keep(m) {
				continue
			}
			dir, base := filepath.Split(m)
			if err := siblings(filepath.Clean(dir), base); err != nil {
				return nil, err
			}
		}
		// A glob whose last element names one file (access.log) has
		// rotated names even when that file is gone: archives copied to
		// another host, or an application no longer writing.
		dirPattern, base := filepath.Split(pattern)
		if base == "" || strings.ContainsAny(base, "*?[{\\") || excluded(exclude, pattern) {
			continue
		}
		dirs, err := doublestar.FilepathGlob(filepath.Clean(dirPattern))
		if err != nil {
			return nil, fmt.Errorf("source %q: glob %q: %w", src.Name, pattern, err)
		}
		for _, dir := range dirs {
			if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
				if err := siblings(dir, base); err != nil {
					return nil, err
				}
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// Started is where `run` began reading a file it first followed from its
// end (start_at = "end"): what comes before Offset is not delivered, and
// what comes after is run's. A backfill of that file reads only the bytes
// before Offset, so that the two together deliver each line once.
type Started struct {
	// Path is where run last saw the file.
	Path string
	// ID is the file's identity as saved: Dev, Ino, Fingerprint and
	// FingerprintBytes.
	ID pipeline.FileID
	// Offset is the entry's replay_from, > 0.
	Offset int64
}

// ReadStarted reads the positions file of the state folder dir and returns
// its entries that began after a file's start (replay_from > 0). It takes
// no lock and writes nothing, so it works while run holds the folder: run
// replaces the file atomically. A missing file or folder is no error (nil,
// nil); one that cannot be read or parsed is an error that wraps ErrState
// and reads as run's would.
func ReadStarted(dir string) ([]Started, error) {
	path := filepath.Join(dir, positionsName)
	saved, err := loadPositions(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	var out []Started
	for _, p := range saved {
		if p.ReplayFrom == 0 {
			continue
		}
		fp, err := strconv.ParseUint(p.Fingerprint, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: positions file %s is corrupt: entry for %s has fingerprint %q", ErrState, path, p.Path, p.Fingerprint)
		}
		out = append(out, Started{
			Path:   p.Path,
			ID:     pipeline.FileID{Dev: p.Dev, Ino: p.Inode, Fingerprint: fp, FingerprintBytes: p.FingerprintBytes},
			Offset: p.ReplayFrom,
		})
	}
	return out, nil
}

// Describes reports whether a is the file s was saved for. That is a plain
// file with the same Dev and Ino and the same first bytes as far as s's
// fingerprint covers them (renamed since, maybe). Or it is a file on
// another inode, compressed or not, whose first bytes (decompressed) are
// those of a whole fingerprint (FingerprintBytes == fingerprintBytes): the
// file rotated and compressed since run began it, or copytruncate's copy.
// A shorter fingerprint says too little: two logs may begin with the same
// line, and taking another file for this one would skip its first lines.
func (s Started) Describes(a *Archive) bool {
	saved := positionOf(s.ID)
	c := candidate{in: inode{a.ID.Dev, a.ID.Ino}, packed: a.packed, head: a.head}
	if saved.describes(c) {
		return true
	}
	// An archive's inode says nothing: it may be the original's, freed
	// when the compressor deleted it.
	return s.ID.FingerprintBytes == fingerprintBytes && startsWith(a.head, saved)
}
