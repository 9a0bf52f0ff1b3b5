package tailer

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestRunningAgent(t *testing.T) {
	dir := t.TempDir()
	if _, err := RunningAgent(dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("empty folder: %v, want ErrNotRunning", err)
	}
	p, err := openPositions(dir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := RunningAgent(dir)
	if err != nil || pid != os.Getpid() {
		t.Errorf("while locked: pid %d, %v; want %d", pid, err, os.Getpid())
	}
	p.close()
	// The pid stays in the file, but nobody holds the lock.
	if _, err := RunningAgent(dir); !errors.Is(err, ErrNotRunning) {
		t.Errorf("after close: %v, want ErrNotRunning", err)
	}
}
