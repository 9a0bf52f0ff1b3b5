package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// agentLimit is how long a test's agent process may live before it is
// killed and the test fails.
const agentLimit = 20 * time.Second

// agent is a `logmetrics run` process of a test: the real binary, which is
// the test binary that TestMain installs in $PATH as logmetrics.
type agent struct {
	t      *testing.T
	cmd    *exec.Cmd
	ctx    context.Context
	stdout <-chan string // its lines; closed at EOF, once the process has exited

	mu         sync.Mutex
	stderr     []string      // its lines so far
	changed    chan struct{} // gets a value when stderr grows
	stderrDone chan struct{} // closed at stderr's EOF

	exitOnce sync.Once
	exitErr  error
}

// startAgent starts `logmetrics args...` in dir, killed after agentLimit.
// The process is killed, if it still runs, when the test ends.
func startAgent(t *testing.T, dir string, args ...string) *agent {
	t.Helper()
	return startAgentFor(t, agentLimit, dir, args...)
}

// startAgentFor is startAgent with its own time limit, for runs longer
// than agentLimit (the soak).
func startAgentFor(t *testing.T, limit time.Duration, dir string, args ...string) *agent {
	t.Helper()
	bin, err := exec.LookPath("logmetrics")
	if err != nil {
		t.Fatalf("TestMain should have put logmetrics in $PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GORACE="+gorace())
	cmd.WaitDelay = time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &agent{t: t, cmd: cmd, ctx: ctx, changed: make(chan struct{}, 1), stderrDone: make(chan struct{})}
	lines := make(chan string)
	go func() { // ends at EOF, when the process has exited; exit waits for it
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	go a.readStderr(stderr) // ends at EOF too; exit waits for it
	a.stdout = lines
	t.Cleanup(func() {
		cancel() // kills the process if it still runs
		a.exit()
	})
	return a
}

// exit waits until the process has exited and its output is read to the
// end, discarding what is left of stdout, and returns how it exited.
func (a *agent) exit() error {
	a.exitOnce.Do(func() {
		// Wait closes the pipes: read them to EOF first.
		for range a.stdout {
		}
		<-a.stderrDone
		a.exitErr = a.cmd.Wait()
	})
	return a.exitErr
}

func (a *agent) readStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		a.mu.Lock()
		a.stderr = append(a.stderr, sc.Text())
		a.mu.Unlock()
		select {
		case a.changed <- struct{}{}:
		default:
		}
	}
	close(a.stderrDone)
}

// logged returns what the process wrote to stderr so far.
func (a *agent) logged() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return strings.Join(a.stderr, "\n")
}

// waitStderr waits for a line of stderr that contains s, failing the test
// if the process ends or its time runs out first.
func (a *agent) waitStderr(s string) {
	a.t.Helper()
	for {
		a.mu.Lock()
		found := slices.ContainsFunc(a.stderr, func(l string) bool { return strings.Contains(l, s) })
		a.mu.Unlock()
		if found {
			return
		}
		select {
		case <-a.changed:
		case <-a.stderrDone:
			if !strings.Contains(a.logged(), s) { // read after its last line
				a.t.Fatalf("run ended (%v) before writing %q to stderr:\n%s", a.exit(), s, a.logged())
			}
		case <-a.ctx.Done():
			a.t.Fatalf("no %q on stderr within %v:\n%s", s, agentLimit, a.logged())
		}
	}
}

// points waits for n more lines on stdout, failing the test if the process
// ends or its time runs out first.
func (a *agent) points(n int) []string {
	a.t.Helper()
	var got []string
	for len(got) < n {
		select {
		case l, ok := <-a.stdout:
			if !ok {
				a.t.Fatalf("run exited (%v) after %d of %d points:\n%s\nstderr:\n%s", a.exit(), len(got), n, strings.Join(got, "\n"), a.logged())
			}
			got = append(got, l)
		case <-a.ctx.Done():
			a.t.Fatalf("%d of %d points within %v:\n%s\nstderr:\n%s", len(got), n, agentLimit, strings.Join(got, "\n"), a.logged())
		}
	}
	return got
}

// stop sends sig and waits for the process to exit. It returns what came
// on stdout after the signal and how the process exited.
func (a *agent) stop(sig os.Signal) (rest []string, err error) {
	a.t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		a.t.Fatal(err)
	}
	for l := range a.stdout {
		rest = append(rest, l)
	}
	err = a.exit()
	if a.ctx.Err() != nil {
		a.t.Fatalf("run did not stop within %v of starting; stderr:\n%s", agentLimit, a.logged())
	}
	return rest, err
}
