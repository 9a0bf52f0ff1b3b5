//go:build unix

package tailer

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// archiveLines are lines from to to-1 of a web log.
func archiveLines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "2025-03-10T%02d:%02d:%02d web-1 GET /api/items/%d 200 %d\n",
			i/3600%24, i/60%60, i%60, i*7919%10007, 100+i*37%900)
	}
	return b.String()
}

// bzip2 streams of archiveLines(0, 30) and archiveLines(30, 60), made with
// Python's bz2 module: the standard library reads bzip2 but cannot write
// it. TestOpenArchive checks what they hold.
const (
	bzip2Lines0to30  = "QlpoOTFBWSZTWe2gunsAAY3fgAAQQAL/8AKABAAyIkyAMAGGYIK9ITbaqamgDIYr0AaKp6TCABvVIVNspqDTBNPSdMj6ZztsAAAAAAHiiSEr3bxqGuNLg22TMhMySqUUUSUVclYi2LFYgq6xA7avWbYqDtBqD1B9weYM/ObR+7/WsJFryoOs6QVBaqg6W6wVOdflWqb6kAQAKnIe+AArUX1PABMPz2hU7qiMjKq+FR1aWfGKYYu+AA+eABmu2tHSVZr4AE43SrHZkud7ZjgAdbU7e8UqUaMmGZsejbLN3dU6w2VUJ1LHF4ADbZlRfNqDCu8Km7t6S1F2x4yEqKTCY0wZncl2ieK4qnOYYUkotSamHvlte/LVtXxtnO+18VvvKvnXxUg7wYg7wXgxB5g4g4g4gxBiD/g4g9Qc4PYu5IpwoSHbQXT2"
	bzip2Lines30to60 = "QlpoOTFBWSZTWfSyZ8MAAYLfgAAQQAL/8AKABAAyIkyAMAGGbUYRpqYNTUpGEYQQNCYUnqAADeqppkTEAGmnqXOrPN309EkkkkkkkkkvZgAhKnIvijO9Sq6lJJLLu1fAGGMAL5Jclcgu6NF0UorTDGmlLQeoMYOIOsG8GueernhXAjHXSzLAjrB5gy6Z2g8Qdq7Wm0gpBDOwzRGZzIKezkZnOx1cgIYDbY6xmYyURmfuwAPMg9u5YATHXJtYbJNsAP14+Kbg87zyNhdLCQjIjrxL5dMFiqsFYmWpNPwLCLaEHJSl6TPxMAFjuy095vOo280YdP5kaXM1ubkHIrKqOPncx9qVeEsfGy42cNSjkqazIq4jvFSpNm097eV1T3nJPdmdbWYAfxgBbAPcGMFoN4LwXgvBWCsH6C8HEGsH8XckU4UJD0smfDA="
)

func unbase64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func openArchiveT(t *testing.T, path string) (*Archive, *ArchiveReader) {
	t.Helper()
	a, r, err := OpenArchive(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return a, r
}

// readArchive reads r to its end, chunk bytes at a time, and returns the
// content and the error that ended it (nil for io.EOF). A call that
// returns both bytes and an error fails the test: Read promises the bytes
// first, so that a caller dropping them on an error loses nothing.
func readArchive(t *testing.T, r *ArchiveReader, chunk int) ([]byte, error) {
	t.Helper()
	buf := make([]byte, chunk)
	var out []byte
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if n > 0 && err != nil {
			t.Errorf("Read returned %d bytes and %v in one call", n, err)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func identify(t *testing.T, path string) pipeline.FileID {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, err := Identify(f)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Every format reads as the same content with the same fingerprint, told by
// its magic bytes: the names say otherwise on purpose.
func TestOpenArchive(t *testing.T) {
	content := archiveLines(0, 60)
	half, rest := archiveLines(0, 30), archiveLines(30, 60)
	bz := append(unbase64(t, bzip2Lines0to30), unbase64(t, bzip2Lines30to60)...)
	tests := []struct {
		name        string
		file        string
		data        []byte
		compression string
	}{
		{"plain", "access.log", []byte(content), "none"},
		{"gzip", "access.log.1", gzipData(t, []byte(content)), "gzip"},
		{"gzip members", "access.log.2", append(gzipData(t, []byte(half)), gzipData(t, []byte(rest))...), "gzip"},
		{"zstd", "access.log.3.gz", zstded(t, []byte(content)), "zstd"},
		{"zstd frames", "access.log.4.gz", append(zstded(t, []byte(half)), zstded(t, []byte(rest))...), "zstd"},
		{"bzip2 streams", "access.log.5.zst", bz, "bzip2"},
	}
	wantPrint := pipeline.FileID{Fingerprint: fnv1a([]byte(content[:fingerprintBytes])), FingerprintBytes: fingerprintBytes}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), tc.file), tc.data)
			a, r := openArchiveT(t, path)
			got, err := readArchive(t, r, 100) // less than the head: Read hands it out in parts
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(content, string(got)); diff != "" {
				t.Errorf("content (-want +got):\n%s", diff)
			}
			if n, err := r.Read(make([]byte, 10)); n != 0 || !errors.Is(err, io.EOF) {
				t.Errorf("Read after the end = %d, %v; want 0, EOF", n, err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			want := Archive{Path: path, Compression: tc.compression, Size: int64(len(tc.data)), ModTime: fi.ModTime(),
				ID: pipeline.FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino), Fingerprint: wantPrint.Fingerprint, FingerprintBytes: wantPrint.FingerprintBytes}}
			want.head = []byte(content[:fingerprintBytes])
			if diff := cmp.Diff(&want, a, cmp.AllowUnexported(Archive{}), cmpopts.IgnoreFields(Archive{}, "packed")); diff != "" {
				t.Errorf("Archive (-want +got):\n%s", diff)
			}
			if tc.compression == "none" {
				if id := identify(t, path); id != a.ID {
					t.Errorf("ID = %+v, Identify says %+v", a.ID, id)
				}
			}
			if c := r.Consumed(); c != a.Size {
				t.Errorf("Consumed() = %d at the end, want Size %d", c, a.Size)
			}
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := r.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// An empty or short file is a plain input, whatever its name, and its ID is
// Identify's.
func TestOpenArchiveShort(t *testing.T) {
	for _, content := range []string{"", "\x1f", "one line without end"} {
		t.Run(strconv.Quote(content), func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "access.log.1.gz"), []byte(content))
			a, r := openArchiveT(t, path)
			got, err := readArchive(t, r, 4)
			if err != nil || string(got) != content {
				t.Errorf("read %q, %v; want %q", got, err, content)
			}
			if a.Compression != "none" || a.ID != identify(t, path) {
				t.Errorf("Compression %q, ID %+v; want none and %+v", a.Compression, a.ID, identify(t, path))
			}
		})
	}
}

// A folder or a FIFO is refused at once; opening the FIFO would block.
func TestOpenArchiveNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "access.log.1")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, fifo, filepath.Join(dir, "gone.log")} {
		if a, r, err := OpenArchive(path); err == nil || a != nil || r != nil {
			t.Errorf("OpenArchive(%s) = %v, %v, %v; want an error", path, a, r, err)
		} else if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name %s", err, path)
		}
	}
}

// commonPrefix is how many first bytes a and b share.
func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// A damaged archive gives the bytes before the damage, then an error that
// says where: never a clean EOF. Scan, reading the same, keeps the lines.
func TestArchiveDamaged(t *testing.T) {
	big := []byte(archiveLines(0, 20000)) // 1.1 MB: zstd blocks hold 128 KiB
	small := []byte(archiveLines(0, 60))
	gz, zs := gzipData(t, big), zstded(t, big)
	gzA, gzB := gzipData(t, small[:len(small)/2]), gzipData(t, small[len(small)/2:])
	bzA, bzB := unbase64(t, bzip2Lines0to30), unbase64(t, bzip2Lines30to60)
	flip := func(b []byte, at int) []byte {
		b = bytes.Clone(b)
		for i := at; i < at+16; i++ {
			b[i] ^= 0x55
		}
		return b
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	tests := []struct {
		name        string
		data        []byte
		content     []byte
		compression string
		// good is how many first bytes of content must come before the
		// error; cut says the archive was cut short, so that all that
		// came is content.
		good int
		cut  bool
	}{
		{"gzip cut in half", gz[:len(gz)/2], big, "gzip", len(big) / 4, true},
		{"gzip without its trailer", gz[:len(gz)-4], big, "gzip", len(big), true},
		{"gzip header only", gz[:5], big, "gzip", 0, true},
		{"gzip cut within the first KiB", gzipData(t, small[:900])[:200], small, "gzip", 1, true},
		{"gzip second member cut", cat(gzA, gzB[:len(gzB)/2]), small, "gzip", len(small) / 2, true},
		{"gzip corrupt", flip(gz, len(gz)/2), big, "gzip", len(big) / 4, false},
		{"zstd cut in half", zs[:len(zs)/2], big, "zstd", len(big) / 4, true},
		{"zstd corrupt", flip(zs, len(zs)/2), big, "zstd", len(big) / 4, false},
		{"bzip2 second stream cut", cat(bzA, bzB[:len(bzB)/2]), small, "bzip2", len(archiveLines(0, 30)), true},
		{"bzip2 corrupt", cat(bzA, flip(bzB, len(bzB)/2)), small, "bzip2", len(archiveLines(0, 30)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "access.log.2"), tc.data)
			_, r := openArchiveT(t, path)
			got, err := readArchive(t, r, 4096)
			if err == nil {
				t.Fatalf("read %d bytes and a clean EOF; want an error", len(got))
			}
			if n := commonPrefix(got, tc.content); n < tc.good {
				t.Errorf("the first %d bytes are content, want at least %d", n, tc.good)
			}
			if tc.cut && !bytes.HasPrefix(tc.content, got) {
				t.Errorf("read %d bytes that are not the start of the content", len(got))
			}
			var ae *ArchiveError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T) is no *ArchiveError", err, err)
			}
			if ae.Path != path || ae.Compression != tc.compression || ae.Size != int64(len(tc.data)) ||
				ae.Offset <= 0 || ae.Offset > ae.Size || ae.Decompressed != int64(len(got)) || errors.Is(err, io.EOF) {
				t.Errorf("error %+v: want path %s, compression %s, offset in (0, %d], %d decompressed, no EOF",
					ae, path, tc.compression, len(tc.data), len(got))
			}
			for _, s := range []string{path, "(" + tc.compression + ")", fmt.Sprintf("at byte %d of %d on disk", ae.Offset, ae.Size)} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if n, again := r.Read(make([]byte, 10)); n != 0 || again != err {
				t.Errorf("Read after the error = %d, %v; want 0 and the same error", n, again)
			}

			// The lines before the damage reach Scan's caller.
			_, r2 := openArchiveT(t, path)
			var lines []string
			_, err = Scan(context.Background(), r2, Input{Path: path}, func(l pipeline.Line) error {
				lines = append(lines, l.Text)
				return nil
			})
			if !errors.As(err, &ae) {
				t.Errorf("Scan: %v; want an *ArchiveError", err)
			}
			var want []string
			if i := bytes.LastIndexByte(got, '\n'); i >= 0 {
				want = strings.Split(string(got[:i]), "\n")
			}
			if diff := cmp.Diff(want, lines); diff != "" {
				t.Errorf("Scan's lines (-want +got):\n%s", diff)
			}
		})
	}
}

// Consumed counts the bytes on disk from the first read to Size, and can
// be read while another goroutine reads (the race detector watches).
func TestArchiveConsumed(t *testing.T) {
	big := []byte(archiveLines(0, 20000))
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"plain", big},
		{"gzip", gzipData(t, big)},
		{"zstd", zstded(t, big)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "access.log.1"), tc.data)
			a, r := openArchiveT(t, path)
			if c := r.Consumed(); c <= 0 || c >= a.Size/2 {
				t.Errorf("Consumed() = %d once opened, want some of %d", c, a.Size)
			}
			done := make(chan []int64)
			go func() { // waited for below
				var seen []int64
				buf := make([]byte, 4096)
				for {
					_, err := r.Read(buf)
					seen = append(seen, r.Consumed())
					if err != nil {
						done <- seen
						return
					}
				}
			}()
			var seen []int64
			for seen == nil {
				select {
				case seen = <-done:
				default:
					if c := r.Consumed(); c < 0 || c > a.Size {
						t.Errorf("Consumed() = %d, out of [0, %d]", c, a.Size)
					}
					runtime.Gosched()
				}
			}
			distinct := 0
			for i := 1; i < len(seen); i++ {
				if seen[i] < seen[i-1] {
					t.Fatalf("Consumed() went back from %d to %d", seen[i-1], seen[i])
				}
				if seen[i] > seen[i-1] {
					distinct++
				}
			}
			if distinct < 5 {
				t.Errorf("Consumed() grew %d times while reading %d bytes on disk; want it to follow the reads", distinct, a.Size)
			}
			if last := seen[len(seen)-1]; last != a.Size {
				t.Errorf("Consumed() = %d at the end, want %d", last, a.Size)
			}
		})
	}
}

// A file grown after it was opened is read as it was then: Consumed ends
// at Size.
func TestArchiveReadsSizeAtOpen(t *testing.T) {
	path := writeFile(t, filepath.Join(t.TempDir(), "access.log"), []byte(archiveLines(0, 30)))
	a, r := openArchiveT(t, path)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(archiveLines(30, 60)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := readArchive(t, r, 100)
	if err != nil || string(got) != archiveLines(0, 30) || r.Consumed() != a.Size {
		t.Errorf("read %d bytes (%v), consumed %d; want the %d bytes there at open", len(got), err, r.Consumed(), a.Size)
	}
}

func TestBackfillFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{
		"logs/access.log", "logs/access.log.1", "logs/access.log.2.gz", "logs/access.log-20250101.zst",
		"logs/access.log.5.bz2", "logs/app.log", "logs/app.1.log", "logs/app.2.log.gz", "logs/app-20250310.log",
		"logs/error.log", "logs/error.log.1", "logs/notes.txt", "logs/access.logger",
		"sub/access.log", "sub/access.log.1", "gone/old.log.1", "gone/old.log.2.gz", "gone/older.log.1",
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, []byte(name+"\n"))
	}
	// Named like rotated files, and no regular files.
	if err := os.Mkdir(filepath.Join(dir, "logs/access.log.3"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "logs/access.log.4"), 0o644); err != nil {
		t.Fatal(err)
	}
	access := []string{"logs/access.log", "logs/access.log-20250101.zst", "logs/access.log.1", "logs/access.log.2.gz", "logs/access.log.5.bz2"}
	app := []string{"logs/app-20250310.log", "logs/app.1.log", "logs/app.2.log.gz", "logs/app.log"}
	tests := []struct {
		name    string
		paths   []string
		exclude []string
		want    []string
	}{
		{"a file and its rotated names", []string{"logs/access.log"}, nil, access},
		{"several files", []string{"logs/app.log", "logs/access.log"}, nil, append(append([]string{}, access...), app...)},
		{"globs that match rotated names too", []string{"logs/*.log", "logs/access.log*", "logs/access.log.1"}, nil,
			append(append(append([]string{}, access...), app[:3]...), "logs/access.logger", "logs/app.log", "logs/error.log", "logs/error.log.1")},
		{"exclude by base name and by path", []string{"logs/access.log"}, []string{"*.bz2", dir + "/logs/./access.log.1"},
			[]string{"logs/access.log", "logs/access.log-20250101.zst", "logs/access.log.2.gz"}},
		{"an excluded file's rotated names are not looked for", []string{"logs/error.log"}, []string{"error.log"}, nil},
		{"** across folders", []string{dir + "/**/access.log"}, []string{"*.gz", "*.zst", "*.bz2"},
			[]string{"logs/access.log", "logs/access.log.1", "sub/access.log", "sub/access.log.1"}},
		{"no match", []string{"logs/none.log"}, nil, nil},
		{"the file gone, its rotated names kept", []string{"gone/old.log"}, nil, []string{"gone/old.log.1", "gone/old.log.2.gz"}},
		{"the file gone, in folders a glob matches", []string{dir + "/g*/old.log"}, []string{"*.gz"}, []string{"gone/old.log.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := Source{Name: "web", Exclude: tc.exclude}
			for _, p := range tc.paths {
				if !filepath.IsAbs(p) {
					p = filepath.Join(dir, p)
				}
				src.Paths = append(src.Paths, p)
			}
			got, err := BackfillFiles(src)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, p := range tc.want {
				want = append(want, filepath.Join(dir, p))
			}
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
}

// Relative globs give relative paths, siblings included.
func TestBackfillFilesRelative(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, "app.log", nil)
	writeFile(t, "app.log.1", nil)
	got, err := BackfillFiles(Source{Name: "app", Paths: []string{"app.log"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"app.log", "app.log.1"}, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

func TestReadStarted(t *testing.T) {
	entries := `{"version": 1, "files": [
	  {"path": "/l/new.log", "dev": 1, "inode": 2, "fingerprint": "00000000000000aa", "fingerprint_bytes": 1024, "offset": 900, "replay_from": 0, "updated": "2025-03-10T12:00:00Z"},
	  {"path": "/l/access.log", "followed_as": "/l/access.log", "dev": 1, "inode": 3, "fingerprint": "cbf29ce484222325", "fingerprint_bytes": 1024, "offset": 7000, "replay_from": 5000, "updated": "2025-03-10T12:00:00Z"},
	  {"path": "/l/app.log.1", "followed_as": "/l/app.log", "dev": 1, "inode": 4, "fingerprint": "0123456789abcdef", "fingerprint_bytes": 300, "offset": 600, "replay_from": 600, "end": 600, "updated": "2025-03-10T12:00:00Z"}
	]}`
	tests := []struct {
		name string
		// positions is the file's content; "" means no file, "/" a folder
		// in its place.
		positions string
		noDir     bool
		want      []Started
		wantErr   bool
	}{
		{name: "no folder", noDir: true},
		{name: "no file"},
		{name: "entries", positions: entries, want: []Started{
			{Path: "/l/access.log", ID: pipeline.FileID{Dev: 1, Ino: 3, Fingerprint: 0xcbf29ce484222325, FingerprintBytes: 1024}, Offset: 5000},
			{Path: "/l/app.log.1", ID: pipeline.FileID{Dev: 1, Ino: 4, Fingerprint: 0x0123456789abcdef, FingerprintBytes: 300}, Offset: 600},
		}},
		{name: "none started after the start", positions: `{"version": 1, "files": [{"path": "/l/a.log", "offset": 5, "replay_from": 0}]}`},
		{name: "corrupt", positions: `{"version": 1, "files": [`, wantErr: true},
		{name: "unknown field", positions: `{"version": 1, "files": [], "extra": 1}`, wantErr: true},
		{name: "other version", positions: `{"version": 2, "files": []}`, wantErr: true},
		{name: "offset before replay_from", positions: `{"version": 1, "files": [{"path": "/l/a.log", "offset": 5, "replay_from": 9}]}`, wantErr: true},
		{name: "a folder in its place", positions: "/", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if !tc.noDir {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, positionsName)
			switch tc.positions {
			case "":
			case "/":
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			default:
				writeFile(t, path, []byte(tc.positions))
			}
			before := listDir(t, dir)
			got, err := ReadStarted(dir)
			if diff := cmp.Diff(before, listDir(t, dir)); diff != "" {
				t.Errorf("ReadStarted changed the state folder (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ReadStarted (-want +got):\n%s", diff)
			}
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("ReadStarted: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, ErrState) {
				t.Fatalf("ReadStarted: %v; want an ErrState naming %s", err, path)
			}
			// Word for word what run says about it.
			tl, runErr := New(Config{Sources: []Source{{Name: "web", Paths: []string{filepath.Join(dir, "none.log")}}}, StateDir: dir}, nil)
			if runErr == nil {
				tl.Close()
				t.Fatal("run accepts a positions file that ReadStarted refuses")
			}
			if err.Error() != runErr.Error() {
				t.Errorf("ReadStarted says\n\t%v\nrun says\n\t%v", err, runErr)
			}
		})
	}
}

// listDir returns the names in dir and their sizes, or nil when dir is
// missing.
func listDir(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.Size()
	}
	return out
}

// ReadStarted reads a state folder that a running agent holds, and what
// that agent wrote about a file it began at its end.
func TestReadStartedWhileRunHolds(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	log := writeFile(t, filepath.Join(dir, "access.log"), []byte(archiveLines(0, 30)))
	tl, err := New(Config{Sources: []Source{{Name: "web", Paths: []string{log}, StartAt: StartAtEnd}}, StateDir: state}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	lines := make(chan pipeline.Line)
	done := make(chan error)
	go func() { done <- tl.Run(ctx, lines, nil) }() // waited for below
	// The positions are saved right after the first discovery.
	var got []Started
	for deadline := time.Now().Add(10 * time.Second); got == nil; runtime.Gosched() {
		if got, err = ReadStarted(state); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no started file in the positions after 10s")
		}
	}
	cancel()
	for range lines {
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []Started{{Path: log, ID: identify(t, log), Offset: int64(len(archiveLines(0, 30)))}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadStarted (-want +got):\n%s", diff)
	}
}

func TestDescribes(t *testing.T) {
	content := []byte(archiveLines(0, 60))
	other := []byte(archiveLines(100, 160))
	// started is what run saved of the file at path, its first n bytes
	// fingerprinted.
	started := func(t *testing.T, path string, n int) Started {
		id := identify(t, path)
		f, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		id.Fingerprint, id.FingerprintBytes = fnv1a(f[:n]), int64(n)
		return Started{Path: path, ID: id, Offset: int64(n)}
	}
	rename := func(t *testing.T, from, to string) string {
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
		return to
	}
	tests := []struct {
		name string
		// setup writes the file run began as log and returns what run
		// saved and the file the backfill opens.
		setup func(t *testing.T, log string) (Started, string)
		want  bool
	}{
		{"the same file, renamed", func(t *testing.T, log string) (Started, string) {
			s := started(t, writeFile(t, log, content), fingerprintBytes)
			return s, rename(t, log, log+".1")
		}, true},
		{"the same file, renamed, begun short", func(t *testing.T, log string) (Started, string) {
			s := started(t, writeFile(t, log, content), 300)
			return s, rename(t, log, log+".1")
		}, true},
		{"another file on a reused inode", func(t *testing.T, log string) (Started, string) {
			s := started(t, writeFile(t, log, content), fingerprintBytes)
			writeFile(t, log, other) // the same inode, new first bytes
			return s, log
		}, false},
		{"the same inode cut shorter than the fingerprint", func(t *testing.T, log string) (Started, string) {
			s := started(t, writeFile(t, log, content), fingerprintBytes)
			writeFile(t, log, content[:500])
			return s, log
		}, false},
		{"gzip of it", func(t *testing.T, log string) (Started, string) {
			s := started(t, writeFile(t, log, content), fingerprintBytes)
			os.Remove(log)
			return s, writeFile(t, log+".1.gz", gzipData(t, content))
		}, true},
		{"gzip of it, begun short", func(t *testing.T, log string) (Started, string) {
			s := started(t, writeFile(t, log, content), fingerprintBytes-1)
			os.Remove(log)
			return s, writeFile(t, log+".1.gz", gzipData(t, content))
		}, false},
		{"gzip of another file", func(t *testing.T, log string) (Started, string) {
			s := started(t, writeFile(t, log, content), fingerprintBytes)
			return s, writeFile(t, log+".1.gz", gzipData(t, other))
		}, false},
		{"zstd of it", func(t *testing.T, log string) (Started, string) {
			s := started(t, writeFile(t, log, content), fingerprintBytes)
			return s, writeFile(t, log+"-20250310.zst", zstded(t, content))
		}, true},
		{"a plain copy (copytruncate)", func(t *testing.T, log string) (Started, string) {
			s := started(t, writeFile(t, log, content), fingerprintBytes)
			return s, writeFile(t, log+".1", content)
		}, true},
		{"a plain copy, begun short", func(t *testing.T, log string) (Started, string) {
			s := started(t, writeFile(t, log, content), 300)
			return s, writeFile(t, log+".1", content)
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, path := tc.setup(t, filepath.Join(t.TempDir(), "access.log"))
			a, _ := openArchiveT(t, path)
			if got := s.Describes(a); got != tc.want {
				t.Errorf("Describes = %v, want %v (saved %+v, archive %+v)", got, tc.want, s.ID, a.ID)
			}
		})
	}
}
