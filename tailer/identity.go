//go:build unix

package tailer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// fingerprintBytes is how much of a file's start its fingerprint covers:
// enough to tell apart two logs that start alike (a header, then the first
// timestamped line), little enough to read at every open.
const fingerprintBytes = 1 << 10

// Identify returns the identity of the open file f: its device and inode,
// and the fingerprint of its first bytes (fingerprintBytes, or all of them
// while it is shorter).
func Identify(f *os.File) (pipeline.FileID, error) {
	fi, err := f.Stat()
	if err != nil {
		return pipeline.FileID{}, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return pipeline.FileID{}, fmt.Errorf("stat %s: no device and inode", f.Name())
	}
	fp, n, err := fingerprint(f, min(fi.Size(), fingerprintBytes))
	if err != nil {
		return pipeline.FileID{}, err
	}
	return pipeline.FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino), Fingerprint: fp, FingerprintBytes: n}, nil
}

// fingerprint hashes the first n bytes of f with FNV-1a. It returns the
// bytes it hashed, fewer when the file is shorter than n (truncated since
// it was statted).
func fingerprint(f *os.File, n int64) (uint64, int64, error) {
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return fnv1a(buf[:got]), int64(got), nil
}

// fnv1a is the FNV-1a hash of b.
func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// hexFingerprint is a fingerprint as the positions file writes it.
func hexFingerprint(fp uint64) string { return fmt.Sprintf("%016x", fp) }

// startsWith reports whether head, the first bytes of some file's content,
// begins with the bytes a saved fingerprint was made of. A fingerprint of
// no bytes is no evidence, so it matches nothing: only the device and
// inode can tell that file.
func startsWith(head []byte, saved position) bool {
	n := saved.FingerprintBytes
	return n > 0 && int64(len(head)) >= n && hexFingerprint(fnv1a(head[:n])) == saved.Fingerprint
}

// sameFile reports whether f is the file a saved position describes: the
// same device and inode, and the same first bytes as far as the saved
// fingerprint covers them.
func sameFile(f *os.File, id pipeline.FileID, saved position) (bool, error) {
	if id.Dev != saved.Dev || id.Ino != saved.Inode {
		return false, nil
	}
	fp, n, err := fingerprint(f, saved.FingerprintBytes)
	if err != nil {
		return false, err
	}
	return n == saved.FingerprintBytes && hexFingerprint(fp) == saved.Fingerprint, nil
}
