package tailer

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// TestStatsProgress checks the per-file figures of Stats: the size, the
// offset acks committed, the log lag from the times extraction notes on
// the lines' Progress and those acks carry; and that a file let go after a
// rotation leaves Files while its source keeps its counts.
func TestStatsProgress(t *testing.T) {
	fastRotation(t)
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, numbered("a", 0, 3)) // 3 lines of 3 bytes
	acks := make(chan pipeline.Ack)
	r := startRunAcks(t, Config{Sources: []Source{source(path)}}, acks)
	lines := r.recv(3)
	for i, l := range lines { // what extraction does: log times 10, 20, 30 s
		if l.Progress == nil {
			t.Fatalf("line %d has no Progress", i)
		}
		l.Progress.NoteRead(int64(i+1) * 10e9)
	}
	file := func() FileStats {
		for _, f := range r.tl.Stats().Files {
			if f.Path == path {
				return f
			}
		}
		return FileStats{}
	}
	want := FileStats{Source: "app", Path: path, Counts: Counts{Lines: 3}, Size: 9, LogLag: 20 * time.Second}
	waitFor(t, "the size at the first stat", func() bool { return file().Size == 9 })
	if diff := cmp.Diff(want, file()); diff != "" {
		t.Errorf("nothing delivered: from the first line's time (-want +got):\n%s", diff)
	}
	ack := func(l pipeline.Line, logTime int64) {
		acks <- pipeline.Ack{Origin: l.Origin, LogTime: logTime}
		waitFor(t, "the ack noted", func() bool { return file().Committed == l.Offset })
	}
	ack(lines[1], 20e9)
	want.Committed, want.LogLag = 6, 10*time.Second
	if diff := cmp.Diff(want, file()); diff != "" {
		t.Errorf("two lines delivered (-want +got):\n%s", diff)
	}
	ack(lines[2], 30e9)
	want.Committed, want.LogLag = 9, 0
	if diff := cmp.Diff(want, file()); diff != "" {
		t.Errorf("caught up (-want +got):\n%s", diff)
	}

	// Rotated away: read to its end, let go; the new file is the only one.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	r.recvUntilEOF()
	write(t, path, numbered("b", 0, 1))
	r.poll()
	r.recv(1)
	st := r.tl.Stats()
	wantFiles := []FileStats{{Source: "app", Path: path, Counts: Counts{Lines: 1}}}
	if diff := cmp.Diff(wantFiles, st.Files, cmpIgnoreSize); diff != "" {
		t.Errorf("files after the rotation (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]SourceStats{{Source: "app", Counts: Counts{Lines: 4}}}, st.Sources); diff != "" {
		t.Errorf("sources after the rotation (-want +got):\n%s", diff)
	}
}

// cmpIgnoreSize leaves out the size, which depends on when the file was
// last statted.
var cmpIgnoreSize = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Size" }, cmp.Ignore())
