package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// stateRules is a rules file whose state folder is "state" next to it.
const stateRules = `
agent {
  state_dir = "state"
  listen    = ""
}
source "app" {
  paths    = ["app.log"]
  start_at = "beginning"
  rule "r" {
    logfmt = true
    fields = { n = "int" }
  }
}
`

// TestRunStateFolderErrors: a positions file that cannot be parsed, and a
// state folder another agent holds, stop run with exit 1 and a message
// naming the file or the other agent; nothing is reset.
func TestRunStateFolderErrors(t *testing.T) {
	t.Parallel()
	t.Run("corrupt positions", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "rules.hcl"), stateRules)
		writeFile(t, filepath.Join(dir, "app.log"), "n=1\n")
		positions := filepath.Join(dir, "state", "positions.json")
		writeFile(t, positions, `{"version": 1, "files": [`)
		a := startAgent(t, dir, "run", "-config", "rules.hcl")
		err := a.exit()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitFailure {
			t.Fatalf("run: %v, want exit %d\n%s", err, exitFailure, a.logged())
		}
		if log := a.logged(); !strings.Contains(log, positions) || !strings.Contains(log, "corrupt") {
			t.Errorf("stderr does not name the corrupt file:\n%s", log)
		}
	})
	t.Run("second agent", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "rules.hcl"), stateRules)
		writeFile(t, filepath.Join(dir, "app.log"), "n=1\n")
		first := startAgent(t, dir, "run", "-config", "rules.hcl")
		first.points(1)
		second := startAgent(t, dir, "run", "-config", "rules.hcl")
		err := second.exit()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitFailure {
			t.Fatalf("second run: %v, want exit %d\n%s", err, exitFailure, second.logged())
		}
		if log := second.logged(); !strings.Contains(log, "in use by another logmetrics") {
			t.Errorf("stderr:\n%s", log)
		}
		if _, err := first.stop(syscall.SIGTERM); err != nil {
			t.Errorf("first run: %v\n%s", err, first.logged())
		}
	})
}
