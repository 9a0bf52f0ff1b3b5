package tailer

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// adoptedOf is a run's lines as (offset, replay, adopted) for comparison.
func adoptedOf(lines []pipeline.Line) [][3]any {
	var out [][3]any
	for _, l := range lines {
		out = append(out, [3]any{l.Offset, l.Replay, l.Adopted})
	}
	return out
}

// TestAdopted: the first line read from a file first followed from its end
// (its ReplayFrom > 0) is flagged Adopted: at the first start, where it is
// new, and after every restart, where it is replayed or new; no other line
// is, and no line of a file followed from its start.
func TestAdopted(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	path := filepath.Join(dir, "app.log")
	write(t, path, "old\n")
	cfg := Config{Sources: []Source{{Name: "app", Paths: []string{path}, StartAt: StartAtEnd}}, StateDir: state}

	acks := make(chan pipeline.Ack)
	first := startRunAcks(t, cfg, acks)
	first.waitRead(path)
	appendTo(t, path, "a\nbb\n")
	got := first.recv(2)
	if diff := cmp.Diff([][3]any{{int64(6), false, true}, {int64(9), false, false}}, adoptedOf(got)); diff != "" {
		t.Errorf("first start (-want +got):\n%s", diff)
	}
	acks <- pipeline.Ack{Origin: got[0].Origin} // "a" delivered, "bb" not
	first.stop()

	appendTo(t, path, "ccc\n")
	second := startRunAcks(t, cfg, make(chan pipeline.Ack))
	want := [][3]any{{int64(6), true, true}, {int64(9), false, false}, {int64(13), false, false}}
	if diff := cmp.Diff(want, adoptedOf(second.recv(3))); diff != "" {
		t.Errorf("after a restart (-want +got):\n%s", diff)
	}
	second.stop()

	// Nothing delivered since: the first line read again is new, and
	// flagged all the same.
	fresh := filepath.Join(dir, "fresh.log")
	write(t, fresh, "old\n")
	cfg2 := Config{Sources: []Source{{Name: "app", Paths: []string{fresh}, StartAt: StartAtEnd}}, StateDir: filepath.Join(dir, "state2")}
	third := startRunAcks(t, cfg2, make(chan pipeline.Ack))
	third.poll()
	third.stop()
	appendTo(t, fresh, "d\n")
	fourth := startRunAcks(t, cfg2, make(chan pipeline.Ack))
	if diff := cmp.Diff([][3]any{{int64(6), false, true}}, adoptedOf(fourth.recv(1))); diff != "" {
		t.Errorf("after a restart with nothing read (-want +got):\n%s", diff)
	}
	fourth.stop()

	// A file followed from its start: nothing is adopted.
	whole := filepath.Join(dir, "whole.log")
	write(t, whole, "x\n")
	fifth := startRunAcks(t, Config{Sources: []Source{source(whole)}, StateDir: filepath.Join(dir, "state3")}, make(chan pipeline.Ack))
	if diff := cmp.Diff([][3]any{{int64(2), false, false}}, adoptedOf(fifth.recv(1))); diff != "" {
		t.Errorf("file followed from its start (-want +got):\n%s", diff)
	}
}
