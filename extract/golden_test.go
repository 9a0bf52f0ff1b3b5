package extract_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
)

var update = flag.Bool("update", false, "rewrite the want files of testdata/cases")

// Fixed clocks of the golden cases: lines are "read" at readAt, and the
// input file was last modified at modTime (syslog takes its year from it),
// or at the RFC 3339 time in the case's file "modtime".
var (
	readAt  = time.Date(2025, 10, 10, 12, 0, 0, 0, time.UTC)
	modTime = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
)

// TestCases runs each directory of testdata/cases: rules.hcl applied to
// input.log (every line offered to every source), then Flush, must give
// want.lp, the points as line protocol, and want.stats, what each rule
// counted. A case
// whose rules do not load has want.err, the rendered diagnostics, instead.
// Each line is offered to every source.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/cases/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases in testdata/cases: %v", err)
	}
	t.Setenv("LOGMETRICS_TEST_TOKEN", "secret")
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "rules.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			cfg, files, diags := config.LoadBytes(filepath.Join(dir, "rules.hcl"), src)
			if diags.HasErrors() {
				var buf bytes.Buffer
				if err := config.WriteDiagnostics(&buf, files, diags, 80); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join(dir, "want.err"), buf.Bytes())
				return
			}
			mod := modTime
			if b, err := os.ReadFile(filepath.Join(dir, "modtime")); err == nil {
				if mod, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b))); err != nil {
					t.Fatalf("modtime: %v", err)
				}
			}
			lp, stats := runCase(t, cfg, filepath.Join(dir, "input.log"), mod)
			golden(t, filepath.Join(dir, "want.lp"), lp)
			golden(t, filepath.Join(dir, "want.stats"), stats)
			decodeAll(t, lp)
		})
	}
}

func runCase(t *testing.T, cfg *config.Config, input string, modTime time.Time) (lp, stats []byte) {
	ex, err := extract.Compile(cfg.Extract)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	data, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	var rec pipeline.Record
	off := int64(0)
	for _, text := range strings.SplitAfter(string(data), "\n") {
		if text == "" {
			continue
		}
		off += int64(len(text))
		text = strings.TrimSuffix(strings.TrimSuffix(text, "\n"), "\r")
		for _, s := range cfg.Tailer.Sources {
			line := pipeline.Line{Origin: pipeline.Origin{Path: "input.log", Offset: off}, Source: s.Name, Text: text, ReadAt: readAt, ModTime: modTime}
			ex.Extract(&line, &rec)
			for i := range rec.Points {
				out = sink.AppendPoint(out, &rec.Points[i])
			}
		}
	}
	// The end of the input, as test and backfill end: the windows still
	// open are written.
	var last pipeline.Record
	ex.Flush(&last)
	for i := range last.Points {
		out = sink.AppendPoint(out, &last.Points[i])
	}
	var sb strings.Builder
	st := ex.Stats()
	for _, r := range st.Rules {
		fmt.Fprintf(&sb, "%+v\n", r)
	}
	for _, s := range st.Sources {
		fmt.Fprintf(&sb, "source %s: lines=%d unmatched=%d\n", s.Source, s.Lines, s.Unmatched)
	}
	return out, []byte(sb.String())
}

// golden compares got with the file, or rewrites it under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./extract -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// decodeAll checks that every emitted line is valid line protocol.
func decodeAll(t *testing.T, lp []byte) {
	t.Helper()
	dec := lineprotocol.NewDecoderWithBytes(lp)
	n := 0
	for dec.Next() {
		n++
		if _, err := dec.Measurement(); err != nil {
			t.Fatalf("point %d: %v", n, err)
		}
		for {
			k, _, err := dec.NextTag()
			if err != nil {
				t.Fatalf("point %d: %v", n, err)
			}
			if k == nil {
				break
			}
		}
		for {
			k, _, err := dec.NextField()
			if err != nil {
				t.Fatalf("point %d: %v", n, err)
			}
			if k == nil {
				break
			}
		}
		if _, err := dec.Time(lineprotocol.Nanosecond, time.Time{}); err != nil {
			t.Fatalf("point %d: %v", n, err)
		}
	}
	if want := bytes.Count(lp, []byte("\n")) - bytes.Count(lp, []byte("\\\n")); n > want {
		t.Errorf("decoded %d points from %d lines", n, want)
	}
}
