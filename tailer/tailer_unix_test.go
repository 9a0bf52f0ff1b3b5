//go:build unix

package tailer

import (
	"path/filepath"
	"syscall"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

// TestRunIgnoresFIFO checks that a named pipe matching a glob is left alone:
// opening it would block until a writer came, and shutdown with it.
func TestRunIgnoresFIFO(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.log")
	write(t, file, "")
	if err := syscall.Mkfifo(filepath.Join(dir, "p.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startRun(t, Config{Sources: []Source{source(filepath.Join(dir, "*.log"))}})
	r.poll()
	r.poll() // ignored files are remembered, not looked at again

	want := Stats{Files: []FileStats{{Source: "app", Path: file}}, Sources: []SourceStats{{Source: "app"}}}
	if diff := gocmp.Diff(want, r.tl.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}
