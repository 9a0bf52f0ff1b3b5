package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/tailer"
)

// TestCheckExample keeps rules.hcl.example, and its examples, passing
// `logmetrics check`.
func TestCheckExample(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := dispatch(&env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, []string{"check", "-config", "../../rules.hcl.example"})
	if code != exitOK {
		t.Fatalf("check rules.hcl.example: exit %d, want %d\n%s", code, exitOK, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("check wrote to stdout: %q", stdout.String())
	}
	// Its examples run too, and all pass.
	ok := regexp.MustCompile(`(?m)^\.\./\.\./rules\.hcl\.example: ok, [1-9]\d* source\(s\), [1-9]\d* rule\(s\), [1-9]\d* example\(s\) passed\n\z`)
	if !ok.Match(stderr.Bytes()) {
		t.Errorf("check rules.hcl.example: stderr does not end with the ok line:\n%s", stderr.String())
	}
}

// oddRules has a regex, a JSON and a logfmt rule in one source, so that
// every extractor sees every odd line.
const oddRules = `
source "app" {
  paths = ["*.log"]
  rule "re" {
    regex = "^(?P<ts>\\d+) re n=(?P<n>\\d+)$"
    time {
      from   = "ts"
      layout = "unix"
    }
    fields = { n = "int" }
  }
  rule "js" {
    json = true
    time {
      from   = "ts"
      layout = "unix"
    }
    fields = { n = "int" }
  }
  rule "lf" {
    logfmt = true
    require "kind" {
      equals = "lf"
    }
    time {
      from   = "ts"
      layout = "unix"
    }
    fields = { n = "int" }
  }
}
`

// TestTestOddInput feeds `logmetrics test` input that is awkward to keep in
// a txtar archive: binary junk, invalid UTF-8, very long lines, CRLF and a
// last line without a newline. It must never crash, every line must be
// counted, and the good lines around the bad ones still make points.
func TestTestOddInput(t *testing.T) {
	t.Parallel()
	// Two blocks of good lines, one per extractor, with their points.
	// Their times differ, so no point is nudged apart from another.
	good := "1760104536 re n=1\n" + `{"ts":1760104537,"n":2}` + "\n" + "ts=1760104538 kind=lf n=3\n"
	goodLP := "re n=1i 1760104536000000000\n" + "js n=2i 1760104537000000000\n" + "lf n=3i 1760104538000000000\n"
	good2 := "1760104546 re n=4\n" + `{"ts":1760104547,"n":5}` + "\n" + "ts=1760104548 kind=lf n=6\n"
	good2LP := "re n=4i 1760104546000000000\n" + "js n=5i 1760104547000000000\n" + "lf n=6i 1760104548000000000\n"
	const header = "  source  rule  taken  not taken  filtered  points  bad value  missing  bad time  dropped"
	mib := strings.Repeat("x", 1<<20)
	tests := []struct {
		name  string
		input string
		// wantStdout is the whole of stdout; wantStderr are lines stderr
		// must have, in this order ($INPUT is the input file's name).
		wantStdout string
		wantStderr []string
	}{
		{
			// Lines: 3 good, terminal escapes behind NULs and bytes that
			// are never UTF-8, invalid UTF-8 in logfmt, a JSON value that
			// is invalid UTF-8 (taken, but its only field is bad: the
			// point is dropped), NULs, 3 good.
			name:       "binary junk and invalid UTF-8",
			input:      good + "\x00\x01\x02\xff\xfe\x1b[31mred\x1b[0m\n" + "\xc3\x28 n=\xff\n" + `{"ts":1760104539,"n":"\xff"}` + "\n" + "\x00\x00\x00\x00\n" + good2,
			wantStdout: goodLP + good2LP,
			wantStderr: []string{
				header,
				"     app    re      2          8         0       2          0        0         0        0",
				"     app    js      3          7         0       2          1        0         0        1",
				"     app    lf      2          5         3       2          0        0         0        0",
				"app: 10 lines, 3 taken by no rule",
			},
		},
		{
			// 1 MiB is under the 4 MiB line limit: the line is offered to
			// the rules, taken by none, and its sample is cut to 200 bytes.
			// Offsets are those just past a line's end.
			name:       "1 MiB line",
			input:      good + mib + "\n" + good2,
			wantStdout: goodLP + good2LP,
			wantStderr: []string{
				header,
				"     app    re      2          5         0       2          0        0         0        0",
				"     app    js      2          5         0       2          0        0         0        0",
				"     app    lf      2          3         2       2          0        0         0        0",
				"app: 7 lines, 1 taken by no rule",
				"  $INPUT, line ending at byte 1048645: \"" + mib[:200] + "…\"",
			},
		},
		{
			// A line over the limit is skipped, and counted apart.
			name:       "line over the line limit",
			input:      good + strings.Repeat("x", tailer.DefaultMaxLineBytes+1) + "\n" + good2,
			wantStdout: goodLP + good2LP,
			wantStderr: []string{
				header,
				"     app    re      2          4         0       2          0        0         0        0",
				"     app    js      2          4         0       2          0        0         0        0",
				"     app    lf      2          2         2       2          0        0         0        0",
				"app: 6 lines, 0 taken by no rule",
				"1 lines longer than the line limit were skipped",
			},
		},
		{
			// 3 good lines with CRLF, an empty CRLF line, an empty line,
			// and 3 good lines, the last without its newline.
			name:       "CRLF, blank lines and no final newline",
			input:      strings.ReplaceAll(good, "\n", "\r\n") + "\r\n\n" + strings.TrimSuffix(good2, "\n"),
			wantStdout: goodLP + good2LP,
			wantStderr: []string{
				header,
				"     app    re      2          6         0       2          0        0         0        0",
				"     app    js      2          6         0       2          0        0         0        0",
				"     app    lf      2          4         2       2          0        0         0        0",
				"app: 8 lines, 2 taken by no rule",
				"  $INPUT, line ending at byte 73: \"\"",
				"  $INPUT, line ending at byte 74: \"\"",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			rules := filepath.Join(dir, "rules.hcl")
			writeFile(t, rules, oddRules)
			input := filepath.Join(dir, "input.log")
			writeFile(t, input, tc.input)

			var stdout, stderr bytes.Buffer
			code := dispatch(&env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, []string{"test", "-config", rules, input})
			if code != exitOK {
				t.Errorf("exit %d, want %d", code, exitOK)
			}
			if diff := cmp.Diff(tc.wantStdout, stdout.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			want := make([]string, len(tc.wantStderr))
			for i, w := range tc.wantStderr {
				want[i] = strings.ReplaceAll(w, "$INPUT", input)
			}
			if missing := missingLines(stderr.String(), want); missing != "" {
				t.Errorf("stderr lacks, in order, the line\n%.300q\nstderr:\n%.3000s", missing, stderr.String())
			}
		})
	}
}

// missingLines returns the first of want that is not a line of out after
// the lines before it, or "" when all are there in order.
func missingLines(out string, want []string) string {
	lines := strings.Split(out, "\n")
	for _, w := range want {
		i := slices.Index(lines, w)
		if i < 0 {
			return w
		}
		lines = lines[i+1:]
	}
	return ""
}

// TestRun runs the real binary (the test binary, which TestMain installs
// in $PATH as logmetrics) on files that already hold lines, waits until
// their points are on stdout, stops it with SIGINT and expects exit 0 and
// exactly those points. It runs from another directory than the rules
// file's: the relative paths glob must still find the files.
func TestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	writeFile(t, filepath.Join(conf, "rules.hcl"), `
agent {
  state_dir = "state"
  listen    = ""
}
source "app" {
  paths    = ["logs/*.log"]
  exclude  = ["*.gz"]
  start_at = "beginning"
  rule "requests" {
    logfmt = true
    time {
      from   = "time"
      layout = "rfc3339nano"
    }
    tags   = ["method"]
    fields = { status = "int", duration = "duration" }
  }
}
`)
	writeFile(t, filepath.Join(conf, "logs", "a.log"),
		"time=2025-10-10T13:55:36.1Z method=GET status=200 duration=12ms\n"+
			"not a request\n"+
			"time=2025-10-10T13:55:36.2Z method=POST status=201 duration=1.5s\n")
	writeFile(t, filepath.Join(conf, "logs", "b.log"),
		"time=2025-10-10T13:55:37Z method=DELETE status=204 duration=3ms\n")
	writeFile(t, filepath.Join(conf, "logs", "c.log.gz"),
		"time=2025-10-10T13:55:38Z method=GET status=500 duration=1s\n")
	want := []string{
		"requests,method=DELETE duration=0.003,status=204i 1760104537000000000",
		"requests,method=GET duration=0.012,status=200i 1760104536100000000",
		"requests,method=POST duration=1.5,status=201i 1760104536200000000",
	}
	elsewhere := filepath.Join(dir, "elsewhere")
	if err := os.Mkdir(elsewhere, 0o777); err != nil {
		t.Fatal(err)
	}

	a := startAgent(t, elsewhere, "run", "-config", filepath.Join("..", "conf", "rules.hcl"))
	got := a.points(len(want))
	rest, err := a.stop(os.Interrupt)
	if err != nil {
		t.Errorf("run after SIGINT: %v, want exit 0; stderr:\n%s", err, a.logged())
	}
	got = append(got, rest...) // anything more is a failure, shown by the diff below
	// Two files are followed at once: their points may interleave.
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	for _, w := range []string{
		`msg="no rule took the line" source=app file=` + filepath.Join(conf, "logs", "a.log") + ` offset=78 count=1`,
		`msg="stopping: delivering what was read" signal=interrupt`,
		`level=INFO msg=stopped lines_read=4 lines_not_delivered=0 points_not_delivered=0 lines_not_extracted=0`,
	} {
		if !strings.Contains(a.logged(), w) {
			t.Errorf("stderr lacks %s:\n%s", w, a.logged())
		}
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o666); err != nil {
		t.Fatal(err)
	}
}
