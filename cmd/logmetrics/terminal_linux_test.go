package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openTerminal opens a pseudo-terminal and returns its terminal side, as a
// user's shell would give it as stdin. Without one the test skips, or
// fails under CI=true.
func openTerminal(t *testing.T) *os.File {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		fail("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		fail("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		fail("pseudo-terminal number: %v", err)
	}
	tty, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		fail("open the terminal side: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty
}

// TestTestTerminalStdin: `logmetrics test -config FILE` typed at a terminal
// runs the examples and returns, without waiting for lines nobody means to
// type; a file without examples says what to do instead of waiting.
func TestTestTerminalStdin(t *testing.T) {
	noExamples := filepath.Join(t.TempDir(), "rules.hcl")
	if err := os.WriteFile(noExamples, []byte(`source "s" {
  paths = ["x.log"]
  rule "r" {
    regex = "^(?P<n>\\d+)$"
    time {
      from   = "n"
      layout = "unix"
    }
    fields = { n = "int" }
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		config, stderr string
	}{
		{"../../rules.hcl.example", "../../rules.hcl.example: 12 example(s) passed, 0 failed\n"},
		{noExamples, "logmetrics test: " + noExamples + " has no examples and standard input is a terminal: name the files to read, or - to type lines\n"},
	} {
		var stdout, stderr bytes.Buffer
		tty := openTerminal(t)
		done := make(chan int, 1)
		go func() {
			done <- dispatch(&env{stdin: tty, stdout: &stdout, stderr: &stderr}, []string{"test", "-config", tc.config})
		}()
		select {
		case code := <-done:
			if code != exitOK || stdout.Len() != 0 || stderr.String() != tc.stderr {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0, nothing, %q", tc.config, code, stdout.String(), stderr.String(), tc.stderr)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: test still runs after 10s: it waits for the terminal", tc.config)
		}
	}
}
