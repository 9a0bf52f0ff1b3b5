package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const reloadRules = `
agent {
  state_dir = "state"
  listen    = ""
}
source "app" {
  paths    = ["app.log"]
  start_at = "beginning"
  rule "r" {
    logfmt = true
    time {
      from   = "ts"
      layout = "unix_ms"
    }
    fields = { n = "int" }
  }
%s
}
%s
`

const (
	reloadRule2 = `
  rule "r2" {
    logfmt = true
    time {
      from   = "ts"
      layout = "unix_ms"
    }
    fields = { n = "int" }
  }`
	reloadOther = `
source "other" {
  paths    = ["other.log"]
  start_at = "beginning"
  rule "o" {
    logfmt = true
    time {
      from   = "ts"
      layout = "unix_ms"
    }
    fields = { n = "int" }
  }
}`
)

// TestRunReloadsOnSIGHUP runs the agent with a writer appending a line
// every millisecond or so while the rules are reloaded: a broken file is
// refused by `logmetrics reload` without a signal, and by the agent (its
// diagnostics logged) on a signal, changing nothing; a reload that adds
// rule r2 and source "other" applies r2 to every line after some line and
// to none before it, none of them delivered before the reload, and reads
// other.log from its beginning; a reload that removes "other" again stops
// it. Every line of app.log gives exactly one r point throughout: none
// read twice, none skipped.
func TestRunReloadsOnSIGHUP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.hcl")
	writeFile(t, rules, fmt.Sprintf(reloadRules, "", ""))
	writeFile(t, filepath.Join(dir, "other.log"), "ts=1760104536000 n=0\nts=1760104536001 n=1\n")
	app := filepath.Join(dir, "app.log")
	writeFile(t, app, "")
	a := startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr(`msg="following files" source=app`)

	// The writer: line n has time base+n ms.
	const base = 1760104536000
	var written sync.Mutex
	n := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		f, err := os.OpenFile(app, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			written.Lock()
			_, err := fmt.Fprintf(f, "ts=%d n=%d\n", base+n, n)
			n++
			written.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
		}
	})
	var got []string
	got = append(got, a.points(200)...)

	// A broken file: reload refuses to send it; the agent, signalled
	// anyway, logs its diagnostics and keeps its rules.
	writeFile(t, rules, fmt.Sprintf(reloadRules, reloadRule2+"\n  rule {", ""))
	out, err := reloadCmd(t, dir)
	if code := exitCode(err); code != exitUsage || !strings.Contains(out, "not sent") {
		t.Errorf("reload of a broken file: exit %d, output:\n%s", code, out)
	}
	if err := a.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	a.waitStderr(`msg="reload refused: the rules file has errors`)
	if !strings.Contains(a.logged(), "rules.hcl:") {
		t.Errorf("the diagnostics are not logged:\n%s", a.logged())
	}
	got = append(got, a.points(200)...)

	// Add rule r2 and source other, with `logmetrics reload`.
	before := len(got) // delivered before the reload: no r2 among them
	writeFile(t, rules, fmt.Sprintf(reloadRules, reloadRule2, reloadOther))
	if out, err := reloadCmd(t, dir); err != nil || !strings.Contains(out, "sent SIGHUP to pid "+strconv.Itoa(a.cmd.Process.Pid)) {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	a.waitStderr(`msg="reload: the new rules apply from the next line"`)
	got = append(got, a.points(400)...)

	// Remove other again.
	writeFile(t, rules, fmt.Sprintf(reloadRules, reloadRule2, ""))
	if err := a.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	a.waitStderr(`msg="source removed by reload`)
	got = append(got, a.points(200)...)
	close(stop)
	wg.Wait()
	written.Lock()
	total := n
	written.Unlock()
	// Every line written is read before the stop (a stop leaves the
	// rest to the next start).
	for countPrefix(got, "r ") < total {
		got = append(got, a.points(1)...)
	}
	rest, err := a.stop(syscall.SIGTERM)
	if err != nil {
		t.Errorf("run after SIGTERM: %v; stderr:\n%s", err, a.logged())
	}
	got = append(got, rest...)

	if path := os.Getenv("LOGMETRICS_RELOAD_OBSERVED"); path != "" {
		os.WriteFile(path, []byte(a.logged()+"\n"), 0o644)
	}
	point := regexp.MustCompile(`^(\w+) n=(\d+)i (\d+)$`)
	seen := map[string]map[int]int{}
	firstR2 := -1
	for i, l := range got {
		m := point.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not a point: %q", l)
		}
		v, _ := strconv.Atoi(m[2])
		if seen[m[1]] == nil {
			seen[m[1]] = map[int]int{}
		}
		seen[m[1]][v]++
		if m[1] == "r2" {
			if i < before {
				t.Errorf("r2 point delivered before the reload: %q", l)
			}
			if firstR2 < 0 || v < firstR2 {
				firstR2 = v
			}
		}
	}
	for v := range total {
		if c := seen["r"][v]; c != 1 {
			t.Errorf("line n=%d gave %d r points, want 1", v, c)
		}
		want := 0
		if firstR2 >= 0 && v >= firstR2 {
			want = 1
		}
		if c := seen["r2"][v]; c != want {
			t.Errorf("line n=%d gave %d r2 points, want %d (r2 from n=%d)", v, c, want, firstR2)
		}
	}
	if firstR2 < 0 || len(seen["r"]) != total {
		t.Errorf("%d lines written, %d r points, r2 from n=%d", total, len(seen["r"]), firstR2)
	}
	if seen["o"][0] != 1 || seen["o"][1] != 1 || len(seen["o"]) != 2 {
		t.Errorf("other.log points: %v, want n=0 and n=1 once each", seen["o"])
	}
	if strings.Contains(a.logged(), "level=ERROR") && !strings.Contains(a.logged(), "reload refused") {
		t.Errorf("errors logged:\n%s", a.logged())
	}
	t.Logf("%d lines, r2 from n=%d", total, firstR2)
}

func countPrefix(lines []string, p string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, p) {
			n++
		}
	}
	return n
}

// reloadCmd runs `logmetrics reload -config rules.hcl` in dir.
func reloadCmd(t *testing.T, dir string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "logmetrics", "reload", "-config", "rules.hcl")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
