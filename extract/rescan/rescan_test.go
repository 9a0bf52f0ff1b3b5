package rescan

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// nginxPattern is the combined log pattern of the benchmarks and of
// rules.hcl.example.
const nginxPattern = `^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<request_time>[\d.]+)$`

// seedPatterns are log-shaped patterns: the repository's (see
// TestSeedPatternsCoverRepo) and shapes the scanner must get right.
var seedPatterns = []string{
	nginxPattern,
	`\[(?P<time>[^\]]+)\] "[^"]*" (?P<status>\d)\d\d (?P<bytes>\d+|-) .* (?P<request_time>[\d.]+)$`,
	`\[(?P<time>[^\]]+)\] "[^"]*" (?P<status>\d)\d\d (?P<bytes>\d+|-) (?P<request_time>[\d.]+)$`,
	`^(?P<time>\w{3} +\d{1,2} \d\d:\d\d:\d\d) (?P<host>\S+) sshd\[\d+\]: (?P<result>Accepted|Failed) (?P<method>\S+) for (?:invalid user )?(?P<user>\S+) from (?P<ip>\S+) port (?P<port>\d+)`,
	`^(?P<time>\w{3} +\d{1,2} \d\d:\d\d:\d\d) \S+ sshd\[\d+\]: Accepted \S+ for (?P<user>\S+)`,
	`^(?P<a>\d+)`,
	`^(?P<time>\d{3} \S+) v=(?P<v>\d+)$`,
	`^GO (?P<time>\d{3} \S+) v=(?P<v>\d+)$`,
	`^(?P<time>\d{4}-\S+) v=(?P<v>\d+)$`,
	`^ns (?P<time>\S+) v=(?P<v>\d+)$`,
	`^(?P<time>\w{3} [ \d]\d \S+) v=(?P<v>\d+)$`,
	`^(?P<level>[A-Z]+) (?P<n>\d+)`,
	`^(?P<time>\S+) v=(?P<v>\d+)$`,
	`^BER (?P<time>\S+) v=(?P<v>\d+)$`,
	`^LA (?P<time>.+) v=(?P<v>\d+)$`,
	`^BER (?P<time>.+) v=(?P<v>\d+)$`,
	`^CCU (?P<time>.+) v=(?P<v>\d+)$`,
	`^CCU-SYSLOG (?P<time>.+) v=(?P<v>\d+)$`,
	`^SYD (?P<time>.+) v=(?P<v>\d+)$`,
	`^n=(?P<n>\d+)$`,
	`^(?P<level>\w+) n=(?P<n>\d+)$`,
	`debug`,
	`^(?P<ts>\S+) n=(?P<n>\d+)$`,
	`n=(?P<n>\d+)`,
	`^request`,
	`^(?P<v>\d+)$   `,
	`^/healthz`,
	`^(?:ab)+ (?P<v>\d+)(?: [a-z]{0,300})?$`, // regexp's: a repeated group
	`^(?P<n>\d+)`,
	`(?P<n>\d+)`,
	`^/api/`,
	`(?i)health`,
	`^(200|304)$`,
	`^(?P<t>\S*) (?P<k>\S*) (?P<i>\S*) (?P<u>\S*) (?P<f>\S*) (?P<b>\S*) (?P<d>\S*) (?P<s>.*)$`,
	// Alternation, counted repeats, optional groups, unanchored, lazy.
	`(a|ab)(c|bcd)(d*)`,
	`^(?:(GET|POST)|(PUT)) (\S+)?`,
	`x{2,4}(x?)(y{0,2})z`,
	`(?P<k>\w+)=(?P<v>"[^"]*"|\S*)`,
	`^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$`,
	`(.*?)=(.*)`,
	`a.*?b.*c`,
	`(?m)^(\w+)$`,
	`(?s)a.b`,
	`é+(ü|\x{FFFD})`,
	`(?i)ſk+`,
	`^$`,
	``,
	`a|`,
	`(a)?(b)?c`,
	`(?:(a)|b)*`, // a repeated group: regexp's
	`\bword\b`,   // word boundary: regexp's
	`[^\x00-\x{10FFFF}]`,
	// Unanchored, led by an unbounded repeat (skipped over), with a
	// literal every match holds (the needle).
	`\pL+!`,
	`(?P<k>\pL+)=(?P<n>\d+)`,
	`(\S+)@(\S+)`,
	`(\pL*)[^\pL]?x`,
	// tag rewrites' test rules (internal/config, extract/testdata/cases)
	"^(?P<t>\\d+) (?P<method>[A-Z]+) (?P<path>\\S+) (?P<ms>\\d+)$",
	"\\?.*$",
	"/[0-9]+",
	"^/static/(?P<name>[^.]+)\\.[0-9a-f]{4,}\\.(?P<ext>[a-z]+)$",
	"^/$",
	"^(?P<time>\\S+) (?P<method>[A-Z]+) (?P<path>\\S+) (?P<bytes>\\d+)$",
	"^/(v[0-9]+)/(?P<rest>.*)$",
	"x",
	"[0-9]",
	"^(?P<time>\\S+) (?P<n>\\d+)$",
	"Z$",
	"^(?P<verb>GET|HEAD)$",
	// the multiline samples' rules (testdata/multiline): see also
	// TestMultilineRecords
	`(?s)^(?P<time>\S+ \S+) (?P<level>[A-Z]+) (?P<message>[^\n]*)\n(?P<exception>[\w.]+Exception)`,
	`^\[(?P<time>[^\]]+)\] (?P<level>[A-Z]+) (?P<message>[^\n]*)`,
	`(?s)^\[(?P<time>[^\]]+)\] (?P<level>[A-Z]+) .*?\n(?P<exception>[\w.$]+(?:Exception|Error)): (?P<reason>[^\n]*)\n\tat\s`,
	`^\[(?P<time>[^\]]+)\] (?P<env>\w+)\.(?P<level>[A-Z]+): (?P<message>[^\n]*)`,
	`(?s)^\[task (?P<time>[^\]]+)\] \S+ +(?P<level>[A-Z]+) - Traceback \(most recent call last\):\n.*  File "(?P<file>[^"]+)", line (?P<line>\d+)`,
	`^\[task (?P<time>[^\]]+)\] \S+ +(?P<level>[A-Z]+) - (?P<message>[^\n]*)`,
	`(?s)^# Time: (?P<time>\S+)\n# User@Host: (?P<user>\w+)\[.*?# Schema: (?P<schema>\w+).*?# Query_time: (?P<query_time>[\d.]+)\s+Lock_time: (?P<lock_time>[\d.]+)\s+Rows_sent: (?P<rows_sent>\d+)\s+Rows_examined: (?P<rows_examined>\d+)`,
	// rules.hcl.example's kafka source
	`^\[(?P<time>[^\]]+)\] (?P<level>[A-Z]+) (?P<message>[^\n]*) \((?P<logger>[\w.$]+)\)(?:\n|$)`,
	`(?s)^\[(?P<time>[^\]]+)\] (?P<level>[A-Z]+) .*?(?P<exception>(?:[a-z]\w*\.)+[A-Z][\w$]*(?:Exception|Error)): (?P<reason>[^\n]*?)(?: \([\w.$]+\))?(?:\n|$)`,
	// internal/config's rewrite cases: a control character refused in
	// replace, a regex that only matches an empty value
	`[?&]`,
	`^(?P<time>\S+) (?P<method>[A-Z]+) (?P<path>\S*) (?P<bytes>\d+)$`,
	`^`,
	`^(?P<n>\d+)$`,
}

var seedLines = []string{
	`192.0.2.146 - - [10/Oct/2025:13:55:37 +0000] "GET /static/js/app.3f9c2e1a.js HTTP/2.0" 200 111861 "https://shop.example.com/" "Mozilla/5.0 (Linux; Android 14; Pixel 8)" 0.005`,
	`192.0.2.94 - - [10/Oct/2025:13:55:36 +0000] "GET /healthz HTTP/1.1" 200 - "-" "kube-probe/1.29" 0.000`,
	`192.0.2.94 - - [10/Oct/2025:13:55:36 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29" 0.000 `,
	`Oct  1 08:01:02 web1 sshd[123]: Failed password for invalid user admin from 10.0.0.1 port 22 ssh2`,
	`Oct 10 08:01:02 web1 sshd[123]: Accepted publickey for invalid user from 10.0.0.1 port 22`,
	`123 12:00:00 v=42`, `ns 1760104536000000000 v=7`, `LA Oct 10 13:55:36 PDT v=1`,
	`ERROR 42 things`, `k=v a="b c" d= e`, `abcd`, `abcbcd`, `xxxxxyz`, `10.0.0.255`, `1.2.3`,
	"line one\nline two", "a\nb", `é ü`, "éé\xff", "\xffk\xe2\x84\xaaK", `/api/v1`, `HEALTH`, `304`,
	"", "a", "aab", "word words", "a\xc3", "\xc3\xa9\xc3", strings.Repeat("x", 300) + "y",
	"用户登录成功 n=5 日本!", "a@b c@", "日\xff本=1 é!",
}

// check compares the scanner with regexp on one line. Unknown is allowed:
// the caller then asks regexp.
func check(t *testing.T, re *regexp.Regexp, s *Scanner, line string) Result {
	t.Helper()
	want := re.FindStringSubmatchIndex(line)
	loc := make([]int, s.NumLoc()+3) // room to spare: Match must not depend on len
	got := s.Match(line, loc)
	switch got {
	case Matched:
		if !slices.Equal(want, loc[:s.NumLoc()]) {
			t.Fatalf("pattern %q on %q: scanner %v, regexp %v", re, line, loc[:s.NumLoc()], want)
		}
	case NoMatch:
		if want != nil {
			t.Fatalf("pattern %q on %q: scanner no match, regexp %v", re, line, want)
		}
	}
	return got
}

// FuzzScannerMatchesRegexp holds the scanner to regexp on arbitrary lines
// for every seed pattern it takes.
func FuzzScannerMatchesRegexp(f *testing.F) {
	for _, l := range seedLines {
		f.Add(l)
	}
	type pair struct {
		re *regexp.Regexp
		s  *Scanner
	}
	var pairs []pair
	for _, p := range seedPatterns {
		if s := Compile(p); s != nil {
			pairs = append(pairs, pair{regexp.MustCompile(p), s})
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, p := range pairs {
			check(t, p.re, p.s, line)
		}
	})
}

// FuzzScannerPattern varies the pattern too: whenever both compile, the
// scanner must agree with regexp.
func FuzzScannerPattern(f *testing.F) {
	for i, p := range seedPatterns {
		f.Add(p, seedLines[i%len(seedLines)])
		f.Add(p, seedLines[0])
	}
	f.Fuzz(func(t *testing.T, pattern, line string) {
		s := Compile(pattern)
		if s == nil {
			return
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			t.Fatalf("scanner compiled %q, which regexp refuses: %v", pattern, err)
		}
		if s.NumLoc() != 2*(re.NumSubexp()+1) {
			t.Fatalf("pattern %q: NumLoc %d, regexp has %d groups", pattern, s.NumLoc(), re.NumSubexp())
		}
		check(t, re, s, line)
	})
}

// TestSeedPatternsCoverRepo keeps the fuzz seeds honest: every regex of the
// repository's rule files is one of them.
func TestSeedPatternsCoverRepo(t *testing.T) {
	files := []string{"../../rules.hcl.example"}
	for _, glob := range []string{"../testdata/cases/*/rules.hcl", "../../internal/config/testdata/*/*.hcl", "../../testdata/multiline/*.hcl"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d rule files; has the layout moved?", len(files))
	}
	quoted := regexp.MustCompile(`(?m)^\s*(?:not_)?regex\s*=\s*"((?:[^"\\]|\\.)*)"`)
	heredoc := regexp.MustCompile(`(?m)^\s*regex\s*=\s*<<-EOT\n\s*(.*)\n`)
	found := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var pats []string
		for _, m := range quoted.FindAllStringSubmatch(string(b), -1) {
			pats = append(pats, strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(m[1]))
		}
		for _, m := range heredoc.FindAllStringSubmatch(string(b), -1) {
			pats = append(pats, m[1])
		}
		for _, p := range pats {
			found++
			if _, err := regexp.Compile(p); err != nil {
				continue // a file of bad examples
			}
			if !slices.Contains(seedPatterns, p) && !slices.Contains(seedPatterns, "(?i)"+p) {
				t.Errorf("%s: regex %q is not among the fuzz seeds", file, p)
			}
		}
	}
	if found < 20 {
		t.Errorf("found only %d regexes in the rule files", found)
	}
}

func TestShapes(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		ok      bool
	}{
		{nginxPattern, true},
		{`a|b|`, true},
		{`(?i)GET`, true},
		{`x{2,5}?y`, true},
		{`(?m)^a$`, true},
		{`(?:ab)?c`, true},
		{`(ab)+`, false},
		{`(?:a|b)*`, true}, // Simplify makes it a class
		{`(?:ab|cd)*`, false},
		{`\bx`, false},
		{`\Bx`, false},
		{`(`, false},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			if got := Compile(tc.pattern) != nil; got != tc.ok {
				t.Errorf("Compile(%q) != nil is %v, want %v", tc.pattern, got, tc.ok)
			}
		})
	}
}

// TestNginxAnswers checks that the nginx pattern is answered without
// regexp, matching or not: its repeats are possessive, so a line that does
// not match fails at once instead of running out of budget.
func TestNginxAnswers(t *testing.T) {
	s := Compile(nginxPattern)
	re := regexp.MustCompile(nginxPattern)
	// \S+ before a space, [^\]]+ before ], [^"]* before ", \d+ before a
	// space, [\d.]+ before $: all but the path's \S+ (followed by [^"]*,
	// which overlaps it) cannot gain by giving back.
	possessive, other := 0, 0
	for n := s.start; n.kind != kEnd; n = n.next {
		if n.kind == kAlt {
			n = n.alts[0]
		}
		if n.kind == kClass && n.min != n.max {
			if n.possessive {
				possessive++
			} else {
				other++
			}
		}
	}
	if possessive != 10 || other != 1 {
		t.Errorf("%d possessive repeats and %d others, want 10 and 1", possessive, other)
	}
	long := seedLines[0]
	for i := range len(long) + 1 {
		line := long[:i]
		if got := check(t, re, s, line); got == Unknown {
			t.Errorf("%q: Unknown", line)
		}
		line = long[:i] + "\x00" + long[min(i+1, len(long)):]
		if got := check(t, re, s, line); got == Unknown {
			t.Errorf("%q: Unknown", line)
		}
	}
}

// TestBudget drives a pattern that backtracks quadratically past the budget:
// the answer is Unknown, never a wrong no-match, and is found quickly.
func TestBudget(t *testing.T) {
	s := Compile(`^(\S*)(\S*)(\S*)x$`)
	line := strings.Repeat("a", 2000)
	if got := s.Match(line, make([]int, s.NumLoc())); got != Unknown {
		t.Errorf("got %v, want Unknown", got)
	}
	re := regexp.MustCompile(`^(\S*)(\S*)(\S*)x$`)
	for _, l := range []string{"aaax", "aaa", "x"} {
		if got := check(t, re, s, l); got == Unknown {
			t.Errorf("%q: Unknown on a short line", l)
		}
	}
}

// TestBudgetShapes drives exponential shapes over long lines: each answer
// is regexp's or Unknown, in time linear in the line.
func TestBudgetShapes(t *testing.T) {
	pats := []string{
		strings.Repeat("(a?)", 25) + strings.Repeat("a", 25),
		strings.Repeat("a?", 25) + strings.Repeat("a", 25) + "$",
		strings.Repeat("(?:a|aa)?", 30) + "b",
		strings.Repeat("(a*?)", 20) + "b$",
		`(.*)(.*)(.*)(.*)(.*)(.*)x`,
		`^(.*?,){11}P`,
	}
	lines := []string{
		strings.Repeat("a", 25), strings.Repeat("a", 24) + "b", strings.Repeat("a", 2000),
		strings.Repeat("a", 2000) + "b", strings.Repeat("日本", 700), strings.Repeat("a,", 1000) + "P",
		strings.Repeat("\xff", 1000) + "x",
	}
	for _, p := range pats {
		s := Compile(p)
		if s == nil {
			continue
		}
		re := regexp.MustCompile(p)
		for _, l := range lines {
			check(t, re, s, l)
			if sc, rt := race(s, re, l, 3, 1); sc > 4*rt+time.Millisecond {
				t.Errorf("%q on %d bytes: scanner %v, regexp %v (%.1fx)", p, len(l), sc, rt, float64(sc)/float64(rt))
			}
		}
	}
}

// TestGivesBack checks patterns that need backtracking get an answer, not a
// fallback: `.* (\d+)$` gives back to the last space.
func TestGivesBack(t *testing.T) {
	for _, tc := range []struct{ pattern, line string }{
		{seedPatterns[1], `[10/Oct/2025:13:55:36 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8" 0.004`},
		{`(a|ab)(c|bcd)(d*)`, "abcd"},
		{`(.*?)=(.*)`, "a=b=c"},
		{`é+(ü|\x{FFFD})`, "ééé\xff"},
	} {
		s := Compile(tc.pattern)
		if got := check(t, regexp.MustCompile(tc.pattern), s, tc.line); got != Matched {
			t.Errorf("%q on %q: %v, want Matched", tc.pattern, tc.line, got)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	s := Compile(nginxPattern)
	loc := make([]int, s.NumLoc())
	if a := testing.AllocsPerRun(100, func() { s.Match(seedLines[0], loc) }); a != 0 {
		t.Errorf("%v allocations per Match", a)
	}
}

// BenchmarkWide matches a line of CJK text against \pL, a class of
// hundreds of ranges.
func BenchmarkWide(b *testing.B) {
	const pattern = `^msg=(\pL+) n=(\d+)$`
	line := "msg=" + strings.Repeat("日本語のログ", 200) + " n=5"
	s := Compile(pattern)
	re := regexp.MustCompile(pattern)
	loc := make([]int, s.NumLoc())
	b.Run("scanner", func(b *testing.B) {
		for b.Loop() {
			if s.Match(line, loc) != Matched {
				b.Fatal("no match")
			}
		}
	})
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			re.FindStringSubmatchIndex(line)
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	s := Compile(nginxPattern)
	re := regexp.MustCompile(nginxPattern)
	loc := make([]int, s.NumLoc())
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Match(seedLines[0], loc)
		}
	})
	b.Run("regexp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			re.FindStringSubmatchIndex(seedLines[0])
		}
	})
}

// TestCompileBounded compiles a pattern whose optional parts branch: x*
// then four groups of k optional runes. cannotFollow's walk from x* has
// k^4 paths within its depth bound; bounded in work too, it compiles in
// about regexp.Compile's time (k=80 took 6 s before).
func TestCompileBounded(t *testing.T) {
	var alts []string
	for i := range 80 {
		alts = append(alts, fmt.Sprintf(`\x{%x}?`, 0x100+i))
	}
	p := "x*" + strings.Repeat("(?:"+strings.Join(alts, "|")+")", 4) + "y"
	start := time.Now()
	regexp.MustCompile(p)
	rt := time.Since(start)
	start = time.Now()
	s := Compile(p)
	if ct := time.Since(start); ct > 10*rt+50*time.Millisecond {
		t.Errorf("Compile of a %d-byte pattern took %v, regexp.Compile %v", len(p), ct, rt)
	}
	if s == nil || s.start.kind != kClass || s.start.possessive {
		t.Errorf("x* should be compiled, and not possessive (the walk gave up)")
	}
	check(t, regexp.MustCompile(p), s, "xx\u0100y")
}

// TestHasWide holds the binary search of a class's ranges to a walk over
// them, for classes of one range to \pL's hundreds.
func TestHasWide(t *testing.T) {
	for _, p := range []string{`\pL`, `\p{Han}`, `[^a]`, `(?i)k`, `[é-ü\x{3000}]`, `[^\x00-\x{10FFFF}]`, `\PL`} {
		re, err := syntax.Parse(p, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		re = re.Simplify()
		ranges := re.Rune
		if re.Op == syntax.OpLiteral {
			ranges = runeClass(re).wide // (?i)k: the Kelvin sign
		}
		c := runeClass(re)
		var runes []rune // each range's edges, and a sample of the rest
		for i := range ranges {
			runes = append(runes, ranges[i]-1, ranges[i], ranges[i]+1)
		}
		for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r += 61 {
			runes = append(runes, r)
		}
		for _, r := range append(runes, unicode.MaxRune) {
			if r < utf8.RuneSelf || r > unicode.MaxRune {
				continue
			}
			want := false
			for i := 0; i+1 < len(ranges); i += 2 {
				want = want || ranges[i] <= r && r <= ranges[i+1]
			}
			if got := c.has(r); got != want {
				t.Fatalf("%s: has(%U) = %v, want %v", p, r, got, want)
			}
		}
	}
}

// TestUnanchoredAnswers checks that unanchored patterns led by a repeat
// answer long lines that do not match without running out of budget (and
// then leaving the line to regexp): a line without the needle at once, and
// one with it by skipping the leading repeat's runs.
func TestUnanchoredAnswers(t *testing.T) {
	cjk := strings.Repeat("日本", 3000)
	for _, tc := range []struct{ pattern, line string }{
		{`(\S+)@(\S+)`, "token " + strings.Repeat("x", 150)},
		{`(\S+)@(\S+)`, "token " + strings.Repeat("x", 4000) + "@"},
		{`(?P<k>\w+)=(?P<n>\d+)`, strings.Repeat("QUJDREVGR0g", 400) + "="},
		{`\pL+!`, cjk},
		{`\pL+!`, cjk + " !"},
		{`(?P<k>\pL+)=(?P<n>\d+)`, cjk + "=x " + cjk + "=4"},
	} {
		re := regexp.MustCompile(tc.pattern)
		if got := check(t, re, Compile(tc.pattern), tc.line); got == Unknown {
			t.Errorf("%q on %d bytes: Unknown", tc.pattern, len(tc.line))
		}
	}
}

// race times the scanner and regexp on line: per match, the best of rounds
// interleaved rounds of n matches each, as the machine is shared (a
// wall-clock bound alone failed under -race on a loaded machine). Tests
// compare the two with a wide margin: they guard against a pathology, not a
// speed target.
func race(s *Scanner, re *regexp.Regexp, line string, rounds, n int) (sc, rt time.Duration) {
	loc := make([]int, s.NumLoc())
	sc, rt = 1<<62, 1<<62
	for range rounds {
		start := time.Now()
		for range n {
			s.Match(line, loc)
		}
		sc = min(sc, time.Since(start)/time.Duration(n))
		start = time.Now()
		for range n {
			re.FindStringSubmatchIndex(line)
		}
		rt = min(rt, time.Since(start)/time.Duration(n))
	}
	return sc, rt
}

// TestWideTime compares the scanner with regexp on CJK lines against \pL,
// where a wide rune's class check used to cost ~250 ns (a walk over \pL's
// ranges) against one budget step: the scanner took 10 to 20 times
// regexp's time, mostly before giving the line to regexp.
func TestWideTime(t *testing.T) {
	for _, p := range []string{`\pL+!`, `(?P<k>\pL+)=(?P<n>\d+)`, `^(\pL+)(\pL)(\d+)$`} {
		s := Compile(p)
		re := regexp.MustCompile(p)
		for _, l := range []string{strings.Repeat("日本", 1000), strings.Repeat("用户登录成功来自北京的请求处理完成", 3) + " n=5"} {
			if sc, rt := race(s, re, l, 5, 4); sc > 4*rt {
				t.Errorf("%q on %d bytes of CJK: scanner %v, regexp %v (%.1fx)", p, len(l), sc, rt, float64(sc)/float64(rt))
			}
		}
	}
}
