package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// mustPoints parses line protocol for a test.
func mustPoints(t *testing.T, lp string) []expectedPoint {
	t.Helper()
	ps, err := parseExpect(lp)
	if err != nil {
		t.Fatalf("parseExpect(%q): %v", lp, err)
	}
	return ps
}

// TestDiffPoints covers each kind of difference the printer reports.
func TestDiffPoints(t *testing.T) {
	const got = "m,a=1,b=2 i=512i,f=0.5,s=\"x\",ok=true 1760104536000000000"
	for _, tc := range []struct {
		name, want, got string
		diff            []string
	}{
		{name: "equal", want: got, got: got},
		{name: "tags in another order", want: "m,b=2,a=1 i=512i,f=0.5,s=\"x\",ok=true 1760104536000000000", got: got},
		{name: "fields in another order", want: "m,a=1,b=2 ok=true,s=\"x\",f=0.5,i=512i 1760104536000000000", got: got},
		{name: "no time: any time", want: "m,a=1,b=2 i=512i,f=0.5,s=\"x\",ok=true", got: got},
		{name: "measurement", want: "n,a=1,b=2 i=512i,f=0.5,s=\"x\",ok=true", got: got,
			diff: []string{`measurement: want "n", got "m"`}},
		{name: "missing tag", want: "m,a=1,b=2,c=3 i=512i,f=0.5,s=\"x\",ok=true", got: got,
			diff: []string{`tag c: missing (want "3")`}},
		{name: "extra tag", want: "m,a=1 i=512i,f=0.5,s=\"x\",ok=true", got: got,
			diff: []string{`tag b: not expected (got "2")`}},
		{name: "different tag", want: "m,a=1,b=3 i=512i,f=0.5,s=\"x\",ok=true", got: got,
			diff: []string{`tag b: want "3", got "2"`}},
		{name: "missing field", want: "m,a=1,b=2 i=512i,f=0.5,s=\"x\",ok=true,n=1i", got: got,
			diff: []string{`field n: missing (want 1i)`}},
		{name: "extra field", want: "m,a=1,b=2 i=512i,f=0.5,s=\"x\"", got: got,
			diff: []string{`field ok: not expected (got true)`}},
		{name: "different value", want: "m,a=1,b=2 i=513i,f=0.5,s=\"y\",ok=true", got: got,
			diff: []string{`field i: want 513i, got 512i`, `field s: want "y", got "x"`}},
		{name: "int is not float", want: "m,a=1,b=2 i=512,f=0.5,s=\"x\",ok=true", got: got,
			diff: []string{`field i: want 512 (float), got 512i (int)`}},
		{name: "int is not uint", want: "m,a=1,b=2 i=512u,f=0.5,s=\"x\",ok=true", got: got,
			diff: []string{`field i: want 512u (uint), got 512i (int)`}},
		{name: "string is not bool", want: "m,a=1,b=2 i=512i,f=0.5,s=\"x\",ok=\"true\"", got: got,
			diff: []string{`field ok: want "true" (string), got true (bool)`}},
		{name: "time", want: "m,a=1,b=2 i=512i,f=0.5,s=\"x\",ok=true 1760104537000000000", got: got,
			diff: []string{`time: want 1760104537000000000 (2025-10-10T13:55:37Z), got 1s earlier`}},
		{name: "time later", want: "m,a=1,b=2 i=512i,f=0.5,s=\"x\",ok=true 1760104535999999999", got: got,
			diff: []string{`time: want 1760104535999999999 (2025-10-10T13:55:35.999999999Z), got 1ns later`}},
		{name: "time too far to subtract", want: "m,a=1,b=2 i=512i,f=0.5,s=\"x\",ok=true -9223372036854775806", got: "m,a=1,b=2 i=512i,f=0.5,s=\"x\",ok=true 9223372036854775806",
			diff: []string{`time: want -9223372036854775806 (1677-09-21T00:12:43.145224194Z), got 9223372036854775806 (2262-04-11T23:47:16.854775806Z)`}},
		{name: "missing point", want: got + "\nm,a=1 i=1i", got: got,
			diff: []string{`point 2: missing: m,a=1 i=1i`}},
		{name: "extra point", want: got, got: got + "\nm,a=1 i=1i",
			diff: []string{`point 2: not expected: m,a=1 i=1i`}},
		{name: "second point differs", want: got + "\nm,a=1 i=2i", got: got + "\nm,a=1 i=1i",
			diff: []string{`point 2: field i: want 2i, got 1i`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diff := diffPoints(mustPoints(t, tc.want), mustPoints(t, tc.got))
			if d := cmp.Diff(tc.diff, diff); d != "" {
				t.Errorf("diffPoints (-want +got):\n%s", d)
			}
		})
	}
}

// TestRunExamples runs the examples of the good case: all pass. Then it
// breaks each kind and checks the failure is reported on that example's
// expect, with why.
func TestRunExamples(t *testing.T) {
	caseEnv(t)
	path := filepath.Join("testdata", "good", "examples.hcl")
	cfg, files, diags := Load(path)
	if diags.HasErrors() {
		t.Fatalf("Load: %s", render(t, files, diags))
	}
	passed, failed := RunExamples(cfg, time.Now())
	if len(failed) > 0 || passed != 5 {
		t.Fatalf("RunExamples: %d passed, want 5; failures:\n%s", passed, render(t, files, failed))
	}

	for _, tc := range []struct {
		name, line, expect string
		rule               int // index in cfg.Examples
		want               string
		end                bool // Detail ends with want
	}{
		{name: "other value", rule: 0, line: "ts=1760104536 method=GET bytes=513 took=13ms",
			want: "field bytes: want 512i, got 513i"},
		{name: "not taken", rule: 0, line: "ts=1760104536",
			want: `Rule "requests" makes no point of the line: it is not logfmt holding any of the rule's tag or field names.`},
		{name: "bad time", rule: 0, line: "ts=never bytes=1",
			want: `Rule "requests" makes no point of the line: bad time of "ts": `},
		{name: "must not take", rule: 2, line: "ts=1760104536 bytes=1",
			want: `Rule "requests" takes the line, but expect is "": the rule must not take it. It makes:` + "\n  requests bytes=1i 1760104536000000000"},
		{name: "regex does not match", rule: 3, line: "n=x",
			want: `Rule "untimed" makes no point of the line: its regex does not match it.`},
		{name: "bad value noted", rule: 0, line: "ts=1760104536 method=GET bytes=x took=13ms",
			want: "field bytes: missing (want 512i)\nIt makes:\n  requests,method=GET took=0.013 1760104536000000000\nWhile reading the line:\n  bad value of \"bytes\": x"},
		{name: "untimed point shown without its read time", rule: 3, line: "n=8",
			want: "field n: want 7i, got 8i\nIt makes:\n  untimed n=8i", end: true},
		{name: "aggregate window", rule: 4, line: "ts=1760104580 bytes=512",
			want: "time: want 1760104500000000000 (2025-10-10T13:55:00Z), got 1m0s later"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := cfg.Examples[tc.rule]
			ex.Line = tc.line
			one := &Config{Examples: []Example{ex}}
			passed, failed := RunExamples(one, time.Now())
			if passed != 0 || len(failed) != 1 {
				t.Fatalf("RunExamples: %d passed, %d failed; want 0 and 1", passed, len(failed))
			}
			d := failed[0]
			if *d.Subject != ex.ExpectRange || d.Summary != "Example fails" {
				t.Errorf("diagnostic %q at %v, want \"Example fails\" at expect, %v", d.Summary, d.Subject, ex.ExpectRange)
			}
			if !strings.Contains(d.Detail, tc.want) || (tc.end && !strings.HasSuffix(d.Detail, tc.want)) {
				t.Errorf("Detail does not say %q:\n%s", tc.want, d.Detail)
			}
		})
	}
}

// TestRulesExampleExamples keeps rules.hcl.example's examples passing, and
// one on every rule.
func TestRulesExampleExamples(t *testing.T) {
	t.Setenv("INFLUX_TOKEN", "secret")
	cfg, files, diags := Load(filepath.Join("..", "..", "rules.hcl.example"))
	if diags.HasErrors() {
		t.Fatalf("Load: %s", render(t, files, diags))
	}
	if _, failed := RunExamples(cfg, time.Now()); len(failed) > 0 {
		t.Fatalf("failing examples:\n%s", render(t, files, failed))
	}
	with := map[string]bool{}
	for _, ex := range cfg.Examples {
		with[ex.Rule] = true
	}
	for _, s := range cfg.Extract.Sources {
		for _, r := range s.Rules {
			if !with[r.Name] {
				t.Errorf("rule %q has no example", r.Name)
			}
		}
	}
}
