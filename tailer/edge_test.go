//go:build unix

package tailer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// TestInodeReuse: the positions know a file on this device and inode, but
// the file there now starts otherwise: the old one was deleted and its
// inode given to a new file. It is a new file, read from its start (a
// start_at = "end" source too: it took a followed file's place), not
// resumed at the old file's offset.
func TestInodeReuse(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	path := filepath.Join(dir, "app.log")
	write(t, path, "new0\nnew1\n")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := inodeOf(fi)
	old := []byte("old0\nold1\n")
	doc := positionsDoc{Version: positionsVersion, Files: []position{{
		Path: path, Dev: in.dev, Inode: in.ino,
		Fingerprint: hexFingerprint(fnv1a(old)), FingerprintBytes: int64(len(old)),
		Offset: 5, Updated: time.Now(),
	}}}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(state, positionsName), string(data))

	cfg := Config{Sources: []Source{{Name: "app", Paths: []string{path}}}, StateDir: state}
	r := startRunAcks(t, cfg, make(chan pipeline.Ack))
	want := [][2]any{{int64(5), false}, {int64(10), false}}
	if diff := cmp.Diff(want, offsets(r.recv(2))); diff != "" {
		t.Errorf("file on a reused inode (-want +got):\n%s", diff)
	}
}

// TestIdenticalStarts: two files with the same first lines are two files
// (two inodes, two identities), each resumed at its own offset, also when
// the other is gone; and a
// third like them, created later, is read as the new file it is, not
// taken for a copy of the others.
func TestIdenticalStarts(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	write(t, a, "same\nsame\n")
	write(t, b, "same\nsame\n")
	cfg := Config{Sources: []Source{source(filepath.Join(dir, "*.log"))}, StateDir: state}
	acks := make(chan pipeline.Ack)
	first := startRunAcks(t, cfg, acks)
	got := first.recv(4)
	ids := map[string]pipeline.FileID{}
	for _, l := range got {
		ids[l.Path] = l.File
		if l.Path == a && l.Offset == 10 || l.Path == b && l.Offset == 5 {
			acks <- pipeline.Ack{Origin: l.Origin} // a delivered to 10, b to 5
		}
	}
	if ids[a] == ids[b] {
		t.Fatalf("one identity for two files: %+v", ids[a])
	}
	first.stop()

	// With a.log gone, b.log is still b.log, not the first saved file
	// that starts like it.
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	appendTo(t, b, "x\n")
	second := startRunAcks(t, cfg, make(chan pipeline.Ack))
	wantLines := map[string][]seen{
		"b.log": {{"b.log", "same", true}, {"b.log", "same", false}, {"b.log", "x", false}},
	}
	if diff := cmp.Diff(wantLines, byFile(t, second.recv(3))); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
	// Likely on a.log's inode, freed above: the same inode and first
	// bytes as a saved file, but created while running, so new.
	write(t, filepath.Join(dir, "c.log"), "same\nsame\n")
	second.poll()
	wantLines = map[string][]seen{"c.log": {{"c.log", "same", false}, {"c.log", "same", false}}}
	if diff := cmp.Diff(wantLines, byFile(t, second.recv(2))); diff != "" {
		t.Errorf("a third file like them (-want +got):\n%s", diff)
	}
}

// TestEmptyFile: a file empty when first seen has a fingerprint of no
// bytes; it keeps its identity as it grows, and the saved fingerprint
// grows with it, so that after a restart it is not told by its inode
// alone. The restart resumes it.
func TestEmptyFile(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	path := filepath.Join(dir, "app.log")
	write(t, path, "")
	cfg := Config{Sources: []Source{source(path)}, StateDir: state}
	acks := make(chan pipeline.Ack)
	first := startRunAcks(t, cfg, acks)
	first.waitRead(path)
	appendTo(t, path, "abc\n")
	l := first.recv(1)[0]
	if l.File.FingerprintBytes != 0 {
		t.Errorf("identity %+v changed as the file grew", l.File)
	}
	acks <- pipeline.Ack{Origin: l.Origin}
	first.stop()
	saved := readPositions(t, state).Files
	if len(saved) != 1 || saved[0].FingerprintBytes != 4 || saved[0].Fingerprint != hexFingerprint(fnv1a([]byte("abc\n"))) {
		t.Errorf("positions %+v, want the fingerprint of \"abc\\n\"", saved)
	}

	appendTo(t, path, "d\n")
	second := startRunAcks(t, cfg, make(chan pipeline.Ack))
	if diff := cmp.Diff([][2]any{{int64(4), true}, {int64(6), false}}, offsets(second.recv(2))); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
}

// TestNoNewlineYet: a line without its "\n" is not passed on, however
// long it waits; a restart in between resumes before it, and the line is
// read whole once complete.
func TestNoNewlineYet(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	path := filepath.Join(dir, "app.log")
	write(t, path, "abc")
	cfg := Config{Sources: []Source{source(path)}, StateDir: state}
	first := startRunAcks(t, cfg, make(chan pipeline.Ack))
	first.waitRead(path)
	first.poll()
	if extra := first.stop(); len(extra) > 0 {
		t.Fatalf("an unfinished line was passed on: %+v", extra)
	}
	if saved := readPositions(t, state).Files; len(saved) != 1 || saved[0].Offset != 0 {
		t.Fatalf("positions %+v, want offset 0", saved)
	}

	appendTo(t, path, "def\n")
	second := startRunAcks(t, cfg, make(chan pipeline.Ack))
	got := second.recv(1)
	if diff := cmp.Diff([]string{"abcdef"}, texts(got)); diff != "" || got[0].Offset != 7 || got[0].Replay {
		t.Errorf("completed line (-want +got):\n%s\n%+v", diff, got[0])
	}
}
