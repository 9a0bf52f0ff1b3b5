package extract

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// show renders points compactly for comparison: m,k=v f=value(kind) time.
func show(pts []pipeline.Point) []string {
	var out []string
	for _, p := range pts {
		var b strings.Builder
		b.WriteString(p.Measurement)
		for _, t := range p.Tags {
			fmt.Fprintf(&b, ",%s=%s", t.Key, t.Value)
		}
		for i, f := range p.Fields {
			sep := ","
			if i == 0 {
				sep = " "
			}
			v := f.Value
			switch v.Kind {
			case pipeline.Float:
				fmt.Fprintf(&b, "%s%s=%v", sep, f.Key, v.Float())
			case pipeline.Int:
				fmt.Fprintf(&b, "%s%s=%di", sep, f.Key, v.Int())
			case pipeline.Uint:
				fmt.Fprintf(&b, "%s%s=%du", sep, f.Key, v.Uint())
			case pipeline.Bool:
				fmt.Fprintf(&b, "%s%s=%v", sep, f.Key, v.Bool())
			case pipeline.String:
				fmt.Fprintf(&b, "%s%s=%q", sep, f.Key, v.Str())
			}
		}
		fmt.Fprintf(&b, " %d", p.Time)
		out = append(out, b.String())
	}
	return out
}

// run extracts lines (all from one file of source "s") and returns the
// points rendered by show.
func run(t *testing.T, src Source, lines ...string) ([]string, *Extractor) {
	t.Helper()
	src.Name = "s"
	ex, err := Compile(Config{Sources: []Source{src}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return extractWith(t, ex, lines...), ex
}

// extractWith is run with an Extractor already made.
func extractWith(t *testing.T, ex *Extractor, lines ...string) []string {
	t.Helper()
	var got []string
	var rec pipeline.Record
	off := int64(0)
	for _, l := range lines {
		off += int64(len(l)) + 1
		line := pipeline.Line{Origin: pipeline.Origin{Path: "f.log", Offset: off}, Source: "s", Text: l,
			ReadAt: time.Unix(100, 0), ModTime: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}
		ex.Extract(&line, &rec)
		if rec.Origin != line.Origin {
			t.Fatalf("record origin %+v, want %+v", rec.Origin, line.Origin)
		}
		got = append(got, show(rec.Points)...)
	}
	return got
}

var unixTime = &Time{From: "t", Layout: "unix"}

func TestExtract(t *testing.T) {
	tests := []struct {
		name  string
		src   Source
		lines []string
		want  []string
	}{
		{
			name: "regex with tags and typed fields",
			src: Source{Rules: []Rule{{Name: "r", Mode: Regex, Pattern: `^(?P<t>\d+) (?P<m>\w+) (?P<n>\S+) (?P<f>\S+) (?P<b>\S+) (?P<s>.*)$`, Time: unixTime,
				Tags: []TagSpec{{"method", "m"}},
				Fields: []FieldSpec{{Key: "n", From: "n", Type: TypeInt}, {Key: "f", From: "f", Type: TypeFloat}, {Key: "b", From: "b", Type: TypeBool},
					{Key: "s", From: "s", Type: TypeString}, {Key: "u", From: "n", Type: TypeUint}}}}},
			lines: []string{`10 GET 42 1.5 true hello world`},
			want:  []string{`r,method=GET b=true,f=1.5,n=42i,s="hello world",u=42u 10000000000`},
		},
		{
			name: "measurement, duration and scale",
			src: Source{Rules: []Rule{{Name: "r", Measurement: "http", Mode: Logfmt, Time: unixTime,
				Fields: []FieldSpec{{Key: "took", From: "took", Type: TypeDuration}, {Key: "ms", From: "ms", Type: TypeFloat, Scale: 0.001}, {Key: "d2", From: "took", Type: TypeDuration, Scale: 1000}}}}},
			lines: []string{`t=1 took=250ms ms=1500`, `t=2 took=1.5s`, `t=3 took=2m`},
			want:  []string{`http d2=250,ms=1.5,took=0.25 1000000000`, `http d2=1500,took=1.5 2000000000`, `http d2=120000,took=120 3000000000`},
		},
		{
			name: "tag precedence: rule over source over agent, static as fallback",
			src: Source{Tags: []pipeline.Tag{{Key: "host", Value: "h1"}, {Key: "zone", Value: "static"}}, Rules: []Rule{{Name: "r", Mode: Logfmt, Time: unixTime,
				Tags:   []TagSpec{{"zone", "z"}, {"a", "a"}},
				Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}}}},
			lines: []string{`t=1 v=1 z=eu a=x`, `t=2 v=2`, `t=3 v=3 z="" a=""`},
			want:  []string{`r,a=x,host=h1,zone=eu v=1i 1000000000`, `r,host=h1,zone=static v=2i 2000000000`, `r,host=h1,zone=static v=3i 3000000000`},
		},
		{
			name: "bad and missing values leave fields out; no field drops the point",
			src: Source{Rules: []Rule{{Name: "r", Mode: Regex, Pattern: `^(?P<t>\d+) (?P<bytes>\S+)(?: (?P<rt>\S+))?$`, Time: unixTime,
				Fields: []FieldSpec{{Key: "bytes", From: "bytes", Type: TypeInt}, {Key: "rt", From: "rt", Type: TypeFloat}}}}},
			lines: []string{`1 - 0.5`, `2 512`, `3 - NaN`, `4 99999999999999999999 inf`},
			want:  []string{`r rt=0.5 1000000000`, `r bytes=512i 2000000000`},
		},
		{
			name: "json paths, numbers as text, wrong types",
			src: Source{Rules: []Rule{{Name: "app", Mode: JSON, Time: &Time{From: "ts", Layout: "rfc3339"},
				Tags:   []TagSpec{{"route", "http.route"}, {"status", "http.status"}},
				Fields: []FieldSpec{{Key: "bytes", From: "bytes", Type: TypeInt}, {Key: "duration_seconds", From: "duration_ms", Type: TypeFloat, Scale: 0.001}}}}},
			lines: []string{
				`{"ts":"2025-10-10T13:55:36.5Z","http":{"route":"/a","status":200},"duration_ms":12.5,"bytes":512}`,
				`{"ts":"2025-10-10T13:55:37Z","http":{"route":{"x":1},"status":"404"},"duration_ms":"3","bytes":"lots"}`,
				`{"ts":"2025-10-10T13:55:38Z","bytes":1.5e3}`,
				`not json`, `[1,2]`, ``, "\x00\xff\xfe{",
			},
			want: []string{
				`app,route=/a,status=200 bytes=512i,duration_seconds=0.0125 1760104536500000000`,
				`app,status=404 duration_seconds=0.003 1760104537000000000`,
			},
		},
		{
			name: "require blocks",
			src: Source{Rules: []Rule{{Name: "r", Mode: Logfmt, Time: unixTime,
				Require: []Require{{Name: "level", Op: Equals, Value: "error"}, {Name: "path", Op: Matches, Value: `^/api/`}, {Name: "bot", Op: NotEquals, Value: "yes"}, {Name: "path", Op: NotMatches, Value: `health`}},
				Fields:  []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}}}},
			lines: []string{`t=1 v=1 level=error path=/api/a`, `t=2 v=2 level=info path=/api/a`, `t=3 v=3 level=error path=/web`,
				`t=4 v=4 level=error path=/api/a bot=yes`, `t=5 v=5 level=error path=/api/health`, `t=6 v=6 path=/api/a`},
			want: []string{`r v=1i 1000000000`},
		},
		{
			name: "one line feeds several rules",
			src: Source{Rules: []Rule{
				{Name: "a", Mode: Logfmt, Time: unixTime, Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}},
				{Name: "b", Mode: Regex, Pattern: `v=(?P<v>\d+)`, Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeFloat}}},
			}},
			lines: []string{`t=7 v=3`},
			want:  []string{`a v=3i 7000000000`, `b v=3 100000000000`},
		},
		{
			name: "colliding points are separated per series",
			src: Source{Rules: []Rule{{Name: "r", Mode: Logfmt, Time: unixTime, Tags: []TagSpec{{"s", "s"}},
				Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}}}},
			lines: []string{`t=1 s=a v=1`, `t=1 s=a v=2`, `t=1 s=b v=3`, `t=1.000000004 s=a v=4`, `t=1 s=a v=5`, `t=1 s=a v=6`,
				`t=2 s=a v=7`, `t=1 s=a v=8`, `t=2 s=a v=9`, `t=1.000000004 s=a v=10`},
			want: []string{`r,s=a v=1i 1000000000`, `r,s=a v=2i 1000000001`, `r,s=b v=3i 1000000000`, `r,s=a v=4i 1000000004`,
				`r,s=a v=5i 1000000002`, `r,s=a v=6i 1000000003`, `r,s=a v=7i 2000000000`,
				// back to second 1, out of order: after 1000000003 comes 1000000005,
				// since 1000000004 is v=4's own time
				`r,s=a v=8i 1000000005`, `r,s=a v=9i 2000000001`, `r,s=a v=10i 1000000006`},
		},
		{
			name: "an aggregate rule writes nothing before its window closes",
			src: Source{Rules: []Rule{{Name: "r", Mode: Logfmt, Time: unixTime, Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt}},
				Aggregate: &Aggregate{Window: 10 * time.Second, Stats: []string{"count"}}}}},
			lines: []string{`t=1 v=1`},
			want:  nil,
		},
		{
			name: "a point whose series key InfluxDB would refuse is dropped",
			src: Source{Rules: []Rule{{Name: "r", Mode: Regex, Pattern: `^(?P<t>\d+) (?P<s>\S*)$`, Time: unixTime,
				Tags: []TagSpec{{"s", "s"}}, Fields: []FieldSpec{{Key: "v", From: "t", Type: TypeInt}}}}},
			lines: []string{"1 " + strings.Repeat("x", 30000), "2 short"},
			want:  []string{`r,s=short v=2i 2000000000`},
		},
		{
			name: "a very long line and invalid UTF-8 pass through",
			src: Source{Rules: []Rule{{Name: "r", Mode: Regex, Pattern: `^(?P<t>\d+) (?P<s>.*)$`, Time: unixTime,
				Fields: []FieldSpec{{Key: "n", From: "s", Type: TypeInt}, {Key: "len", From: "t", Type: TypeInt}}}}},
			lines: []string{"1 " + strings.Repeat("x", 1<<20), "2 \xff\xfe"},
			want:  []string{`r len=1i 1000000000`, `r len=2i 2000000000`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := run(t, tc.src, tc.lines...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("points (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStats(t *testing.T) {
	src := Source{Rules: []Rule{{Name: "r", Mode: Regex, Pattern: `^(?P<t>\S+) (?P<lvl>\w+) (?P<v>\S+)$`, Time: unixTime,
		Require: []Require{{Name: "lvl", Op: NotEquals, Value: "debug"}},
		Fields:  []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}}}}
	_, ex := run(t, src, "1 info 5", "2 info x", "x info 5", "3 debug 1", "garbage", "")
	st := ex.Stats()
	wantRule := RuleStats{Source: "s", Rule: "r", Taken: 3, NotTaken: 2, Filtered: 1, Points: 1, TimeErrors: 1, ConversionErrors: 1, NoFields: 1}
	if diff := cmp.Diff([]RuleStats{wantRule}, st.Rules); diff != "" {
		t.Errorf("rule stats (-want +got):\n%s", diff)
	}
	wantSrc := []SourceStats{{Source: "s", Lines: 6, Unmatched: 3, Taken: 3, Filtered: 1, NotTaken: 2, Samples: []Sample{
		{Origin: pipeline.Origin{Path: "f.log", Offset: 37}, Text: "3 debug 1"},
		{Origin: pipeline.Origin{Path: "f.log", Offset: 45}, Text: "garbage"},
		{Origin: pipeline.Origin{Path: "f.log", Offset: 46}, Text: ""},
	}}}
	if diff := cmp.Diff(wantSrc, st.Sources); diff != "" {
		t.Errorf("source stats (-want +got):\n%s", diff)
	}
}

// TestSourceResults checks that each line counts once in its source's
// results: taken by one rule and filtered or not taken by another is taken;
// filtered by one and not matched by another is filtered.
func TestSourceResults(t *testing.T) {
	field := []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}
	src := Source{Rules: []Rule{
		{Name: "a", Mode: Regex, Pattern: `^a (?P<v>\d+)$`, Require: []Require{{Name: "v", Op: NotEquals, Value: "0"}}, Fields: field},
		{Name: "b", Mode: Regex, Pattern: `^(?:a|b) (?P<v>\d+)$`, Require: []Require{{Name: "v", Op: NotEquals, Value: "1"}}, Fields: field},
	}}
	// "a 0": a filters, b takes. "a 1": a takes, b filters. "b 1": a does
	// not match, b filters. "c": neither matches. "b 0": b takes.
	_, ex := run(t, src, "a 0", "a 1", "b 1", "c", "b 0")
	got := ex.Stats().Sources[0]
	want := SourceStats{Source: "s", Lines: 5, Unmatched: 2, Taken: 3, Filtered: 1, NotTaken: 1}
	got.Samples = nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("source stats (-want +got):\n%s", diff)
	}
}

// TestLogTime checks what extraction tells of a line's log time: the
// record's LogTime and the file's Progress hold the latest time a rule
// read, and a line without one leaves them alone (LogTime 0).
func TestLogTime(t *testing.T) {
	ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{{Name: "r", Mode: Regex,
		Pattern: `^(?P<t>\d+) (?P<v>\d+)$`, Time: unixTime, Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var prog pipeline.Progress
	var got []int64
	for i, text := range []string{"5 1", "7 1", "none", "6 1"} {
		line := pipeline.Line{Origin: pipeline.Origin{Path: "f.log", Offset: int64(i + 1)}, Source: "s", Text: text,
			ReadAt: time.Unix(100, 0), Progress: &prog}
		var rec pipeline.Record
		ex.Extract(&line, &rec)
		got = append(got, rec.LogTime)
	}
	if diff := cmp.Diff([]int64{5e9, 7e9, 0, 6e9}, got); diff != "" {
		t.Errorf("LogTime per record (-want +got):\n%s", diff)
	}
	if first, newest := prog.Read(); first != 5e9 || newest != 7e9 {
		t.Errorf("Progress.Read() = %d, %d; want 5e9, 7e9", first, newest)
	}
}

func TestCompileErrors(t *testing.T) {
	field := []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}
	tests := []struct {
		name string
		rule Rule
		tags []pipeline.Tag
		want []string // "part: text fragment"
	}{
		{name: "bad regex", rule: Rule{Name: "r", Mode: Regex, Pattern: `(`, Fields: field}, want: []string{`regex: rule "r": bad regular expression`}},
		{name: "missing groups", rule: Rule{Name: "r", Mode: Regex, Pattern: `(?P<v>\d+)`, Time: &Time{From: "ts", Layout: "unix"},
			Tags: []TagSpec{{"k", "nope"}}, Fields: field}, want: []string{`time.from: the regex of rule "r" has no group named "ts"`, `tags.k: the regex of rule "r" has no group named "nope"`}},
		{name: "bad layout", rule: Rule{Name: "r", Mode: Logfmt, Time: &Time{From: "t", Layout: "bogus"}, Fields: field}, want: []string{"time.layout: "}},
		{name: "reserved and clashing keys", rule: Rule{Name: "r", Mode: Logfmt, Tags: []TagSpec{{"time", "t"}, {"v", "v"}}, Fields: append(field, FieldSpec{Key: "host", From: "h"})},
			tags: []pipeline.Tag{{Key: "host", Value: "x"}},
			want: []string{`tags.time: "time" cannot be a tag key`, `fields.v: "v" is both a tag and a field`, `fields.host: "host" is both a tag and a field`}},
		{name: "scale on int", rule: Rule{Name: "r", Mode: Logfmt, Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt, Scale: 2}}}, want: []string{"fields.v: scale applies to float and duration fields only"}},
		{name: "no fields", rule: Rule{Name: "r", Mode: Logfmt}, want: []string{`fields: rule "r" has no fields`}},
		{name: "bad json path", rule: Rule{Name: "r", Mode: JSON, Fields: []FieldSpec{{Key: "v", From: "a..b"}}}, want: []string{`fields.v: "a..b" is not a JSON path`}},
		{name: "bad require regex", rule: Rule{Name: "r", Mode: Logfmt, Require: []Require{{Name: "p", Op: Matches, Value: "["}}, Fields: field}, want: []string{"require.p: bad regular expression"}},
		{name: "aggregate without time", rule: Rule{Name: "r", Mode: Logfmt, Fields: field, Aggregate: &Aggregate{Window: time.Second}}, want: []string{"aggregate: an aggregate block needs a time block"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(Config{Sources: []Source{{Name: "s", Tags: tc.tags, Rules: []Rule{tc.rule}}}})
			if err == nil {
				t.Fatal("Compile succeeded, want errors")
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				re := e.(*RuleError)
				got = append(got, re.Part+": "+re.Err.Error())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors %q, want %d like %q", len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("error %d = %q, want prefix %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestSeparateValuesInfluxDBMerges: tag values that line protocol writes
// alike (each odd byte becomes U+FFFD) are one series in InfluxDB, so they
// must be separated like one.
func TestSeparateValuesInfluxDBMerges(t *testing.T) {
	src := Source{Rules: []Rule{{Name: "r", Mode: Regex, Pattern: `^(?P<t>\d+) (?P<s>\S+) (?P<v>\d+)$`, Time: unixTime,
		Tags: []TagSpec{{"s", "s"}}, Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}}}}
	got, _ := run(t, src, "1 a\x01 1", "1 a\x02 2", "1 a\xfe 3", "1 a\\ 4", "1 a\uFFFD 5", "1 ab 6")
	want := []string{"r,s=a\x01 v=1i 1000000000", "r,s=a\x02 v=2i 1000000001", "r,s=a\xfe v=3i 1000000002",
		"r,s=a\\ v=4i 1000000003", "r,s=a\uFFFD v=5i 1000000004", "r,s=ab v=6i 1000000000"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("points (-want +got):\n%s", diff)
	}
}

// TestSeparateOutlier: one line dated far ahead does not make the file
// forget the times in use around it.
func TestSeparateOutlier(t *testing.T) {
	src := Source{Rules: []Rule{{Name: "r", Mode: Logfmt, Time: unixTime, Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}}}}
	var lines []string
	for i := 0; i < 16*maxSpans; i++ {
		if i == 10 {
			lines = append(lines, "t=4000000000 v=0") // the year 2096
		}
		lines = append(lines, fmt.Sprintf("t=%d v=%d", 1+i/4, i))
	}
	got, _ := run(t, src, lines...)
	seen := map[string]bool{}
	for _, p := range got {
		ts := p[strings.LastIndexByte(p, ' ')+1:]
		if seen[ts] {
			t.Fatalf("two points at %s", ts)
		}
		seen[ts] = true
	}
}

// TestSeparateBusyMinute is the review's reproduction of a forgotten busy
// second: 300,000 lines of two series in one minute of a log with minute
// resolution must give 300,000 distinct (series, time).
func TestSeparateBusyMinute(t *testing.T) {
	t.Parallel()
	// logfmt rather than the review's regex: the same points, and fast
	// enough under the race detector.
	ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{{Name: "r", Mode: Logfmt,
		Time: &Time{From: "t", Layout: "2006-01-02 15:04"},
		Tags: []TagSpec{{"status", "status"}}, Fields: []FieldSpec{{Key: "ms", From: "ms", Type: TypeInt}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300_000
	type seriesTime struct {
		status string
		t      int64
	}
	seen := make(map[seriesTime]bool, n)
	var rec pipeline.Record
	for i := range n {
		status := 200 + 300*(i%2)
		line := pipeline.Line{Origin: pipeline.Origin{Path: "f.log", Offset: int64(i)}, Source: "s",
			Text: fmt.Sprintf(`t="2025-03-10 12:30" status=%d ms=%d`, status, i), ModTime: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}
		ex.Extract(&line, &rec)
		for _, p := range rec.Points {
			seen[seriesTime{p.Tags[0].Value, p.Time}] = true
		}
	}
	r := ex.Stats().Rules[0]
	if r.Points != n || len(seen) != n {
		t.Errorf("%d points, %d distinct (series, time); want %d of each", r.Points, len(seen), n)
	}
	if r.Displaced != 0 || r.TimeErrors != 0 {
		t.Errorf("displaced %d, time errors %d; want none", r.Displaced, r.TimeErrors)
	}
}

// TestReplayRebuildsSeparation: after a restart, the lines before the
// committed offset are replayed (no points, no counts), and the lines after
// it get exactly the times an uninterrupted run gave them, also inside a
// busy second.
func TestReplayRebuildsSeparation(t *testing.T) {
	src := Source{Name: "s", Rules: []Rule{{Name: "r", Mode: Logfmt, Time: unixTime,
		Tags: []TagSpec{{"k", "k"}}, Fields: []FieldSpec{{Key: "v", From: "v", Type: TypeInt}}}}}
	var lines []pipeline.Line
	for i := range 200 {
		lines = append(lines, pipeline.Line{Origin: pipeline.Origin{Path: "f.log", Offset: int64(i + 1), File: pipeline.FileID{Ino: 7}},
			Source: "s", Text: fmt.Sprintf("t=%d k=%d v=%d", 100+i/50, i%3, i)})
	}
	extractAll := func(replayed int) ([]pipeline.Point, Stats) {
		ex, err := Compile(Config{Sources: []Source{src}})
		if err != nil {
			t.Fatal(err)
		}
		var pts []pipeline.Point
		for i, l := range lines {
			l.Replay = i < replayed
			var rec pipeline.Record
			ex.Extract(&l, &rec)
			if l.Replay && len(rec.Points) > 0 {
				t.Fatalf("replayed line %d gave points", i)
			}
			pts = append(pts, rec.Points...)
		}
		return pts, ex.Stats()
	}
	whole, _ := extractAll(0)
	for _, cut := range []int{1, 25, 49, 50, 51, 120, 199} {
		got, st := extractAll(cut)
		if diff := cmp.Diff(show(whole[cut:]), show(got)); diff != "" {
			t.Errorf("restart after line %d (-uninterrupted +replayed):\n%s", cut, diff)
		}
		if s, r := st.Sources[0], st.Rules[0]; s.Lines != uint64(200-cut) || s.Replayed != uint64(cut) || r.Taken != uint64(200-cut) || r.Points != uint64(200-cut) {
			t.Errorf("restart after line %d: lines %d, replayed %d, taken %d, points %d", cut, s.Lines, s.Replayed, r.Taken, r.Points)
		}
	}
}

// TestExtractKeepsNoText: `logmetrics test` hands Extract lines whose text
// borrows a buffer it overwrites with the next read, so nothing Extract
// leaves behind (points, samples of lines no rule took) may share the
// line's bytes.
func TestExtractKeepsNoText(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		line string
	}{
		{"regex", Rule{Name: "r", Mode: Regex, Pattern: `^(?P<t>\d+) (?P<m>\w+) (?P<s>\w+)$`, Time: unixTime,
			Tags: []TagSpec{{"method", "m"}}, Fields: []FieldSpec{{Key: "s", From: "s", Type: TypeString}}},
			"100 GET done"},
		{"json", Rule{Name: "r", Mode: JSON, Time: unixTime,
			Tags: []TagSpec{{"method", "m"}}, Fields: []FieldSpec{{Key: "s", From: "s", Type: TypeString}}},
			`{"t":100,"m":"GET","s":"done"}`},
		{"logfmt", Rule{Name: "r", Mode: Logfmt, Time: unixTime,
			Tags: []TagSpec{{"method", "m"}}, Fields: []FieldSpec{{Key: "s", From: "s", Type: TypeString}}},
			`t=100 m=GET s=done`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{tc.rule}}}})
			if err != nil {
				t.Fatal(err)
			}
			var rec pipeline.Record
			for _, text := range []string{tc.line, "taken by no rule"} {
				buf := []byte(text)
				line := pipeline.Line{Origin: pipeline.Origin{Path: "f.log"}, Source: "s", Text: unsafe.String(&buf[0], len(buf))}
				ex.Extract(&line, &rec)
				for i := range buf {
					buf[i] = 'x'
				}
				if text == tc.line {
					want := []string{"r,method=GET s=\"done\" 100000000000"}
					if diff := cmp.Diff(want, show(rec.Points)); diff != "" {
						t.Errorf("points after the line's bytes changed (-want +got):\n%s", diff)
					}
				}
			}
			if got := ex.Stats().Sources[0].Samples; len(got) != 1 || got[0].Text != "taken by no rule" {
				t.Errorf("samples after the line's bytes changed: %+v", got)
			}
		})
	}
}
