//go:build unix

package tailer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// seen is a line as the rotation tests compare it: where it was read, its
// text ("EOF" for the marker) and whether it was a replay.
type seen struct {
	Path, Text string
	Replay     bool
}

// byFile groups lines by path, each file's in order, and checks that each
// path's lines carry one identity.
func byFile(t *testing.T, lines []pipeline.Line) map[string][]seen {
	t.Helper()
	out := map[string][]seen{}
	ids := map[string]pipeline.FileID{}
	for _, l := range lines {
		text := l.Text
		if l.EOF {
			text = "EOF"
		}
		name := filepath.Base(l.Path)
		out[name] = append(out[name], seen{name, text, l.Replay})
		if id, ok := ids[name]; ok && id != l.File {
			t.Errorf("%s: identity %+v, then %+v", name, id, l.File)
		}
		ids[name] = l.File
	}
	return out
}

// seenLines are the lines prefix[from, to) of file, those before replayTo
// replayed.
func seenLines(file, prefix string, from, replayTo, to int) []seen {
	var out []seen
	for i := from; i < to; i++ {
		out = append(out, seen{file, fmt.Sprintf("%s%d", prefix, i), i < replayTo})
	}
	return out
}

// deliverThrough runs the agent once on path, acks its lines up to and
// including line n (0-based) of want, and stops it: the positions then
// say those lines are delivered.
func deliverThrough(t *testing.T, cfg Config, want, n int) []pipeline.Line {
	t.Helper()
	acks := make(chan pipeline.Ack)
	r := startRunAcks(t, cfg, acks)
	got := r.recv(want)
	acks <- pipeline.Ack{Origin: got[n].Origin}
	r.stop()
	return got
}

func gzipData(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstded(t *testing.T, data []byte) []byte {
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(data, nil)
}

// bzipped2 is the testdata file made with `bzip2` from the lines a0..a6:
// the standard library reads bzip2 but cannot write it.
func bzipped2(t *testing.T, data []byte) []byte {
	if string(data) != numbered("a", 0, 7) {
		t.Fatalf("bug: testdata/rotated.bz2 holds a0..a6, not %q", data)
	}
	b, err := os.ReadFile("testdata/rotated.bz2")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRotatedWhileDown: the agent delivered a0..a2 of app.log and
// stopped; a3..a6 were written, then the file was rotated, maybe twice,
// maybe compressed, and a new app.log begun. At restart the rest of the
// old file is found by identity under its new name, replayed up to the
// committed offset (so that the collision separator is rebuilt) and read
// on to its end, then released; the new app.log is read from its start,
// also for start_at = "end", because it took the old file's place. A
// look-alike that is not the file (another app.log.1) is left alone.
func TestRotatedWhileDown(t *testing.T) {
	fastRotation(t)
	rename := func(from, to string) func(t *testing.T, dir string, data []byte) {
		return func(t *testing.T, dir string, data []byte) {
			if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
				t.Fatal(err)
			}
		}
	}
	compress := func(to string, enc func(*testing.T, []byte) []byte) func(t *testing.T, dir string, data []byte) {
		return func(t *testing.T, dir string, data []byte) {
			write(t, filepath.Join(dir, to), string(enc(t, data)))
			if err := os.Remove(filepath.Join(dir, "app.log")); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		rotate func(t *testing.T, dir string, data []byte)
		rest   string // where the rest is found
	}{
		{"renamed", rename("app.log", "app.log.1"), "app.log.1"},
		{"dateext", rename("app.log", "app.log-20250310"), "app.log-20250310"},
		{"extension kept", rename("app.log", "app.1.log"), "app.1.log"},
		{"gzip", compress("app.log.1.gz", gzipData), "app.log.1.gz"},
		{"zstd dateext", compress("app.log-20250310.zst", zstded), "app.log-20250310.zst"},
		{"bzip2 twice", func(t *testing.T, dir string, data []byte) {
			// Rotated twice: ours is .2 by now, compressed; .1 is
			// another file, newer, that began with the same line.
			// (Files alike in all the bytes their fingerprint covers
			// are told apart by recency alone.)
			compress("app.log.2.bz2", bzipped2)(t, dir, data)
			write(t, filepath.Join(dir, "app.log.1"), "a0\nother\n")
		}, "app.log.2.bz2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			write(t, path, numbered("a", 0, 3))
			cfg := Config{Sources: []Source{{Name: "app", Paths: []string{path}}}, StateDir: filepath.Join(dir, "state")}
			cfg.Sources[0].StartAt = StartAtBeginning
			deliverThrough(t, cfg, 3, 2)

			appendTo(t, path, numbered("a", 3, 7))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tc.rotate(t, dir, data)
			write(t, path, numbered("b", 0, 2))

			cfg.Sources[0].StartAt = StartAtEnd // the new file is new all the same
			r := startRunAcks(t, cfg, make(chan pipeline.Ack))
			got := byFile(t, r.recv(7+1+2))
			want := map[string][]seen{
				tc.rest:   append(seenLines(tc.rest, "a", 0, 3, 7), seen{tc.rest, "EOF", false}),
				"app.log": seenLines("app.log", "b", 0, 0, 2),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("after restart (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRotatedWhileDownDelivered: a file rotated away, read to its end and
// delivered is not looked for, nor read again, at the next restart.
func TestRotatedWhileDownDelivered(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, numbered("a", 0, 2))
	cfg := Config{Sources: []Source{source(path)}, StateDir: filepath.Join(dir, "state")}
	acks := make(chan pipeline.Ack)
	r := startRunAcks(t, cfg, acks)
	got := r.recv(2)
	acks <- pipeline.Ack{Origin: got[1].Origin}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if eof := r.recv(1)[0]; !eof.EOF {
		t.Fatalf("%+v, want the EOF of the renamed file", eof)
	}
	r.stop()
	if doc := readPositions(t, cfg.StateDir); doc.Files[0].End != 6 || doc.Files[0].Offset != 6 {
		t.Fatalf("positions %+v, want offset and end 6", doc)
	}
	write(t, path, "b0\n")
	r = startRunAcks(t, cfg, make(chan pipeline.Ack))
	if diff := cmp.Diff(want("b", 0, 1), texts(r.recv(1))); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
	r.poll()
	if extra := r.stop(); len(extra) > 0 {
		t.Errorf("read again: %+v", extra)
	}
}

// copyTruncateBehind has the agent read the first lines of a file of n
// lines, longer than one read buffer, and stop there (lines not taken:
// the sink is behind); then logrotate's copytruncate happens, the copy
// made by copyTo (nil: none), and the application writes b0, b1. It
// returns the run, to read on.
func copyTruncateBehind(t *testing.T, n int, copyTo func(t *testing.T, path string, data []byte)) (r *run, path string, size int64) {
	t.Helper()
	fastRotation(t)
	dir := t.TempDir()
	path = filepath.Join(dir, "app.log")
	pad := strings.Repeat("x", 90)
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "a%d %s\n", i, pad)
	}
	if b.Len() < 2*scanBufSize {
		t.Fatalf("bug: %d bytes do not outlast the read buffer", b.Len())
	}
	write(t, path, b.String())
	r = startRun(t, Config{Sources: []Source{source(filepath.Join(dir, "*.log"))}})
	r.recv(3) // the follower now waits on the full channel, mid-buffer
	if copyTo != nil {
		copyTo(t, path, []byte(b.String()))
		r.poll() // a copy the glob matches is not a new file
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, numbered("b", 0, 2))
	return r, path, int64(b.Len())
}

// TestCopyTruncateBehind: copytruncate while the agent is behind. The
// unread rest of the file is read from the copy (plain, or compressed at
// once), as the old identity, before the truncated file from 0: nothing
// lost, nothing twice; the copy is not read again as a new file although
// the glob matches it.
func TestCopyTruncateBehind(t *testing.T) {
	const n = 2000
	tests := []struct {
		name, copy string
		enc        func(*testing.T, []byte) []byte
	}{
		{"plain copy", "app.log.1", func(_ *testing.T, b []byte) []byte { return b }},
		{"gzipped copy", "app.log.1.gz", gzipData},
		{"copy the glob matches", "app-20250310.log", func(_ *testing.T, b []byte) []byte { return b }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _ := copyTruncateBehind(t, n, func(t *testing.T, path string, data []byte) {
				write(t, filepath.Join(filepath.Dir(path), tc.copy), string(tc.enc(t, data)))
			})
			got := r.recv(n - 3 + 1 + 2)
			var texts []string
			for _, l := range got[:n-3] {
				texts = append(texts, strings.Fields(l.Text)[0])
				if l.File != got[0].File {
					t.Fatalf("%q: identity %+v, want the old file's %+v", l.Text, l.File, got[0].File)
				}
			}
			if diff := cmp.Diff(want("a", 3, n), texts); diff != "" {
				t.Errorf("the rest of the old file (-want +got):\n%s", diff)
			}
			if eof := got[n-3]; !eof.EOF || eof.File != got[0].File {
				t.Errorf("%+v, want the old file's EOF", eof)
			}
			rest := got[n-2:]
			if diff := cmp.Diff([]string{"b0", "b1"}, []string{rest[0].Text, rest[1].Text}); diff != "" || rest[0].File == got[0].File {
				t.Errorf("the truncated file, as a new identity (-want +got):\n%s", diff)
			}
			r.poll()
			if extra := r.stop(); len(extra) > 0 {
				t.Errorf("read again: %d lines, first %+v", len(extra), extra[0])
			}
			for _, fs := range r.tl.Stats().Files {
				if fs.LostToTruncation != 0 {
					t.Errorf("%s: %d bytes lost", fs.Path, fs.LostToTruncation)
				}
			}
		})
	}
}

// TestCopyTruncateBehindNoCopy: without a copy, what was not read is lost,
// and that is counted and logged, never silent.
func TestCopyTruncateBehindNoCopy(t *testing.T) {
	const n = 2000
	r, path, size := copyTruncateBehind(t, n, nil)
	var read int64 // the end of the last line of the old content read
	for {
		l := r.recv(1)[0]
		if l.Text == "b1" {
			break
		}
		if strings.HasPrefix(l.Text, "a") {
			read = l.Offset
		}
	}
	st := r.tl.Stats()
	i := slices.IndexFunc(st.Files, func(fs FileStats) bool { return fs.Path == path })
	if read >= size/2 {
		t.Fatalf("read to %d of %d: the test did not truncate behind the reader", read, size)
	}
	if lost := st.Files[i].LostToTruncation; lost != size-read {
		t.Errorf("lost %d bytes, want the unread %d", lost, size-read)
	}
}

// TestRotatedWhileDownTwice: the rest of a file rotated while the agent was
// down, stopped again before it was read to its end (its position now under
// the rotated name, which no glob matches), is found again at the next
// start and read on from where delivery stopped.
func TestRotatedWhileDownTwice(t *testing.T) {
	fastRotation(t)
	for _, tc := range []struct {
		name, rest string
		rotate     func(t *testing.T, dir string)
	}{
		{"renamed", "app.log.1", func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "app.log"), filepath.Join(dir, "app.log.1")); err != nil {
				t.Fatal(err)
			}
		}},
		{"gzip", "app.log.1.gz", func(t *testing.T, dir string) {
			data, err := os.ReadFile(filepath.Join(dir, "app.log"))
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, "app.log.1.gz"), string(gzipData(t, data)))
			if err := os.Remove(filepath.Join(dir, "app.log")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			write(t, path, numbered("a", 0, 3))
			cfg := Config{Sources: []Source{source(path)}, StateDir: filepath.Join(dir, "state")}
			deliverThrough(t, cfg, 3, 1) // a0, a1 delivered
			appendTo(t, path, numbered("a", 3, 7))
			tc.rotate(t, dir)
			write(t, path, numbered("b", 0, 2))

			// The second run reads the rest and stops after a4 is delivered.
			acks := make(chan pipeline.Ack)
			second := startRunAcks(t, cfg, acks)
			for {
				l := second.recv(1)[0]
				if filepath.Base(l.Path) == tc.rest && l.Text == "a4" {
					acks <- pipeline.Ack{Origin: l.Origin}
					break
				}
			}
			second.stop()

			// The new app.log was not delivered either: read again too.
			third := startRunAcks(t, cfg, make(chan pipeline.Ack))
			got := byFile(t, third.recv(8+2))
			want := map[string][]seen{
				tc.rest:   append(seenLines(tc.rest, "a", 0, 5, 7), seen{tc.rest, "EOF", false}),
				"app.log": seenLines("app.log", "b", 0, 0, 2),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("third run (-want +got):\n%s", diff)
			}
		})
	}
}
