package extract

import "regexp"

// regexMatcher takes lines the pattern matches. A name may belong to several
// groups (in alternatives); the first group that took part gives the value.
type regexMatcher struct {
	re     *regexp.Regexp
	groups [][]int // per name, its group numbers
}

func (m *regexMatcher) fill(lc *lineCtx, vals []value) bool {
	loc := m.re.FindStringSubmatchIndex(lc.text)
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
