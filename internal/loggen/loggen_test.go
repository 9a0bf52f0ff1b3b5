package loggen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-logfmt/logfmt"
)

// genFunc is the shape every generator shares.
type genFunc func(w io.Writer, n int, seed uint64, start time.Time) error

var generators = []struct {
	name string
	gen  genFunc
}{
	{"nginx", Nginx},
	{"json", JSONLines},
	{"logfmt", Logfmt},
	{"syslog", Syslog},
}

var testStart = time.Date(2025, 10, 10, 13, 55, 36, 0, time.UTC)

func generate(t testing.TB, gen genFunc, n int, seed uint64, start time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gen(&buf, n, seed, start); err != nil {
		t.Fatalf("generate: %v", err)
	}
	return buf.Bytes()
}

func lines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestDeterministic(t *testing.T) {
	for _, tc := range generators {
		t.Run(tc.name, func(t *testing.T) {
			a := generate(t, tc.gen, 2000, 42, testStart)
			b := generate(t, tc.gen, 2000, 42, testStart)
			if !bytes.Equal(a, b) {
				t.Fatal("two runs with the same arguments differ")
			}
			if got := len(lines(a)); got != 2000 {
				t.Errorf("got %d lines, want 2000", got)
			}
			if !bytes.HasSuffix(a, []byte("\n")) {
				t.Error("output does not end with a newline")
			}
			if c := generate(t, tc.gen, 2000, 43, testStart); bytes.Equal(a, c) {
				t.Error("seeds 42 and 43 give the same output")
			}
			// A shorter run is a prefix of a longer one, which the corpus
			// test relies on when it regenerates committed files.
			if s := generate(t, tc.gen, 100, 42, testStart); !bytes.HasPrefix(a, s) {
				t.Error("100 lines are not a prefix of 2000 lines with the same seed")
			}
		})
	}
}

// TestGolden pins the exact output, so that any change to a generator (or to
// the random stream under it) is noticed and the committed corpus is
// regenerated on purpose. The hashes equal
// `go run ./internal/loggen/cmd/loggen -format F -n 50 -seed 1 | sha256sum`.
// After an intended change, update them here and run the corpus test with
// -update.
func TestGolden(t *testing.T) {
	want := map[string]string{
		"nginx":  "05fdf70a030e6b97febe675410c301edf3bc78f78fe3f211934ef89f10c1d14f",
		"json":   "2a95566f44bc033182223d1a9f59a6844687e00d4e4f8f284f258750b0ea1a6d",
		"logfmt": "d085c88c9121a9a5c114b294fccc6c22bb97dd72af8e74cfb067cda5429d438c",
		"syslog": "e3319fa1c42fd16283860fb0e0293ad9b83df6b5e532004db9a0e5a289bade6c",
	}
	for _, tc := range generators {
		t.Run(tc.name, func(t *testing.T) {
			out := generate(t, tc.gen, 50, 1, testStart)
			sum := sha256.Sum256(out)
			if got := hex.EncodeToString(sum[:]); got != want[tc.name] {
				t.Errorf("sha256 of 50 lines with seed 1 = %s, want %s; first lines:\n%s",
					got, want[tc.name], strings.Join(lines(out)[:3], "\n"))
			}
		})
	}
}

func TestFirstLineAtStart(t *testing.T) {
	start := time.Date(2025, 3, 7, 8, 9, 10, 0, time.FixedZone("", 2*3600))
	tests := []struct {
		name string
		gen  genFunc
		want string
	}{
		{"nginx", Nginx, "[07/Mar/2025:08:09:10 +0200]"},
		{"json", JSONLines, `{"ts":"2025-03-07T08:09:10.000+02:00",`},
		{"logfmt", Logfmt, "time=2025-03-07T08:09:10.000+02:00 "},
		{"syslog", Syslog, "Mar  7 08:09:10 "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first := lines(generate(t, tc.gen, 1, 5, start))[0]
			if !strings.Contains(first, tc.want) {
				t.Errorf("first line %q does not contain %q", first, tc.want)
			}
		})
	}
}

func TestLineCounts(t *testing.T) {
	for _, tc := range generators {
		t.Run(tc.name, func(t *testing.T) {
			if out := generate(t, tc.gen, 0, 1, testStart); len(out) != 0 {
				t.Errorf("n=0 wrote %d bytes, want none", len(out))
			}
			err := tc.gen(io.Discard, -1, 1, testStart)
			if !errors.Is(err, ErrNegativeCount) {
				t.Errorf("n=-1: got error %v, want ErrNegativeCount", err)
			}
		})
	}
}

// failWriter fails every write and counts the attempts.
type failWriter struct{ calls int }

func (f *failWriter) Write([]byte) (int, error) {
	f.calls++
	return 0, errors.New("disk full")
}

func TestWriteErrorStopsEarly(t *testing.T) {
	for _, tc := range generators {
		t.Run(tc.name, func(t *testing.T) {
			var fw failWriter
			err := tc.gen(&fw, 1_000_000, 1, testStart)
			if err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Fatalf("got error %v, want one wrapping the write error", err)
			}
			if fw.calls != 1 {
				t.Errorf("writer called %d times after failing, want 1", fw.calls)
			}
		})
	}
}

// nginxRule is the regex our rules use for nginx access logs; every generated
// line must match it.
var nginxRule = regexp.MustCompile(`^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<request_time>[\d.]+)$`)

func TestNginxMatchesRule(t *testing.T) {
	idx := func(name string) int { return nginxRule.SubexpIndex(name) }
	for _, seed := range []uint64{1, 2, 20251010} {
		var (
			prev       time.Time
			shared     int
			dashBytes  int
			statusSeen = map[byte]bool{}
			methods    = map[string]bool{}
		)
		for i, line := range lines(generate(t, Nginx, 20000, seed, testStart)) {
			m := nginxRule.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("seed %d line %d does not match the rule regex: %q", seed, i+1, line)
			}
			ts, err := time.Parse(nginxTimeLayout, m[idx("time")])
			if err != nil {
				t.Fatalf("seed %d line %d: time: %v", seed, i+1, err)
			}
			if ts.Before(prev) {
				t.Fatalf("seed %d line %d: time goes back from %v to %v", seed, i+1, prev, ts)
			}
			if ts.Equal(prev) {
				shared++
			}
			prev = ts
			rt := m[idx("request_time")]
			if dot := strings.IndexByte(rt, '.'); dot < 1 || len(rt)-dot != 4 {
				t.Fatalf("seed %d line %d: request_time %q is not seconds with 3 decimals", seed, i+1, rt)
			}
			if m[idx("bytes")] == "-" {
				dashBytes++
			}
			statusSeen[m[idx("status")][0]] = true
			methods[m[idx("method")]] = true
		}
		for _, class := range []byte("2345") {
			if !statusSeen[class] {
				t.Errorf("seed %d: no %cxx status", seed, class)
			}
		}
		if dashBytes == 0 {
			t.Errorf("seed %d: no line with \"-\" bytes", seed)
		}
		if shared < 1000 {
			t.Errorf("seed %d: only %d lines share the previous line's second", seed, shared)
		}
		for _, m := range []string{"GET", "POST", "PUT", "DELETE", "HEAD"} {
			if !methods[m] {
				t.Errorf("seed %d: no %s request", seed, m)
			}
		}
	}
}

func TestJSONLinesValid(t *testing.T) {
	var (
		prev      time.Time
		requests  int
		withoutHT int
		noUser    int
		levels    = map[string]bool{}
	)
	for i, line := range lines(generate(t, JSONLines, 20000, 7, testStart)) {
		var v struct {
			TS    time.Time `json:"ts"`
			Level string    `json:"level"`
			Msg   string    `json:"msg"`
			HTTP  *struct {
				Route  string `json:"route"`
				Method string `json:"method"`
				Status int    `json:"status"`
			} `json:"http"`
			DurationMS *float64 `json:"duration_ms"`
			Bytes      *int     `json:"bytes"`
			User       *struct {
				ID string `json:"id"`
			} `json:"user"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %d is not valid JSON of the expected shape: %v\n%s", i+1, err, line)
		}
		if v.TS.Before(prev) {
			t.Fatalf("line %d: ts goes back from %v to %v", i+1, prev, v.TS)
		}
		prev = v.TS
		if v.Level == "" || v.Msg == "" {
			t.Fatalf("line %d lacks level or msg: %s", i+1, line)
		}
		levels[v.Level] = true
		if v.HTTP == nil {
			withoutHT++
			continue
		}
		requests++
		if v.Msg != "request done" || v.HTTP.Status < 100 || v.DurationMS == nil || v.Bytes == nil {
			t.Fatalf("line %d: incomplete request line: %s", i+1, line)
		}
		if v.User == nil {
			noUser++
		}
	}
	if requests == 0 || withoutHT == 0 || noUser == 0 {
		t.Errorf("got %d request lines, %d without http, %d without user; want some of each", requests, withoutHT, noUser)
	}
	for _, l := range []string{"debug", "info", "warn", "error"} {
		if !levels[l] {
			t.Errorf("no %s line", l)
		}
	}
}

func TestLogfmtDecodes(t *testing.T) {
	out := generate(t, Logfmt, 20000, 7, testStart)
	dec := logfmt.NewDecoder(bytes.NewReader(out))
	var (
		n, escaped, emptyUser int
		units                 = map[string]bool{}
		prev                  time.Time
	)
	for dec.ScanRecord() {
		n++
		kv := map[string]string{}
		for dec.ScanKeyval() {
			kv[string(dec.Key())] = string(dec.Value())
		}
		for _, k := range []string{"time", "level", "msg"} {
			if kv[k] == "" {
				t.Fatalf("record %d has no %s: %v", n, k, kv)
			}
		}
		ts, err := time.Parse(time.RFC3339Nano, kv["time"])
		if err != nil {
			t.Fatalf("record %d: time: %v", n, err)
		}
		if ts.Before(prev) {
			t.Fatalf("record %d: time goes back", n)
		}
		prev = ts
		for _, k := range []string{"duration", "ttl", "pause", "backoff"} {
			d, ok := kv[k]
			if !ok {
				continue
			}
			if _, err := time.ParseDuration(d); err != nil {
				t.Fatalf("record %d: %s: %v", n, k, err)
			}
			units[strings.TrimLeft(d, "0123456789.")] = true
		}
		if strings.Contains(kv["query"], `"`) || strings.Contains(kv["reason"], `"`) {
			escaped++
		}
		if u, ok := kv["user"]; ok && u == "" {
			emptyUser++
		}
	}
	if err := dec.Err(); err != nil {
		t.Fatalf("logfmt decoder: %v", err)
	}
	if n != 20000 {
		t.Errorf("decoded %d records, want 20000", n)
	}
	if escaped == 0 || emptyUser == 0 {
		t.Errorf("got %d values with escaped quotes and %d empty users, want some of each", escaped, emptyUser)
	}
	for _, u := range []string{"µs", "ms", "s"} {
		if !units[u] {
			t.Errorf("no duration in %s", u)
		}
	}
}

// syslogLine is RFC 3164 as written by rsyslog's traditional file format:
// timestamp, host, tag with an optional pid, message.
var syslogLine = regexp.MustCompile(`^(?P<time>[A-Z][a-z]{2} [ 1-3]\d \d{2}:\d{2}:\d{2}) (?P<host>\S+) (?P<prog>[\w-]+)(\[(?P<pid>\d+)\])?: (?P<msg>.+)$`)

func TestSyslogCrossesNewYear(t *testing.T) {
	start := time.Date(2024, 12, 31, 23, 58, 0, 0, time.UTC)
	var dec31, jan1 int
	var prev time.Time
	progs := map[string]bool{}
	for i, line := range lines(generate(t, Syslog, 200, 3, start)) {
		m := syslogLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d is not RFC 3164: %q", i+1, line)
		}
		progs[m[syslogLine.SubexpIndex("prog")]] = true
		ts, err := time.Parse(syslogTimeLayout, m[syslogLine.SubexpIndex("time")])
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		// The year is not in the line; take it as a reader would, from a
		// file written shortly after New Year.
		year := 2025
		if ts.Month() == time.December {
			year = 2024
		}
		ts = ts.AddDate(year, 0, 0)
		if ts.Before(prev) {
			t.Fatalf("line %d: time goes back from %v to %v", i+1, prev, ts)
		}
		prev = ts
		switch {
		case strings.HasPrefix(line, "Dec 31 "):
			dec31++
		case strings.HasPrefix(line, "Jan  1 "):
			jan1++
		default:
			t.Fatalf("line %d is neither Dec 31 nor Jan 1: %q", i+1, line)
		}
	}
	if dec31 == 0 || jan1 == 0 {
		t.Errorf("got %d lines on Dec 31 and %d on Jan 1, want both", dec31, jan1)
	}
	for _, p := range []string{"sshd", "CRON", "sudo", "systemd-logind"} {
		if !progs[p] {
			t.Errorf("no %s line", p)
		}
	}
}

func TestSyslogMessages(t *testing.T) {
	out := string(generate(t, Syslog, 5000, 11, testStart))
	for _, want := range []string{
		"]: Accepted publickey for ",
		"]: Failed password for invalid user ",
		"]: Failed password for root from ",
		"]: Invalid user ",
		"CRON[",
		"]: (root) CMD (",
		"sudo:    ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no line contains %q", want)
		}
	}
}

func TestAppendHelpers(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"frac 3", string(appendFrac(nil, 13, 3)), "0.013"},
		{"frac 3 whole", string(appendFrac(nil, 60002, 3)), "60.002"},
		{"frac 1 zero", string(appendFrac(nil, 1220, 1)), "122.0"},
		{"tenths drop zero", string(appendTenths(nil, 1220)), "122"},
		{"tenths", string(appendTenths(nil, 125)), "12.5"},
		{"duration µs", string(appendDuration(nil, 3)), "300µs"},
		{"duration ms", string(appendDuration(nil, 125)), "12.5ms"},
		{"duration ms whole", string(appendDuration(nil, 2500)), "250ms"},
		{"duration s", string(appendDuration(nil, 15000)), "1.5s"},
		{"duration s whole", string(appendDuration(nil, 20000)), "2s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	// appendDuration must agree with time.Duration's own formatting.
	for d := range 30000 {
		want := (time.Duration(d) * 100 * time.Microsecond).String()
		if d >= 10000 {
			want = (time.Duration(d/1000) * 100 * time.Millisecond).String()
		}
		if d == 0 {
			continue // 0s: never generated
		}
		if got := string(appendDuration(nil, d)); got != want {
			t.Fatalf("appendDuration(%d) = %q, want %q", d, got, want)
		}
	}
}
