package tailer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrNotRunning is returned by RunningAgent when no agent holds the state
// folder.
var ErrNotRunning = errors.New("no logmetrics agent is running on this state folder")

// RunningAgent returns the process id of the agent that holds the state
// folder dir: the pid written into its lock file. The lock, not the file's
// contents, says whether an agent runs, so a pid left behind by a killed
// agent (and perhaps reused since) is never taken for one.
func RunningAgent(dir string) (int, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, ErrNotRunning
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0, ErrNotRunning
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return 0, fmt.Errorf("lock %s: %w", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s is locked but holds no process id (%q)", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}
