package rescan

import (
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestRandomPatterns draws patterns from a small grammar of the shapes the
// scanner takes (and some it does not) and lines over a small alphabet
// (with \n, wide runes, folding runes, invalid bytes), and holds the
// scanner to regexp.FindStringSubmatchIndex on them. RESCAN_ITERS,
// RESCAN_SEED, RESCAN_DEPTH and RESCAN_LINELEN run it longer or otherwise.

var atoms = []string{
	"a", "b", "A", "é", "k", ".", "[ab]", "[^a]", `\n`, "(?i:a)", "(?i:k)", `\pL`, `\x{FFFD}`,
	"^", "$", `\A`, `\z`, "(?m:^)", "(?m:$)", "(?s:.)", "", `\s`, `\S`, `\d`, "[a-zé]", "(?i:é)", "(?i:ab)", "ab", "ba",
	`[^\n]`, "(?U:a*)", "(?U:a+)", "\u212a", "[\u212a]",
}

var lineRunes = []string{"a", "b", "A", "é", "k", "K", "\u212a", "\n", " ", "1", "\xff", "\xc3", "É", "ab"}

func genPat(r *rand.Rand, depth int, ncap *int) string {
	if depth <= 0 || r.IntN(3) == 0 {
		return atoms[r.IntN(len(atoms))]
	}
	switch r.IntN(8) {
	case 0, 1:
		n := 2 + r.IntN(3)
		var parts []string
		for range n {
			parts = append(parts, genPat(r, depth-1, ncap))
		}
		return strings.Join(parts, "")
	case 2:
		n := 2 + r.IntN(2)
		var parts []string
		for range n {
			parts = append(parts, genPat(r, depth-1, ncap))
		}
		return "(?:" + strings.Join(parts, "|") + ")"
	case 3:
		*ncap++
		return "(" + genPat(r, depth-1, ncap) + ")"
	case 4:
		a := atoms[r.IntN(len(atoms))]
		if a == "" || a == "^" || a == "$" || strings.HasPrefix(a, `\A`) || strings.HasPrefix(a, `\z`) || strings.Contains(a, "?m") || strings.Contains(a, "?U") {
			a = "a"
		}
		op := []string{"*", "+", "?", "*?", "+?", "??", "{2}", "{1,3}", "{0,2}?", "{2,}"}[r.IntN(10)]
		return "(?:" + a + ")" + op
	case 5:
		return "(?:" + genPat(r, depth-1, ncap) + ")" + []string{"?", "??", "{0,2}", "{1,2}?", "{2}"}[r.IntN(5)]
	case 6:
		return "(?:" + genPat(r, depth-1, ncap) + ")?"
	default:
		return []string{"(?i)", "(?m)", "(?s)", "(?U)", ""}[r.IntN(5)] + genPat(r, depth-1, ncap)
	}
}

func genLine(r *rand.Rand) string {
	n := r.IntN(randomLineLen())
	var b strings.Builder
	for range n {
		b.WriteString(lineRunes[r.IntN(len(lineRunes))])
	}
	return b.String()
}

func TestRandomPatterns(t *testing.T) {
	iters := 2000
	if s := os.Getenv("RESCAN_ITERS"); s != "" {
		iters, _ = strconv.Atoi(s)
	}
	seed := uint64(1)
	if s := os.Getenv("RESCAN_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	taken, matched, fails := 0, 0, 0
	for range iters {
		var ncap int
		p := genPat(r, randomDepth(), &ncap)
		s := Compile(p)
		if s == nil {
			continue
		}
		re, err := regexp.Compile(p)
		if err != nil {
			t.Fatalf("scanner took %q, regexp refuses: %v", p, err)
		}
		taken++
		loc := make([]int, s.NumLoc())
		for range 30 {
			line := genLine(r)
			want := re.FindStringSubmatchIndex(line)
			got := s.Match(line, loc)
			if got == Matched {
				matched++
			}
			if got == Matched && !slices.Equal(want, loc) || got == NoMatch && want != nil {
				if fails++; fails < 15 {
					t.Errorf("pattern %q line %q: scanner %v %v, regexp %v", p, line, got, loc, want)
				}
			}
		}
	}
	t.Logf("took %d patterns, compared %d matches", taken, matched)
}

func randomDepth() int {
	if n, err := strconv.Atoi(os.Getenv("RESCAN_DEPTH")); err == nil {
		return n
	}
	return 4
}

func randomLineLen() int {
	if n, err := strconv.Atoi(os.Getenv("RESCAN_LINELEN")); err == nil {
		return n
	}
	return 12
}
