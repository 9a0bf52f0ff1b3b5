package extract

import (
	"bufio"
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/loggen"
	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// benchCase is one extraction mode with the rule the throughput targets
// name: tags method and status, fields bytes and request time, time from
// the line.
type benchCase struct {
	name string
	gen  func(w io.Writer, n int, seed uint64, start time.Time) error
	rule Rule
}

var benchCases = []benchCase{
	{"regex", loggen.Nginx, Rule{Name: "nginx", Mode: Regex,
		Pattern: `^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<request_time>[\d.]+)$`,
		Time:    &Time{From: "time", Layout: "02/Jan/2006:15:04:05 -0700"},
		Tags:    []TagSpec{{"method", "method"}, {"status", "status"}},
		Fields:  []FieldSpec{{Key: "bytes", From: "bytes", Type: TypeInt}, {Key: "request_time", From: "request_time", Type: TypeFloat}}}},
	{"json", loggen.JSONLines, Rule{Name: "app", Mode: JSON,
		Time:   &Time{From: "ts", Layout: "rfc3339"},
		Tags:   []TagSpec{{"method", "http.method"}, {"status", "http.status"}},
		Fields: []FieldSpec{{Key: "bytes", From: "bytes", Type: TypeInt}, {Key: "duration_seconds", From: "duration_ms", Type: TypeFloat, Scale: 0.001}}}},
	{"logfmt", loggen.Logfmt, Rule{Name: "app", Mode: Logfmt,
		Time:   &Time{From: "time", Layout: "rfc3339"},
		Tags:   []TagSpec{{"method", "method"}, {"status", "status"}},
		Fields: []FieldSpec{{Key: "bytes", From: "bytes", Type: TypeInt}, {Key: "duration", From: "duration", Type: TypeDuration}}}},
}

// benchLines generates n lines of a case.
func benchLines(tb testing.TB, c benchCase, n int) []pipeline.Line {
	var buf bytes.Buffer
	if err := c.gen(&buf, n, 1, time.Date(2025, 10, 10, 13, 55, 36, 0, time.UTC)); err != nil {
		tb.Fatal(err)
	}
	var lines []pipeline.Line
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		lines = append(lines, pipeline.Line{Origin: pipeline.Origin{Path: "bench.log"}, Source: "s", Text: sc.Text()})
	}
	return lines
}

// TestBenchInput makes sure every benchmark measures real work: most
// generated lines must become points. (The JSON and logfmt generators mix in
// about 20% lines without request fields, which rightly make no point.)
func TestBenchInput(t *testing.T) {
	for _, c := range benchCases {
		t.Run(c.name, func(t *testing.T) {
			lines := benchLines(t, c, 1000)
			ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{c.rule}}}})
			if err != nil {
				t.Fatal(err)
			}
			var rec pipeline.Record
			points := 0
			for i := range lines {
				ex.Extract(&lines[i], &rec)
				points += len(rec.Points)
			}
			if points < 750 {
				t.Errorf("%d of %d lines became points; the benchmark input or rule is broken: %+v", points, len(lines), ex.Stats().Rules)
			}
		})
	}
}

func BenchmarkExtract(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			lines := benchLines(b, c, 10000)
			ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{c.rule}}}})
			if err != nil {
				b.Fatal(err)
			}
			size := 0
			for _, l := range lines {
				size += len(l.Text) + 1
			}
			b.SetBytes(int64(size / len(lines)))
			b.ReportAllocs()
			var rec pipeline.Record
			i := 0
			for b.Loop() {
				ex.Extract(&lines[i], &rec)
				if i++; i == len(lines) {
					// Start over as a fresh agent would: the same lines
					// again into one extractor would all be repeats.
					b.StopTimer()
					i = 0
					if ex, err = Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{c.rule}}}}); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			}
		})
	}
}

// aggBenchRule is the regex case's rule aggregated as the example
// block: windows of 10 s, 30 s of lateness, every stat with three
// percentiles, three buckets.
func aggBenchRule() Rule {
	r := benchCases[0].rule
	r.Aggregate = &Aggregate{Window: 10 * time.Second, Lateness: 30 * time.Second,
		Stats: []string{"count", "sum", "min", "max", "mean", "p50", "p90", "p99"}, Buckets: []float64{0.01, 0.1, 1}}
	return r
}

// TestAggregateBenchInput: the aggregated benchmark folds most lines into
// windows that it emits, so it measures real work.
func TestAggregateBenchInput(t *testing.T) {
	lines := benchLines(t, benchCases[0], 10000)
	ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{aggBenchRule()}}}})
	if err != nil {
		t.Fatal(err)
	}
	var rec pipeline.Record
	points := 0
	for i := range lines {
		ex.Extract(&lines[i], &rec)
		points += len(rec.Points)
	}
	st := ex.Stats().Rules[0]
	if st.Aggregated < 9000 || points < 10 || st.Late > 0 {
		t.Errorf("%d lines aggregated, %d points before the end: the benchmark input or rule is broken: %+v", st.Aggregated, points, st)
	}
}

// BenchmarkAggregate compares the cost per line of the regex rule making a
// point per line (per_line, as BenchmarkExtract/regex) with the same rule
// aggregated (aggregated), windows written included.
func BenchmarkAggregate(b *testing.B) {
	for _, c := range []struct {
		name string
		rule Rule
	}{{"per_line", benchCases[0].rule}, {"aggregated", aggBenchRule()}} {
		b.Run(c.name, func(b *testing.B) {
			lines := benchLines(b, benchCases[0], 10000)
			cfg := Config{Sources: []Source{{Name: "s", Rules: []Rule{c.rule}}}}
			ex, err := Compile(cfg)
			if err != nil {
				b.Fatal(err)
			}
			size := 0
			for _, l := range lines {
				size += len(l.Text) + 1
			}
			b.SetBytes(int64(size / len(lines)))
			b.ReportAllocs()
			var rec pipeline.Record
			i := 0
			for b.Loop() {
				ex.Extract(&lines[i], &rec)
				if i++; i == len(lines) {
					ex.Flush(&rec) // the last windows, as test and backfill end
					b.StopTimer()
					i = 0
					if ex, err = Compile(cfg); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			}
		})
	}
}
