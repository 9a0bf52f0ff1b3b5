package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// backfillIn runs `logmetrics backfill` in process in dir and returns its
// exit code, stdout and stderr.
func backfillIn(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	var out, errOut bytes.Buffer
	code := dispatch(&env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}, append([]string{"backfill"}, args...))
	return code, out.String(), errOut.String()
}

// selectRules has sources a (l/app.log, rule ra) and b (l/app.1.log, rule
// rb), and c (gone/old.log, rule rc), logfmt "t=SECONDS n=N", to stdout.
const selectRules = `
agent {
  state_dir = "state"
  listen    = ""
}
source "a" {
  paths = ["l/app.log"]
  rule "ra" {
    logfmt = true
    time {
      from   = "t"
      layout = "unix"
    }
    fields = { n = "int" }
  }
}
source "b" {
  paths = ["l/app.1.log"]
  rule "rb" {
    logfmt = true
    time {
      from   = "t"
      layout = "unix"
    }
    fields = { n = "int" }
  }
}
source "c" {
  paths = ["gone/old.log"]
  rule "rc" {
    logfmt = true
    time {
      from   = "t"
      layout = "unix"
    }
    fields = { n = "int" }
  }
}
`

func selectDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{
		"rules.hcl":        selectRules,
		"l/app.log":        "t=20 n=1\n",
		"l/app.1.log":      "t=10 n=2\n", // a rotated name of app.log, but b's own file
		"gone/old.log.1":   "t=30 n=3\n", // old.log itself is gone
		"gone/old.log.2":   "t=29 n=4\n",
		"gone/unrelated.1": "t=1 n=5\n",
	} {
		writeFile(t, filepath.Join(dir, name), data)
	}
	return dir
}

// TestBackfillSelect: without paths, a file is read by the source whose
// globs match it (as run follows it), not by a source it is only a rotated
// name for; the rotated names of a file that is gone are read; a link and
// its target are one file.
func TestBackfillSelect(t *testing.T) {
	dir := selectDir(t)
	if err := os.Symlink("old.log.1", filepath.Join(dir, "gone/old.log.3")); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := backfillIn(t, dir, "-config", "rules.hcl")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	want := "ra n=1i 20000000000\nrb n=2i 10000000000\nrc n=4i 29000000000\nrc n=3i 30000000000\n"
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s\nstderr:\n%s", out, want, errOut)
	}
}

// TestBackfillSelectPaths: named paths get the source whose paths match
// them or their rotated names; a glob that matches nothing, or a file no
// source has, is a usage error naming it.
func TestBackfillSelectPaths(t *testing.T) {
	dir := selectDir(t)
	code, out, errOut := backfillIn(t, dir, "-config", "rules.hcl", "gone/old.log.*", "l/app.1.log")
	if code != exitOK || out != "rb n=2i 10000000000\nrc n=4i 29000000000\nrc n=3i 30000000000\n" {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, _, errOut = backfillIn(t, dir, "-config", "rules.hcl", "gone/unrelated.1")
	if code != exitUsage || !strings.Contains(errOut, "gone/unrelated.1: no source's paths match it") {
		t.Errorf("a file no source has: exit %d, stderr:\n%s", code, errOut)
	}
	code, _, errOut = backfillIn(t, dir, "-config", "rules.hcl", "none/*.log")
	if code != exitUsage || !strings.Contains(errOut, "none/*.log: no file matches") {
		t.Errorf("a glob that matches nothing: exit %d, stderr:\n%s", code, errOut)
	}
}

// TestBackfillNothing: sources whose paths match nothing: each is named,
// and with nothing at all to read the exit code is 1, not a quiet 0.
func TestBackfillNothing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.hcl"), selectRules)
	code, _, errOut := backfillIn(t, dir, "-config", "rules.hcl")
	if code != exitFailure || !strings.Contains(errOut, "source a: no file matches") || !strings.Contains(errOut, "nothing to read") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}

// TestBackfillTooLong: a line over the line limit is skipped and counted
// in the summary, not dropped without a word.
func TestBackfillTooLong(t *testing.T) {
	dir := selectDir(t)
	long := "t=21 n=9 pad=" + strings.Repeat("x", 5<<20) + "\n"
	writeFile(t, filepath.Join(dir, "l/app.log"), "t=20 n=1\n"+long+"t=22 n=3\n")
	code, out, errOut := backfillIn(t, dir, "-config", "rules.hcl", "-source", "a", "l/app.log")
	if code != exitOK || out != "ra n=1i 20000000000\nra n=3i 22000000000\n" {
		t.Errorf("exit %d, stdout:\n%s", code, out)
	}
	if !strings.Contains(errOut, "a: 1 lines longer than the line limit") {
		t.Errorf("the skipped line is not reported:\n%s", errOut)
	}
}

// TestBackfillWindowBounds: bounds beyond what Unix nanoseconds hold are
// no bound, not a wrapped one that keeps nothing.
func TestBackfillWindowBounds(t *testing.T) {
	dir := selectDir(t)
	code, out, errOut := backfillIn(t, dir, "-config", "rules.hcl", "-since", "1600-01-01T00:00:00Z", "-until", "9999-12-31T23:59:59Z", "l/app.log")
	if code != exitOK || out != "ra n=1i 20000000000\n" {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	code, _, errOut = backfillIn(t, dir, "-config", "rules.hcl", "-since", "2300-01-01T00:00:00Z", "l/app.log")
	if code != exitUsage || !strings.Contains(errOut, "past the last time InfluxDB can store") {
		t.Errorf("-since beyond 2262: exit %d, stderr:\n%s", code, errOut)
	}
}
