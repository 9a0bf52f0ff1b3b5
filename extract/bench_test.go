package extract

import (
	"bufio"
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/loggen"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
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

// busyLines are the regex case's lines restamped at perSecond lines a
// second, in order: a busy server, where a window holds many lines of each
// tag set (loggen's own times advance about half a second a line).
func busyLines(tb testing.TB, n, perSecond int) []pipeline.Line {
	lines := benchLines(tb, benchCases[0], n)
	start := time.Date(2025, 10, 10, 13, 55, 36, 0, time.UTC)
	for i := range lines {
		text := lines[i].Text
		open, end := strings.IndexByte(text, '['), strings.IndexByte(text, ']')
		ts := start.Add(time.Duration(i/perSecond) * time.Second).Format("02/Jan/2006:15:04:05 -0700")
		lines[i].Text = text[:open+1] + ts + text[end:]
	}
	return lines
}

// TestAggregateBenchInput: the aggregated benchmarks fold nearly every
// line into windows that they emit, so they measure real work; loggen's
// times make a point every three lines, the busy ones one every forty.
func TestAggregateBenchInput(t *testing.T) {
	for _, c := range []struct {
		name      string
		lines     []pipeline.Line
		linesEach int // per point, at least
	}{{"loggen", benchLines(t, benchCases[0], 10000), 2}, {"busy", busyLines(t, 10000, 200), 30}} {
		ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{aggBenchRule()}}}})
		if err != nil {
			t.Fatal(err)
		}
		var rec pipeline.Record
		points := 0
		for i := range c.lines {
			ex.Extract(&c.lines[i], &rec)
			points += len(rec.Points)
		}
		rec = pipeline.Record{}
		ex.Flush(&rec)
		points += len(rec.Points)
		st := ex.Stats().Rules[0]
		t.Logf("%s: %d lines aggregated into %d points", c.name, st.Aggregated, points)
		if st.Aggregated < 9000 || points < 10 || st.Late > 0 || int(st.Aggregated)/points < c.linesEach {
			t.Errorf("%s: %d lines aggregated into %d points: the benchmark input or rule is broken: %+v", c.name, st.Aggregated, points, st)
		}
	}
}

// BenchmarkAggregate compares the cost per line of the regex rule making a
// point per line (per_line, as BenchmarkExtract/regex) with the same rule
// aggregated (aggregated), windows written included, on loggen's lines
// and on them restamped at 200 a second (busy); the encoded variants also
// encode every point to line protocol as the sink does, which is where a
// point per line costs most before it even leaves the agent.
func BenchmarkAggregate(b *testing.B) {
	inputs := []struct {
		name  string
		lines func(testing.TB) []pipeline.Line
	}{
		{"loggen", func(tb testing.TB) []pipeline.Line { return benchLines(tb, benchCases[0], 10000) }},
		{"busy", func(tb testing.TB) []pipeline.Line { return busyLines(tb, 10000, 200) }},
	}
	for _, in := range inputs {
		for _, c := range []struct {
			name   string
			rule   Rule
			encode bool
		}{
			{"per_line", benchCases[0].rule, false}, {"aggregated", aggBenchRule(), false},
			{"per_line_encoded", benchCases[0].rule, true}, {"aggregated_encoded", aggBenchRule(), true},
		} {
			b.Run(in.name+"/"+c.name, func(b *testing.B) {
				lines := in.lines(b)
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
				var buf []byte
				i := 0
				for b.Loop() {
					ex.Extract(&lines[i], &rec)
					if c.encode {
						for j := range rec.Points {
							buf = sink.AppendPoint(buf[:0], &rec.Points[j])
						}
					}
					if i++; i == len(lines) {
						ex.Flush(&rec) // the last windows, as test and backfill end
						for j := range rec.Points {
							buf = sink.AppendPoint(buf[:0], &rec.Points[j])
						}
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
}

// BenchmarkRewrite is the cost of one rewrite per line: the regex case's
// rule with the request path as a tag too (path), and with that tag's ids
// rewritten to :id (path_rewrite), which matches the api lines' paths
// and not the others.
func BenchmarkRewrite(b *testing.B) {
	path := benchCases[0].rule
	path.Tags = append(slices.Clone(path.Tags), TagSpec{"path", "path"})
	rewritten := path
	rewritten.Rewrites = []Rewrite{{Name: "path", Regex: `/[0-9]+`, Replace: "/:id"}}
	for _, c := range []struct {
		name string
		rule Rule
	}{{"path", path}, {"path_rewrite", rewritten}} {
		b.Run(c.name, func(b *testing.B) {
			lines := benchLines(b, benchCases[0], 10000)
			cfg := Config{Sources: []Source{{Name: "s", Rules: []Rule{c.rule}}}}
			ex, err := Compile(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var rec pipeline.Record
			i := 0
			for b.Loop() {
				ex.Extract(&lines[i], &rec)
				if i++; i == len(lines) {
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
