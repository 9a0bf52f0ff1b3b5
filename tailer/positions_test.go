//go:build unix

package tailer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// readPositions reads the positions file of dir.
func readPositions(t *testing.T, dir string) positionsDoc {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, positionsName))
	if err != nil {
		t.Fatal(err)
	}
	var doc positionsDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("positions file: %v\n%s", err, data)
	}
	return doc
}

// offsets are a run's lines as (offset, replay) for comparison.
func offsets(lines []pipeline.Line) [][2]any {
	var out [][2]any
	for _, l := range lines {
		out = append(out, [2]any{l.Offset, l.Replay})
	}
	return out
}

// TestPositionsResume: the committed offset is saved; a restart reads again
// from the replay offset, marking the lines up to the committed offset as
// replayed, and the rest as new.
func TestPositionsResume(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	path := filepath.Join(dir, "app.log")
	write(t, path, "a\nbb\nccc\n")
	cfg := Config{Sources: []Source{source(path)}, StateDir: state}

	got := deliverThrough(t, cfg, 3, 1) // "bb" delivered, "ccc" not
	if got[0].File != got[2].File || got[0].File.Ino == 0 || got[0].File.FingerprintBytes != 9 {
		t.Fatalf("identities %+v, %+v", got[0].File, got[2].File)
	}
	doc := readPositions(t, state)
	if len(doc.Files) != 1 || doc.Files[0].Offset != 5 || doc.Files[0].ReplayFrom != 0 || doc.Files[0].Path != path {
		t.Fatalf("positions %+v", doc)
	}

	appendTo(t, path, "dddd\n")
	second := startRunAcks(t, cfg, make(chan pipeline.Ack))
	want := [][2]any{{int64(2), true}, {int64(5), true}, {int64(9), false}, {int64(14), false}}
	if diff := cmp.Diff(want, offsets(second.recv(4))); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
}

// TestPositionsStartAtEnd: a file first followed from its end resumes there
// (not at its new end), replaying nothing before the point it started.
func TestPositionsStartAtEnd(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	path := filepath.Join(dir, "app.log")
	write(t, path, "old\n")
	cfg := Config{Sources: []Source{{Name: "app", Paths: []string{path}}}, StateDir: state}
	first := startRunAcks(t, cfg, make(chan pipeline.Ack))
	first.poll()
	first.stop() // saved at 4 with nothing read
	appendTo(t, path, "new\n")
	second := startRunAcks(t, cfg, make(chan pipeline.Ack))
	if diff := cmp.Diff([][2]any{{int64(8), false}}, offsets(second.recv(1))); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
	if doc := readPositions(t, state); doc.Files[0].ReplayFrom != 4 {
		t.Errorf("replay_from %d, want 4", doc.Files[0].ReplayFrom)
	}
}

// TestPositionsOtherFile: a file at the saved path that is not the saved
// file (another inode, or the same inode with other first bytes) is new.
func TestPositionsOtherFile(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	path := filepath.Join(dir, "app.log")
	write(t, path, "a\nbb\n")
	cfg := Config{Sources: []Source{source(path)}, StateDir: state}
	deliverThrough(t, cfg, 2, 1)

	// Same inode, other first bytes: rewritten in place, longer.
	write(t, path, "x\nyy\nzzz\n")
	second := startRunAcks(t, cfg, make(chan pipeline.Ack))
	want := [][2]any{{int64(2), false}, {int64(5), false}, {int64(9), false}}
	if diff := cmp.Diff(want, offsets(second.recv(3))); diff != "" {
		t.Errorf("rewritten file (-want +got):\n%s", diff)
	}
}

// TestPositionsShorterFile: the saved file, now shorter than its committed
// offset (truncated and refilled while the agent was down), is read from 0.
func TestPositionsShorterFile(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	path := filepath.Join(dir, "app.log")
	write(t, path, "a\nbb\nccc\n")
	cfg := Config{Sources: []Source{source(path)}, StateDir: state}
	deliverThrough(t, cfg, 3, 2)

	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "a\n") // the same first bytes as far as it goes
	second := startRunAcks(t, cfg, make(chan pipeline.Ack))
	if diff := cmp.Diff([][2]any{{int64(2), false}}, offsets(second.recv(1))); diff != "" {
		t.Errorf("shorter file (-want +got):\n%s", diff)
	}
}

func TestPositionsErrors(t *testing.T) {
	corrupt := func(content string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, positionsName), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		want    string
	}{
		{"not JSON", corrupt("{"), "is corrupt"},
		{"truncated", corrupt(`{"version": 1, "files": [{"path": "a"`), "is corrupt"},
		{"unknown field", corrupt(`{"version": 1, "filez": []}`), "is corrupt"},
		{"other version", corrupt(`{"version": 2, "files": []}`), "has version 2"},
		{"offset before replay", corrupt(`{"version": 1, "files": [{"path": "a", "offset": 1, "replay_from": 5}]}`), "is corrupt"},
		{"unreadable", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, positionsName), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "positions"},
		{"locked", func(t *testing.T, dir string) {
			other, err := New(Config{Sources: []Source{source("none.log")}, StateDir: dir}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(other.Close)
		}, "in use by another logmetrics (pid " + itoa(os.Getpid()) + ")"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.prepare(t, dir)
			tl, err := New(Config{Sources: []Source{source("none.log")}, StateDir: dir}, nil)
			if err == nil {
				tl.Close()
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, ErrState) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v; want ErrState and %q", err, tc.want)
			}
			if tc.name != "locked" && tc.name != "unreadable" && !strings.Contains(err.Error(), filepath.Join(dir, positionsName)) {
				t.Errorf("New: %v does not name the file", err)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestPositionsSavedAtDiscovery: a file found while running is in the
// positions file as soon as it is placed, not a save tick later, so a kill
// right after cannot make the restart take it for a file found at startup
// (start_at = "end" would then skip its lines).
func TestPositionsSavedAtDiscovery(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cfg := Config{Sources: []Source{{Name: "app", Paths: []string{filepath.Join(dir, "*.log")}}}, StateDir: state}
	r := startRunAcks(t, cfg, make(chan pipeline.Ack))
	r.poll() // startup discovery done
	path := filepath.Join(dir, "b.log")
	write(t, path, "n=1\n")
	r.poll() // takes the tick: the next discovery runs...
	r.poll() // ...and is done once the one after is taken
	doc := readPositions(t, state)
	if len(doc.Files) != 1 || doc.Files[0].Path != path || doc.Files[0].ReplayFrom != 0 {
		t.Errorf("positions right after b.log was found: %+v", doc)
	}
	r.recv(1)
}

// TestPositionsCommitHeld: an ack whose record is held back (lines an
// aggregation window still needs) moves the position to its hold, never
// past it, and never back.
func TestPositionsCommitHeld(t *testing.T) {
	p, err := openPositions(t.TempDir(), fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	id := pipeline.FileID{Ino: 7, FingerprintBytes: 3}
	p.start("app.log", id, 0)
	for _, step := range []struct {
		ack  pipeline.Ack
		want int64
	}{
		{pipeline.Ack{Origin: pipeline.Origin{Offset: 10, File: id}, Hold: pipeline.Hold{Hold: 0, Held: true}}, 0},
		{pipeline.Ack{Origin: pipeline.Origin{Offset: 30, File: id}, Hold: pipeline.Hold{Hold: 20, Held: true}}, 20},
		{pipeline.Ack{Origin: pipeline.Origin{Offset: 40, File: id}, Hold: pipeline.Hold{Hold: 10, Held: true}}, 20},
		{pipeline.Ack{Origin: pipeline.Origin{Offset: 50, File: id}}, 50},
	} {
		p.commit(step.ack)
		if got := p.live[id].Offset; got != step.want {
			t.Errorf("after %+v: offset %d, want %d", step.ack, got, step.want)
		}
	}
}

// TestPositionsSourceLatest: a commit keeps the greatest latest time its
// file's acks carried (source_latest in the positions file), released
// files' too; at startup Run sends, before any line, one marker per source
// with the greatest over the source's entries, in config order.
func TestPositionsSourceLatest(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	app := filepath.Join(dir, "app.log")
	other := filepath.Join(dir, "other.log")
	write(t, app, "a0\na1\n")
	write(t, other, "o0\n")
	cfg := Config{Sources: []Source{source(app), {Name: "other", Paths: []string{other}, StartAt: StartAtBeginning}}, StateDir: state}
	latest := func(ns int64) pipeline.Hold { return pipeline.Hold{Latest: ns, HasLatest: true} }

	acks := make(chan pipeline.Ack)
	first := startRunAcks(t, cfg, acks)
	byPath := map[string][]pipeline.Line{}
	for _, l := range first.recv(3) {
		if l.HasLatest {
			t.Fatalf("a marker without saved positions: %+v", l)
		}
		byPath[l.Path] = append(byPath[l.Path], l)
	}
	acks <- pipeline.Ack{Origin: byPath[app][0].Origin, Hold: latest(50)}
	acks <- pipeline.Ack{Origin: byPath[app][1].Origin, Hold: latest(40)} // lower: 50 stays
	acks <- pipeline.Ack{Origin: byPath[other][0].Origin, Hold: latest(5)}
	// Rotated: the old file is read to its end and released, and its
	// last ack carries the source's greatest time.
	if err := os.Rename(app, app+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, app+".1", "a2\n")
	old := first.recvUntilEOF()
	write(t, app, "b0\n")
	first.poll()
	fresh := first.recv(1)
	acks <- pipeline.Ack{Origin: old[0].Origin, Hold: latest(70)}
	acks <- pipeline.Ack{Origin: fresh[0].Origin, Hold: latest(60)}
	acks <- pipeline.Ack{Origin: fresh[0].Origin} // no latest: 60 stays
	first.stop()

	saved := map[string]int64{}
	for _, pos := range readPositions(t, state).Files {
		if pos.SourceLatest == nil {
			t.Errorf("%s: no source_latest", pos.Path)
			continue
		}
		name := filepath.Base(pos.Path)
		if pos.End != 0 {
			name += " (released)"
		}
		saved[name] = *pos.SourceLatest
	}
	if diff := cmp.Diff(map[string]int64{"app.log (released)": 70, "app.log": 60, "other.log": 5}, saved); diff != "" {
		t.Errorf("source_latest (-want +got):\n%s", diff)
	}

	second := startRunAcks(t, cfg, make(chan pipeline.Ack))
	got := second.recv(2)
	want := []pipeline.Line{{Source: "app", Latest: 70, HasLatest: true}, {Source: "other", Latest: 5, HasLatest: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("first lines after the restart (-want +got):\n%s", diff)
	}
	second.stop() // the replayed and new lines may follow: not checked here
}
