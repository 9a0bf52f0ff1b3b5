package tailer_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/tailer"
)

// samplesRules holds a source with a multiline block for each sample.
const samplesRules = "../testdata/multiline/samples.hcl"

// loadSamples returns the sources of samplesRules by name.
func loadSamples(t *testing.T) map[string]tailer.Source {
	t.Helper()
	cfg, _, diags := config.Load(samplesRules)
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", samplesRules, diags)
	}
	out := map[string]tailer.Source{}
	for _, s := range cfg.Tailer.Sources {
		if s.Multiline == nil {
			t.Fatalf("source %q has no multiline block", s.Name)
		}
		out[s.Name] = s
	}
	return out
}

// sample is a real log of testdata/logs/samples and what its records must
// be. The figures were counted apart from the joiner, with grep and awk on
// the file (see the README's "Multiline records").
type sample struct {
	source, file string
	records      int
	// level finds a record's level in its first line; levels are the
	// records per level.
	level  *regexp.Regexp
	levels map[string]int
	// continued is how many lines continue a record; frames how many of
	// them frame matches (a stack frame), none of them first in a record.
	continued int
	frame     *regexp.Regexp
	frames    int
}

var samples = []sample{
	{
		source: "kafka_controller", file: "elastic-examples/kafka0/controller.log.2016-12-19-18",
		records: 803, continued: 229, frame: regexp.MustCompile("^\tat "), frames: 197, level: regexp.MustCompile(`^\[[^\]]+\] ([A-Z]+) `),
		levels: map[string]int{"DEBUG": 428, "INFO": 189, "WARN": 137, "TRACE": 49},
	},
	{
		source: "kafka_server", file: "elastic-examples/kafka1/server.log.2016-12-19-20",
		records: 426, continued: 30, frame: regexp.MustCompile("^\tat "), frames: 28, level: regexp.MustCompile(`^\[[^\]]+\] ([A-Z]+) `),
		levels: map[string]int{"INFO": 421, "ERROR": 3, "WARN": 2},
	},
	{
		source: "laravel", file: "lnav/logfile_laravel.0",
		records: 82, continued: 1334, frame: regexp.MustCompile(`^#\d+ `), frames: 852, level: regexp.MustCompile(`^\[[^\]]+\] \w+\.([A-Z]+): `),
		levels: map[string]int{"ERROR": 82},
	},
	{
		source: "mysql_slow", file: "lnav/logfile_mysql_slow.0",
		records: 6, continued: 37, frame: regexp.MustCompile(`^# Query_time: `), frames: 6, level: regexp.MustCompile(`^# Time: \S+T(\d\d):`), // no level: the hour
		levels: map[string]int{"23": 6},
	},
	{
		source: "wpt", file: "mozilla-treeherder/wpt-tracebacks.log",
		records: 2391, continued: 64, frame: regexp.MustCompile(`^\[task [^\]]+\] \S+ +[A-Z]+ -   File "`), frames: 32, level: regexp.MustCompile(`^\[task [^\]]+\] \S+ +([A-Z]+) - `),
		levels: map[string]int{"INFO": 2374, "WARNING": 17},
	},
}

func samplePath(s sample) string { return filepath.Join("../testdata/logs/samples", s.file) }

// fileLines returns the lines of path without their endings ("\r\n"
// included), a last line without one counted too.
func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// scanSample reads a sample with its source's block, m when not nil.
func scanSample(t *testing.T, s sample, src tailer.Source, m *tailer.Multiline) ([]pipeline.Line, tailer.Counts) {
	t.Helper()
	f, err := os.Open(samplePath(s))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if m == nil {
		m = src.Multiline
	}
	var recs []pipeline.Line
	c, err := tailer.Scan(context.Background(), f, tailer.Input{Source: s.source, Path: s.file, Multiline: m}, func(l pipeline.Line) error {
		recs = append(recs, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs, c
}

// TestMultilineSamples reads each real sample with its source's block: the
// number of records, the records per level, and every line of the file in
// exactly one record, in order, a continuation line never first and a
// first line never a continuation.
func TestMultilineSamples(t *testing.T) {
	sources := loadSamples(t)
	for _, s := range samples {
		t.Run(s.source, func(t *testing.T) {
			src := sources[s.source]
			recs, c := scanSample(t, s, src, nil)
			lines := fileLines(t, samplePath(s))
			if len(recs) != s.records || c.Records != int64(s.records) || c.Lines != int64(len(lines)) {
				t.Errorf("%d records (counted %d) of %d lines, want %d records of %d lines", len(recs), c.Records, c.Lines, s.records, len(lines))
			}
			if c.CutMaxLines+c.CutMaxBytes+c.Timeouts != 0 {
				t.Errorf("counts %+v: nothing should be cut", c)
			}
			levels := map[string]int{}
			var joined []string
			continued, frames := 0, 0
			m := src.Multiline
			continues := func(line string) bool {
				if m.Start != nil {
					return !m.Start.MatchString(line)
				}
				return m.Continue.MatchString(line)
			}
			for i, r := range recs {
				rl := strings.Split(r.Text, "\n")
				if i > 0 && continues(rl[0]) {
					t.Errorf("record %d starts with a continuation line: %q", i, rl[0])
				}
				for _, l := range rl[1:] {
					if !continues(l) {
						t.Errorf("record %d holds a line that starts a record: %q", i, l)
					}
					if s.frame.MatchString(l) {
						frames++
					}
				}
				continued += len(rl) - 1
				joined = append(joined, rl...)
				if lv := s.level.FindStringSubmatch(rl[0]); lv != nil {
					levels[lv[1]]++
				}
			}
			if continued != s.continued || s.records+continued != len(lines) {
				t.Errorf("%d continuation lines, want %d; %d records + %d continuations for %d lines", continued, s.continued, s.records, continued, len(lines))
			}
			if frames != s.frames {
				t.Errorf("%d frame lines inside records, want %d", frames, s.frames)
			}
			if diff := gocmp.Diff(lines, joined); diff != "" {
				t.Errorf("the records' lines are not the file's lines, in order (-file +records):\n%s", diff)
			}
			t.Logf("%s: %d lines, %d records (%d continuation lines), per level %v, counts %+v", s.file, len(lines), len(recs), continued, levels, c)
			if diff := gocmp.Diff(s.levels, levels); diff != "" {
				t.Errorf("records per level (-want +got):\n%s", diff)
			}
			if last := recs[len(recs)-1]; last.Offset != fileSize(t, samplePath(s)) {
				t.Errorf("last record ends at %d, not at the end of the file", last.Offset)
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestMultilineSamplesMaxLines cuts the Laravel traces at 10 lines: each
// record of n lines becomes ceil(n/10) records, all but the last counted
// as cut, and no line is lost.
func TestMultilineSamplesMaxLines(t *testing.T) {
	s := samples[2]
	src := loadSamples(t)[s.source]
	whole, _ := scanSample(t, s, src, nil)
	wantRecords, wantCut := 0, 0
	for _, r := range whole {
		n := strings.Count(r.Text, "\n") + 1
		wantRecords += (n + 9) / 10
		wantCut += (n+9)/10 - 1
	}
	m := *src.Multiline
	m.MaxLines = 10
	recs, c := scanSample(t, s, src, &m)
	if len(recs) != wantRecords || c.Records != int64(wantRecords) || c.CutMaxLines != int64(wantCut) || wantCut == 0 {
		t.Fatalf("%d records, counts %+v; want %d records, %d cut", len(recs), c, wantRecords, wantCut)
	}
	t.Logf("%s with max_lines = 10: %d records, %d cut by max_lines (counts %+v)", s.file, len(recs), c.CutMaxLines, c)
	var got []string
	for _, r := range recs {
		if n := strings.Count(r.Text, "\n") + 1; n > 10 {
			t.Fatalf("a record of %d lines", n)
		}
		got = append(got, r.Text)
	}
	if strings.Join(got, "\n") != strings.Join(fileLines(t, samplePath(s)), "\n") {
		t.Error("lines lost or reordered by the cuts")
	}
}

// TestMultilineSamplesFollowed follows a copy of the Kafka server log: the
// same 426 records as Scan, the last one passed on by its timeout, counted.
func TestMultilineSamplesFollowed(t *testing.T) {
	s := samples[1]
	src := loadSamples(t)[s.source]
	want, _ := scanSample(t, s, src, nil)
	dir := t.TempDir()
	b, err := os.ReadFile(samplePath(s))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "server.log")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ml := *src.Multiline
	ml.Timeout = 100 * time.Millisecond
	src.Paths, src.Multiline = []string{path}, &ml
	tl, err := tailer.New(tailer.Config{Sources: []tailer.Source{src}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lines := make(chan pipeline.Line, 16)
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx, lines, nil) }()
	var got []string
	deadline := time.After(10 * time.Second)
	for len(got) < len(want) {
		select {
		case l := <-lines:
			got = append(got, l.Text)
		case <-deadline:
			t.Fatalf("%d of %d records", len(got), len(want))
		}
	}
	st := tl.Stats().Sources[0]
	cancel()
	for range lines {
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i].Text {
			t.Fatalf("record %d: %q, want %q", i, got[i], want[i].Text)
		}
	}
	t.Logf("followed %s: %+v", s.file, st)
	if st.Records != int64(s.records) || st.Timeouts != 1 || st.Lines != 456 {
		t.Errorf("stats %+v, want %d records of 456 lines, 1 timeout", st, s.records)
	}
}
