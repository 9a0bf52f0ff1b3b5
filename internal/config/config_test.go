package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
	"github.com/logmetrics/logmetrics/tailer"
)

var update = flag.Bool("update", false, "rewrite the golden .diag files")

// caseEnv is the environment every case file sees: INFLUX_TOKEN set,
// LOGMETRICS_TEST_UNSET not.
func caseEnv(t *testing.T) {
	t.Helper()
	t.Setenv("INFLUX_TOKEN", "secret")
	t.Setenv("LOGMETRICS_TEST_UNSET", "")
	os.Unsetenv("LOGMETRICS_TEST_UNSET") // t.Setenv restores it afterwards
}

// render prints diags the way `logmetrics check` does, at a fixed width.
func render(t *testing.T, files map[string]*hcl.File, diags hcl.Diagnostics) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteDiagnostics(&b, files, diags, 80); err != nil {
		t.Fatalf("WriteDiagnostics: %v", err)
	}
	return b.String()
}

// checkGolden compares got with the file next to the case, or rewrites it
// under -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/config -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("diagnostics differ from %s (-want +got):\n%s", path, diff)
	}
}

func cases(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", dir, "*.hcl"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no cases in testdata/%s: %v", dir, err)
	}
	return names
}

// TestLoadGood loads every good case: no errors, and warnings as in the
// golden file (an empty file when there are none).
func TestLoadGood(t *testing.T) {
	caseEnv(t)
	for _, path := range cases(t, "good") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cfg, files, diags := Load(path)
			if diags.HasErrors() || cfg == nil {
				t.Fatalf("want no errors, got:\n%s", render(t, files, diags))
			}
			checkGolden(t, strings.TrimSuffix(path, ".hcl")+".diag", render(t, files, diags))
		})
	}
}

// TestLoadBad loads every bad case: the rendered diagnostics must match the
// golden file, and there must be an error among them.
func TestLoadBad(t *testing.T) {
	caseEnv(t)
	for _, path := range cases(t, "bad") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cfg, files, diags := Load(path)
			if !diags.HasErrors() {
				t.Errorf("want errors, got none")
			}
			if cfg != nil {
				t.Errorf("want a nil Config along with errors")
			}
			checkGolden(t, strings.TrimSuffix(path, ".hcl")+".diag", render(t, files, diags))
		})
	}
}

func abs(t *testing.T, path string) string {
	t.Helper()
	p, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	caseEnv(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	good := abs(t, filepath.Join("testdata", "good"))
	nginxTime := &extract.Time{From: "time", Layout: "02/Jan/2006:15:04:05 -0700"}
	tests := []struct {
		name string
		path string
		want *Config
	}{
		{
			name: "contract",
			path: "testdata/good/contract.hcl",
			want: &Config{
				Agent: Agent{
					StateDir: "/var/lib/logmetrics",
					Listen:   "127.0.0.1:9275",
					Tags:     []pipeline.Tag{{Key: "host", Value: host}},
					// Set in the file: not the default.
					UnhealthyAfter: 2 * time.Minute,
				},
				InfluxDB: &InfluxDB{
					Sink: sink.Config{
						URL: "http://127.0.0.1:8086", Token: "secret", Org: "example", Bucket: "logs",
						BatchSize: 5000, FlushInterval: time.Second, Timeout: 10 * time.Second,
						DeadLetterPath: "/var/lib/logmetrics/dead-letters.lp", DeadLetterMaxBytes: 16 << 20,
					},
					MaxPending: 100000,
				},
				Tailer: tailer.Config{Sources: []tailer.Source{
					{Name: "nginx", Paths: []string{"/var/log/nginx/access.log", "/var/log/nginx/*/access.log"}, Exclude: []string{"*.gz"}},
					{Name: "app", Paths: []string{"/srv/app/logs/*.jsonl"}},
				}, StateDir: "/var/lib/logmetrics"},
				Extract: extract.Config{Sources: []extract.Source{
					{
						Name: "nginx",
						Tags: []pipeline.Tag{{Key: "host", Value: host}, {Key: "service", Value: "shop"}},
						Rules: []extract.Rule{
							{
								Name: "nginx_requests", Measurement: "nginx_requests", Mode: extract.Regex,
								Pattern: `^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<request_time>[\d.]+)$`,
								Time:    nginxTime,
								Tags:    []extract.TagSpec{{Key: "method", From: "method"}, {Key: "status", From: "status"}},
								Fields: []extract.FieldSpec{
									{Key: "bytes", From: "bytes", Type: extract.TypeInt},
									{Key: "request_time", From: "request_time", Type: extract.TypeFloat},
								},
							},
							{
								Name: "nginx_traffic", Measurement: "nginx_traffic", Mode: extract.Regex,
								Pattern: `\[(?P<time>[^\]]+)\] "[^"]*" (?P<status>\d)\d\d (?P<bytes>\d+|-) .* (?P<request_time>[\d.]+)$`,
								Time:    &extract.Time{From: "time", Layout: "%d/%b/%Y:%H:%M:%S %z"},
								Tags:    []extract.TagSpec{{Key: "status_class", From: "status"}},
								Fields: []extract.FieldSpec{
									{Key: "bytes", From: "bytes", Type: extract.TypeInt},
									{Key: "request_time", From: "request_time", Type: extract.TypeFloat},
								},
								Aggregate: &extract.Aggregate{
									Window:    10 * time.Second,
									Stats:     []string{"count", "sum", "max", "p50", "p99"},
									MaxSeries: 10000,
								},
							},
						},
					},
					{
						Name: "app",
						Tags: []pipeline.Tag{{Key: "host", Value: host}},
						Rules: []extract.Rule{{
							Name: "app_requests", Measurement: "app_requests", Mode: extract.JSON,
							Time: &extract.Time{From: "ts", Layout: "rfc3339"},
							Tags: []extract.TagSpec{
								{Key: "route", From: "http.route"},
								{Key: "method", From: "http.method"},
								{Key: "status", From: "http.status"},
							},
							Fields: []extract.FieldSpec{
								{Key: "duration_seconds", From: "duration_ms", Type: extract.TypeFloat, Scale: 0.001},
								{Key: "bytes", From: "bytes", Type: extract.TypeInt},
							},
						}},
					},
				}},
			},
		},
		{
			name: "minimal",
			path: "testdata/good/minimal.hcl",
			want: &Config{
				Agent: Agent{StateDir: DefaultStateDir, Listen: DefaultListen, UnhealthyAfter: DefaultUnhealthyAfter},
				Tailer: tailer.Config{Sources: []tailer.Source{{
					Name:    "app",
					Paths:   []string{filepath.Join(good, "logs/app.log")},
					Exclude: []string{"*.gz", filepath.Join(good, "logs/old/*")},
					StartAt: tailer.StartAtBeginning,
				}}, StateDir: DefaultStateDir},
				Extract: extract.Config{Sources: []extract.Source{{
					Name: "app",
					Rules: []extract.Rule{{
						Name: "app_lines", Measurement: "lines", Mode: extract.Logfmt,
						Require: []extract.Require{
							{Name: "level", Op: extract.NotEquals, Value: "debug"},
							{Name: "msg", Op: extract.Matches, Value: "^request"},
						},
						Fields: []extract.FieldSpec{
							{Key: "ok", From: "ok", Type: extract.TypeBool},
							{Key: "duration", From: "duration", Type: extract.TypeDuration},
							{Key: "size", From: "bytes", Type: extract.TypeUint},
						},
					}},
				}}},
				Untimed: []UntimedRule{{Source: "app", Rule: "app_lines", Range: hcl.Range{
					Filename: "testdata/good/minimal.hcl",
					Start:    hcl.Pos{Line: 6, Column: 3, Byte: 209}, End: hcl.Pos{Line: 6, Column: 19, Byte: 225},
				}}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, files, diags := Load(tc.path)
			if diags.HasErrors() {
				t.Fatalf("unexpected errors:\n%s", render(t, files, diags))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Load(%s) mismatch (-want +got):\n%s", tc.path, diff)
			}
		})
	}
}

// TestLoadExample keeps rules.hcl.example valid, and keeps it true to the
// sample logs it points at: every source finds files, and every rule takes
// lines of them with good timestamps.
func TestLoadExample(t *testing.T) {
	t.Setenv("INFLUX_TOKEN", "secret")
	path := filepath.Join("..", "..", "rules.hcl.example")
	cfg, files, diags := Load(path)
	if diags.HasErrors() {
		t.Fatalf("want no errors, got:\n%s", render(t, files, diags))
	}
	ex, err := extract.Compile(cfg.Extract)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	for _, src := range cfg.Tailer.Sources {
		var names []string
		for _, p := range src.Paths {
			m, err := doublestar.FilepathGlob(p)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, m...)
		}
		if len(names) == 0 {
			t.Errorf("source %q: no file matches %q", src.Name, src.Paths)
		}
		for _, name := range names {
			extractFile(t, ex, src, name)
		}
	}
	stats := ex.Stats()
	for _, r := range stats.Rules {
		if r.Taken == 0 || r.TimeErrors > 0 {
			t.Errorf("rule %q: want lines taken and no time errors, got %+v", r.Rule, r)
		}
	}
	// A multiline source's rules take every record: a stack trace's lines
	// are part of their event's record, not lines of their own.
	for _, src := range cfg.Tailer.Sources {
		if src.Multiline == nil {
			continue
		}
		for _, s := range stats.Sources {
			if s.Source == src.Name && (s.Lines == 0 || s.Unmatched > 0) {
				t.Errorf("multiline source %q: %d records, %d taken by no rule, such as %+v", s.Source, s.Lines, s.Unmatched, s.Samples)
			}
		}
	}
}

// extractFile feeds the lines of one file of src through ex, joined into
// records as the tailer does when src has a multiline block.
func extractFile(t *testing.T, ex *extract.Extractor, src tailer.Source, name string) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	var rec pipeline.Record
	extractLine := func(l pipeline.Line) error {
		ex.Extract(&l, &rec)
		return nil
	}
	emit := extractLine
	var j *tailer.Joiner
	if src.Multiline != nil {
		j = tailer.NewJoiner(src.Multiline, 0, false)
		emit = func(l pipeline.Line) error { return j.Add(l, extractLine) }
	}
	for text := range strings.Lines(string(data)) {
		_ = emit(pipeline.Line{
			Origin: pipeline.Origin{Path: name}, Source: src.Name,
			Text: strings.TrimSuffix(text, "\n"), ReadAt: time.Now(), ModTime: fi.ModTime(),
		})
	}
	if j != nil {
		_ = j.Flush(extractLine)
	}
}

// FuzzLoad: no input makes Load or the printer panic, and a Config comes
// back exactly when there are no errors.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		names, _ := filepath.Glob(filepath.Join("testdata", dir, "*.hcl"))
		for _, name := range names {
			src, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, files, diags := LoadBytes("testdata/fuzz.hcl", src)
		if (cfg == nil) != diags.HasErrors() {
			t.Fatalf("Config %v with errors %v", cfg != nil, diags.HasErrors())
		}
		var b bytes.Buffer
		if err := WriteDiagnostics(&b, files, diags, 80); err != nil {
			t.Fatalf("WriteDiagnostics: %v", err)
		}
	})
}

// TestWriteDiagnosticsLimit: past maxPrinted, the rest is only counted.
func TestWriteDiagnosticsLimit(t *testing.T) {
	var diags hcl.Diagnostics
	for i := range maxPrinted + 3 {
		sev := hcl.DiagError
		if i == maxPrinted+2 {
			sev = hcl.DiagWarning
		}
		diags = append(diags, &hcl.Diagnostic{Severity: sev, Summary: "Problem", Detail: "Fix it."})
	}
	out := render(t, nil, diags)
	if got := strings.Count(out, "Problem"); got != maxPrinted {
		t.Errorf("printed %d diagnostics, want %d", got, maxPrinted)
	}
	const want = "... and 2 more errors and 1 more warnings, not shown; fix the ones above first.\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("output ends with %q, want %q", out[max(0, len(out)-100):], want)
	}
}

// TestWriteDiagnosticsKeepsPoints: a detail's prose wraps, but the points
// of a failing example stay one line each, to be copied into expect as they
// are; the diagnostic itself is left unchanged.
func TestWriteDiagnosticsKeepsPoints(t *testing.T) {
	point := `nginx_requests,method=GET,route=/api/items/:id,status=200 bytes=512i,request_time=0.013,agent="curl 8" 1760104536000000000`
	prose := strings.Repeat("The rule makes other points of the line than expect says it must. ", 3)
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Example fails",
		Detail: prose + "\n  tag host: missing (want \"a long value that runs past the width of eighty columns of the terminal\")\nIt makes:\n  " + point}
	detail := d.Detail
	out := render(t, nil, hcl.Diagnostics{d})
	if !strings.Contains(out, "\n  "+point+"\n") {
		t.Errorf("the point is not one line of the output:\n%s", out)
	}
	if !strings.Contains(out, `  tag host: missing (want "a long value that runs past the width of eighty columns of the terminal")`) {
		t.Errorf("a difference is cut:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "The rule") && len(line) > 80 {
			t.Errorf("prose not wrapped at 80: %q", line)
		}
	}
	if d.Detail != detail {
		t.Errorf("WriteDiagnostics changed the diagnostic's detail")
	}
}

// TestHeredocLineEndings: a rules file saved with CRLF line endings must
// give the same regex as one with LF; a leftover "\r" would match nothing.
func TestHeredocLineEndings(t *testing.T) {
	cfg, files, diags := Load("testdata/good/crlf.hcl")
	if diags.HasErrors() {
		t.Fatalf("crlf.hcl:\n%s", render(t, files, diags))
	}
	if got, want := cfg.Extract.Sources[0].Rules[0].Pattern, `^(?P<v>\d+)$`; got != want {
		t.Errorf("pattern = %q, want %q", got, want)
	}
}
