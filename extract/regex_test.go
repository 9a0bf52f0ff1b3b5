package extract

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// FuzzRegexMatcher holds the matcher, scanner and fallback together, to
// regexp: for any pattern regexp compiles, the matcher's indexes are
// FindStringSubmatchIndex's, whether the scanner answered, gave up on the
// line (Unknown) or never took the pattern.
func FuzzRegexMatcher(f *testing.F) {
	for _, s := range [][2]string{
		{benchCases[0].rule.Pattern, `192.0.2.94 - - [10/Oct/2025:13:55:36 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29" 0.000`},
		{benchCases[0].rule.Pattern, `192.0.2.94 - - [10/Oct/2025:13:55:36 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29" 0.000 `},
		{`\[(?P<time>[^\]]+)\] "[^"]*" (?P<status>\d)\d\d (?P<bytes>\d+|-) .* (?P<request_time>[\d.]+)$`, `[10/Oct/2025:13:55:36 +0000] "GET /" 200 5 "-" 0.1`},
		{`^(\S*)(\S*)(\S*)x$`, strings.Repeat("a", 300)}, // past the scanner's budget
		{`(?:ab|cd)+(?P<n>\d+)`, "xxabcd12"},             // not the scanner's
		{`(?P<a>a)|(?P<a>b)`, "b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, line string) {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return
		}
		m := newRegexMatcher(pattern, re, 0)
		var lc lineCtx
		for _, text := range []string{line, line + line, ""} {
			lc.reset(text)
			got, want := m.match(&lc), re.FindStringSubmatchIndex(text)
			if !slices.Equal(got, want) || (got == nil) != (want == nil) {
				t.Fatalf("pattern %q on %q: matcher %v, regexp %v", pattern, text, got, want)
			}
		}
	})
}

// TestRegexMatcherAllocs: the scanner's indexes live in the line context, so
// a line of the benchmark's rule costs no allocation to match.
func TestRegexMatcherAllocs(t *testing.T) {
	re := regexp.MustCompile(benchCases[0].rule.Pattern)
	m := newRegexMatcher(benchCases[0].rule.Pattern, re, 0)
	if m.scan == nil {
		t.Fatal("the scanner does not take the nginx pattern")
	}
	var lc lineCtx
	line := `192.0.2.94 - - [10/Oct/2025:13:55:36 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29" 0.000`
	if a := testing.AllocsPerRun(100, func() {
		lc.reset(line)
		if m.match(&lc) == nil {
			t.Fatal("no match")
		}
	}); a != 0 {
		t.Errorf("%v allocations per line", a)
	}
}

// cliffPattern is the nginx pattern padded with an optional last group of
// k alternative service names, which the benchmark's lines do not have: the
// program grows with k while the work of a backtracker stays about the
// same. line is a 200-byte line it matches.
func cliffPattern(k int) (pattern, line string) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := make([]string, k)
	for i := range words {
		b := make([]byte, 8)
		for j := range b {
			b[j] = byte('a' + rng.IntN(26))
		}
		words[i] = string(b)
	}
	nginx := benchCases[0].rule.Pattern
	pattern = strings.TrimSuffix(nginx, "$") + `(?: (?P<svc>` + strings.Join(words, "|") + `))?$`
	line = `192.0.2.146 - - [10/Oct/2025:13:55:37 +0000] "GET /static/js/app.3f9c2e1a.js HTTP/2.0" 200 111861 "https://shop.example.com/" "Mozilla/5.0 (Linux; Android 14; Pixel 8)" 0.005`
	return pattern, line
}

func TestSlowRegex(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pattern string
		slow    bool
	}{
		{"nginx", benchCases[0].rule.Pattern, false},
		{"small", `^(?:ab|cd)+ (?P<n>\d+)`, false},
		{"large, scanner's", strings.Repeat(`\S+ `, 200) + `(?P<n>\d+)$`, false},
		{"large", func() string { p, _ := cliffPattern(80); return `(?:ab)*` + p }(), true},
		{"bad", `(`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slow, insts, limit := SlowRegex(tc.pattern)
			if slow != tc.slow {
				t.Errorf("slow %v, want %v (%d instructions, limit %d)", slow, tc.slow, insts, limit)
			}
		})
	}
}

// BenchmarkRegexCliff measures Go's regexp on a 200-byte line for patterns
// of growing program size: past backtrackMaxInsts instructions it leaves
// its backtracker for its NFA. (The scanner takes these patterns; this
// measures what a pattern it does not take would cost.)
func BenchmarkRegexCliff(b *testing.B) {
	for _, k := range []int{0, 20, 35, 40, 45, 50, 80} {
		pattern, line := cliffPattern(k)
		_, insts, _ := SlowRegex(pattern)
		re := regexp.MustCompile(pattern)
		if re.FindStringSubmatchIndex(line) == nil {
			b.Fatalf("k=%d: no match", k)
		}
		b.Run(fmt.Sprintf("insts=%d", insts), func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				re.FindStringSubmatchIndex(line)
			}
		})
	}
}
