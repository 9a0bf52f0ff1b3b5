// Package rescan matches the common shape of log regular expressions
// directly, several times faster than Go's regexp, and gives exactly what
// regexp's FindStringSubmatchIndex gives, or says it cannot tell, in which
// case the caller asks regexp.
//
// Why the answers are regexp's. A pattern is parsed as regexp.Compile
// parses it (regexp/syntax, Perl flags, simplified) and kept only when it is
// built of literals, character classes, any-char, repeats of a single-rune
// item (greedy or not), alternations, optional parts, captures, and
// begin/end of text or line; anything else (a repeat of a group, word
// boundaries) makes Compile return nil. For such a pattern, Go's regexp
// returns the leftmost match, and of the matches starting there the one a
// backtracking matcher meets first when it tries choices in priority order:
// a greedy repeat its longest run first, a non-greedy one its shortest, an
// alternation its first branch (leftmost-first, Perl's semantics; the
// usual exceptions for repeats that can match empty do not arise, as every
// repeat here consumes one rune per turn). Match is such a backtracker: it
// tries start positions left to right, rune by rune as regexp steps, and at
// each explores the choices in that order, restoring captures when it backs
// out, so its first success is regexp's match with regexp's submatches.
//
// Why it is fast. A repeat scans its run in a tight loop (a table lookup per
// ASCII byte). A greedy repeat that giving back could never help (the rest
// of the pattern cannot start with a rune of the repeat's class, nor at the
// end of text, as in `\S+ ` or `[^"]*"`) is made possessive at compile time,
// so a line that does not match fails without backtracking. A leading
// literal is found with strings.Index, and a pattern anchored with ^ is
// tried at the start only.
//
// Why it cannot blow up. A backtracker is exponential in the worst case;
// Match counts its work (runes scanned and choices tried) against a budget
// linear in the line's length and returns Unknown when it runs out, never a
// wrong "no match".
//
// Input may be invalid UTF-8: like regexp, Match reads an invalid byte as
// U+FFFD of width 1.
package rescan

import (
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Result is Match's answer.
type Result int

const (
	// Unknown: the scanner ran out of budget; ask regexp.
	Unknown Result = iota
	// NoMatch: regexp would return nil.
	NoMatch
	// Matched: loc holds what regexp would return.
	Matched
)

func (r Result) String() string {
	switch r {
	case NoMatch:
		return "NoMatch"
	case Matched:
		return "Matched"
	}
	return "Unknown"
}

// maxNodes bounds a compiled pattern. Patterns larger than this are left to
// regexp (they are far past the size of a log pattern).
const maxNodes = 10000

// Budget per line: baseSteps plus stepsPerByte for each byte of the line,
// counted in runes scanned and choices tried. A match of a log pattern
// scans each byte about once; the rest is room for give-backs (`.* (\d+)$`
// gives back the last field's width) and for trying every start position of
// an unanchored pattern.
const (
	baseSteps    = 256
	stepsPerByte = 16
)

// Scanner is a compiled pattern. It is immutable, so one Scanner may serve
// several goroutines.
type Scanner struct {
	start    *node
	nloc     int    // 2 * (number of groups + 1)
	anchored bool   // the pattern begins with ^: only start 0 can match
	prefix   string // a literal every match begins with, or ""
}

// NumLoc is the length loc must have at least: twice the number of groups,
// plus two for the whole match.
func (s *Scanner) NumLoc() int { return s.nloc }

type kind uint8

const (
	kEnd       kind = iota // the pattern matched
	kLit                   // the bytes of lit
	kClass                 // min to max runes of cls (max < 0: no limit)
	kAlt                   // the first of alts that leads to a match
	kCap                   // record the position in loc[slot]
	kBeginText             // ^
	kEndText               // $
	kBeginLine             // ^ under (?m)
	kEndLine               // $ under (?m)
	kFail                  // matches nothing
)

// node is one step of the pattern; next is what follows it, across the
// nesting of groups, so that the nodes form a graph the matcher walks.
type node struct {
	kind kind
	next *node

	lit string

	cls        *class
	min, max   int
	greedy     bool
	possessive bool // greedy, and giving back cannot lead to a match

	alts []*node
	slot int
}

// class is a set of runes: a table for ASCII, sorted ranges above.
type class struct {
	ascii [utf8.RuneSelf]bool
	wide  []rune // lo, hi pairs, all >= utf8.RuneSelf
}

func newClass(ranges []rune) *class {
	c := &class{}
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
			c.ascii[r] = true
		}
		if hi >= utf8.RuneSelf {
			c.wide = append(c.wide, max(lo, utf8.RuneSelf), hi)
		}
	}
	return c
}

func (c *class) hasWide(r rune) bool {
	for i := 0; i < len(c.wide); i += 2 {
		if r < c.wide[i] {
			return false
		}
		if r <= c.wide[i+1] {
			return true
		}
	}
	return false
}

func (c *class) has(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 0 && c.ascii[r]
	}
	return c.hasWide(r)
}

// disjoint reports whether no rune is in both classes.
func (c *class) disjoint(d *class) bool {
	for i := range c.ascii {
		if c.ascii[i] && d.ascii[i] {
			return false
		}
	}
	for i := 0; i < len(c.wide); i += 2 {
		for j := 0; j < len(d.wide); j += 2 {
			if c.wide[i] <= d.wide[j+1] && d.wide[j] <= c.wide[i+1] {
				return false
			}
		}
	}
	return true
}

// Compile returns the scanner of pattern, or nil when the pattern is not
// valid or not of the shape the scanner takes.
func Compile(pattern string) *Scanner {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	nloc := 2 * (re.MaxCap() + 1)
	c := compiler{}
	end := c.add(&node{kind: kEnd})
	start := c.compile(re.Simplify(), end)
	if c.bad || c.n > maxNodes {
		return nil
	}
	s := &Scanner{start: start, nloc: nloc}
	switch start.kind {
	case kBeginText:
		s.anchored = true
	case kLit:
		s.prefix = start.lit
	}
	return s
}

type compiler struct {
	n   int
	bad bool
}

func (c *compiler) add(n *node) *node {
	c.n++
	return n
}

// compile returns the first node of re, whose paths all lead to next.
func (c *compiler) compile(re *syntax.Regexp, next *node) *node {
	if c.bad || c.n > maxNodes {
		c.bad = true
		return next
	}
	switch re.Op {
	case syntax.OpNoMatch:
		return c.add(&node{kind: kFail})
	case syntax.OpEmptyMatch:
		return next
	case syntax.OpLiteral:
		return c.literal(re, next)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return c.repeat(re, 1, 1, true, next)
	case syntax.OpBeginText:
		return c.add(&node{kind: kBeginText, next: next})
	case syntax.OpEndText:
		return c.add(&node{kind: kEndText, next: next})
	case syntax.OpBeginLine:
		return c.add(&node{kind: kBeginLine, next: next})
	case syntax.OpEndLine:
		return c.add(&node{kind: kEndLine, next: next})
	case syntax.OpCapture:
		end := c.add(&node{kind: kCap, slot: 2*re.Cap + 1, next: next})
		return c.add(&node{kind: kCap, slot: 2 * re.Cap, next: c.compile(re.Sub[0], end)})
	case syntax.OpConcat:
		for i := len(re.Sub) - 1; i >= 0; i-- {
			next = c.compile(re.Sub[i], next)
		}
		return next
	case syntax.OpAlternate:
		alt := &node{kind: kAlt}
		for _, sub := range re.Sub {
			alt.alts = append(alt.alts, c.compile(sub, next))
		}
		return c.add(alt)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		greedy := re.Flags&syntax.NonGreedy == 0
		min, max := 0, -1
		switch re.Op {
		case syntax.OpPlus:
			min = 1
		case syntax.OpQuest:
			max = 1
		}
		if singleRune(re.Sub[0]) {
			return c.repeat(re.Sub[0], min, max, greedy, next)
		}
		if re.Op != syntax.OpQuest {
			break // a repeated group: regexp's
		}
		opt := c.compile(re.Sub[0], next)
		if greedy {
			return c.add(&node{kind: kAlt, alts: []*node{opt, next}})
		}
		return c.add(&node{kind: kAlt, alts: []*node{next, opt}})
	}
	c.bad = true // word boundaries, and repeats Simplify left (none today)
	return next
}

// singleRune reports whether re matches exactly one rune.
func singleRune(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return true
	case syntax.OpLiteral:
		return len(re.Rune) == 1
	}
	return false
}

// runeClass is the set of runes the single-rune re matches.
func runeClass(re *syntax.Regexp) *class {
	switch re.Op {
	case syntax.OpCharClass:
		return newClass(re.Rune)
	case syntax.OpAnyChar:
		return newClass([]rune{0, unicode.MaxRune})
	case syntax.OpAnyCharNotNL:
		return newClass([]rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune})
	}
	// A literal rune, with its case variants under (?i) as regexp folds them.
	r := re.Rune[0]
	ranges := []rune{r, r}
	if re.Flags&syntax.FoldCase != 0 {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			ranges = append(ranges, f, f)
		}
	}
	// newClass wants ascending pairs.
	for i := 2; i < len(ranges); i += 2 {
		for j := i; j > 0 && ranges[j] < ranges[j-2]; j -= 2 {
			ranges[j], ranges[j-2] = ranges[j-2], ranges[j]
			ranges[j+1], ranges[j-1] = ranges[j-1], ranges[j+1]
		}
	}
	return newClass(ranges)
}

func (c *compiler) repeat(item *syntax.Regexp, min, max int, greedy bool, next *node) *node {
	n := &node{kind: kClass, cls: runeClass(item), min: min, max: max, greedy: greedy, next: next}
	n.possessive = greedy && min != max && cannotFollow(n.cls, next, 0)
	return c.add(n)
}

// literal compiles a literal string. Its runes are compared as bytes, which
// is exact for valid runes other than U+FFFD (that one also stands for an
// invalid byte); those, and every rune under (?i), become one-rune classes.
func (c *compiler) literal(re *syntax.Regexp, next *node) *node {
	fold := re.Flags&syntax.FoldCase != 0
	// Built backwards, so that each node knows its next: runs of plain
	// runes become one kLit each.
	end := len(re.Rune)
	for i := len(re.Rune) - 1; i >= -1; i-- {
		plain := i >= 0 && !fold && re.Rune[i] != utf8.RuneError && utf8.ValidRune(re.Rune[i])
		if plain {
			continue
		}
		if i+1 < end {
			next = c.add(&node{kind: kLit, lit: string(re.Rune[i+1 : end]), next: next})
		}
		if i >= 0 {
			one := &syntax.Regexp{Op: syntax.OpLiteral, Rune: re.Rune[i : i+1], Flags: re.Flags}
			next = c.repeat(one, 1, 1, true, next)
		}
		end = i
	}
	return next
}

// maxFollowDepth bounds cannotFollow's walk; past it, the answer is "can".
const maxFollowDepth = 8

// cannotFollow reports whether n can never match at a position where the
// next rune is in cls: then a greedy repeat of cls followed by n never
// gains by giving back a rune.
func cannotFollow(cls *class, n *node, depth int) bool {
	if depth > maxFollowDepth {
		return false
	}
	switch n.kind {
	case kLit:
		r, _ := utf8.DecodeRuneInString(n.lit)
		return !cls.has(r)
	case kClass:
		if !n.cls.disjoint(cls) {
			return false
		}
		return n.min > 0 || cannotFollow(cls, n.next, depth+1)
	case kAlt:
		for _, a := range n.alts {
			if !cannotFollow(cls, a, depth+1) {
				return false
			}
		}
		return true
	case kCap:
		return cannotFollow(cls, n.next, depth+1)
	case kEndText, kFail:
		// There is a rune at the position, so it is not the end. (It may
		// be the start: a star gives back down to none.)
		return true
	case kEndLine:
		return !cls.has('\n')
	}
	return false // kEnd, kBeginText, kBeginLine
}

// Match matches text as regexp.FindStringSubmatchIndex does: on Matched,
// loc[:NumLoc()] holds its result (-1 for groups that took no part). loc
// must have room for NumLoc() ints. Match does not allocate.
func (s *Scanner) Match(text string, loc []int) Result {
	loc = loc[:s.nloc]
	for i := range loc {
		loc[i] = -1
	}
	m := machine{text: text, loc: loc, steps: baseSteps + stepsPerByte*len(text)}
	for pos := 0; ; {
		if s.prefix != "" {
			i := strings.Index(text[pos:], s.prefix)
			if i < 0 {
				return NoMatch
			}
			// A literal begins with ASCII or a leading byte, never in
			// the middle of a rune, so regexp would try here too.
			pos += i
		}
		loc[0] = pos
		if m.match(s.start, pos) {
			return Matched
		}
		if m.steps < 0 {
			return Unknown
		}
		if s.anchored || pos == len(text) {
			return NoMatch
		}
		if text[pos] < utf8.RuneSelf {
			pos++
		} else {
			_, w := utf8.DecodeRuneInString(text[pos:])
			pos += w
		}
		m.steps--
	}
}

// machine is the state of one Match.
type machine struct {
	text  string
	loc   []int
	steps int // budget left; below zero, every new choice fails
}

// next reads the rune at pos as regexp does: an invalid byte is U+FFFD of
// width 1. At the end of text it returns width 0.
func (m *machine) next(pos int) (rune, int) {
	if pos >= len(m.text) {
		return -1, 0
	}
	if c := m.text[pos]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(m.text[pos:])
}

// scan takes up to max runes of cls from pos (max < 0: no limit) and
// returns how many it took, where they end, and whether all were ASCII.
func (m *machine) scan(cls *class, pos, max int) (k, end int, ascii bool) {
	text := m.text
	ascii = true
	for pos < len(text) && k != max {
		if c := text[pos]; c < utf8.RuneSelf {
			if !cls.ascii[c] {
				break
			}
			pos++
		} else {
			r, w := utf8.DecodeRuneInString(text[pos:])
			if !cls.hasWide(r) {
				break
			}
			pos += w
			ascii = false
		}
		k++
	}
	m.steps -= k
	return k, pos, ascii
}

// match reports whether the pattern from n matches text from pos on. It
// tries the choices in regexp's priority order and returns at the first
// success, so the loc it leaves is regexp's. On failure it leaves loc as
// it found it.
func (m *machine) match(n *node, pos int) bool {
	if m.steps--; m.steps < 0 {
		return false
	}
	for {
		switch n.kind {
		case kEnd:
			m.loc[1] = pos
			return true
		case kFail:
			return false
		case kLit:
			if !strings.HasPrefix(m.text[pos:], n.lit) {
				return false
			}
			pos += len(n.lit)
		case kBeginText:
			if pos != 0 {
				return false
			}
		case kEndText:
			if pos != len(m.text) {
				return false
			}
		case kBeginLine:
			if pos != 0 && m.text[pos-1] != '\n' {
				return false
			}
		case kEndLine:
			if pos != len(m.text) && m.text[pos] != '\n' {
				return false
			}
		case kCap:
			old := m.loc[n.slot]
			m.loc[n.slot] = pos
			if m.match(n.next, pos) {
				return true
			}
			m.loc[n.slot] = old
			return false
		case kAlt:
			last := len(n.alts) - 1
			for _, a := range n.alts[:last] {
				if m.match(a, pos) {
					return true
				}
			}
			if m.steps < 0 {
				return false
			}
			n = n.alts[last]
			continue
		case kClass:
			if n.min == n.max || n.possessive {
				k, end, _ := m.scan(n.cls, pos, n.max)
				if k < n.min {
					return false
				}
				pos = end
				break
			}
			if n.greedy {
				return m.giveBack(n, pos)
			}
			return m.takeMore(n, pos)
		}
		n = n.next
	}
}

// giveBack matches a greedy repeat that may have to give runes back: the
// longest run first, then one rune shorter, down to min.
func (m *machine) giveBack(n *node, pos int) bool {
	k, end, ascii := m.scan(n.cls, pos, n.max)
	for ; k >= n.min; k-- {
		if m.match(n.next, end) {
			return true
		}
		if m.steps < 0 || k == n.min {
			return false
		}
		if ascii {
			end--
		} else {
			// The run holds wide runes, which are not safe to step
			// back over (invalid bytes); count them again from pos.
			_, end, _ = m.scan(n.cls, pos, k-1)
		}
	}
	return false
}

// takeMore matches a non-greedy repeat: the shortest run first, then one
// rune more, up to max.
func (m *machine) takeMore(n *node, pos int) bool {
	k, end, _ := m.scan(n.cls, pos, n.min)
	if k < n.min {
		return false
	}
	for {
		if m.match(n.next, end) {
			return true
		}
		if m.steps < 0 || k == n.max {
			return false
		}
		r, w := m.next(end)
		if w == 0 || !n.cls.has(r) {
			return false
		}
		end += w
		k++
		m.steps--
	}
}
