package extract

import (
	"regexp"
	"regexp/syntax"

	"github.com/logmetrics/logmetrics/extract/rescan"
)

// regexMatcher takes lines the pattern matches. A name may belong to several
// groups (in alternatives); the first group that took part gives the value.
type regexMatcher struct {
	re *regexp.Regexp
	// scan answers most lines several times faster than re, with re's
	// answer (see package rescan); nil when the pattern is beyond it.
	scan   *rescan.Scanner
	groups [][]int // per name, its group numbers
}

// newRegexMatcher makes the matcher of pattern, compiled to re, for a rule
// reading names values.
func newRegexMatcher(pattern string, re *regexp.Regexp, names int) *regexMatcher {
	return &regexMatcher{re: re, scan: rescan.Compile(pattern), groups: make([][]int, names)}
}

func (m *regexMatcher) fill(lc *lineCtx, vals []value) bool {
	loc := m.match(lc)
	if loc == nil {
		return false
	}
	for i, gs := range m.groups {
		vals[i] = value{}
		for _, g := range gs {
			if start := loc[2*g]; start >= 0 {
				vals[i] = value{s: lc.text[start:loc[2*g+1]], ok: true}
				break
			}
		}
	}
	return true
}

// match returns the submatch indexes of the line, as
// re.FindStringSubmatchIndex does; the scanner's are in lc.locs, which the
// next line overwrites.
func (m *regexMatcher) match(lc *lineCtx) []int {
	if m.scan != nil {
		if cap(lc.locs) < m.scan.NumLoc() {
			lc.locs = make([]int, m.scan.NumLoc())
		}
		loc := lc.locs[:m.scan.NumLoc()]
		switch m.scan.Match(lc.text, loc) {
		case rescan.Matched:
			return loc
		case rescan.NoMatch:
			return nil
		}
	}
	return m.re.FindStringSubmatchIndex(lc.text)
}

// Go's regexp runs a pattern with its backtracker only when the program
// has at most backtrackMaxInsts instructions (regexp/backtrack.go,
// maxBacktrackProg), and then only on inputs shorter than
// backtrackBits/instructions bytes (maxBacktrackVector); otherwise it runs
// its NFA, several times slower (see BenchmarkRegexCliff). Onepass
// programs, anchored and unambiguous, have a fast matcher of their own.
const (
	backtrackMaxInsts = 500
	backtrackBits     = 256 * 1024
)

// SlowRegex reports whether Go's regexp would match pattern with its NFA on
// every line, being too large for its backtracker, while the scanner
// cannot take it either; insts is the size of its program and limit the
// largest the backtracker runs. It is false for a pattern that does not
// compile.
func SlowRegex(pattern string) (slow bool, insts, limit int) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return false, 0, backtrackMaxInsts
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return false, 0, backtrackMaxInsts
	}
	insts = len(prog.Inst)
	return insts > backtrackMaxInsts && rescan.Compile(pattern) == nil, insts, backtrackMaxInsts
}
