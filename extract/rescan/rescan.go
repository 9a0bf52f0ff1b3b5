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
	"encoding/binary"
	"math/bits"
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
	// lead is the unbounded repeat every match begins with (after
	// captures), or nil. When no match starts at pos, none starts inside
	// the run of lead's class from pos either: from there the repeat can
	// only end where it could from pos, with the same rest of the
	// pattern to match (captures record, they do not decide). So Match
	// skips the run, which makes `\pL+!` linear in the line, not
	// quadratic.
	lead *node
	// needle is a literal every match holds, or "": a line without it
	// does not match, which strings.Index tells at once where trying
	// every start position would take the whole budget.
	needle string
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
	bits  [2]uint64 // ascii again, as bits for disjoint
	wide  []rune    // lo, hi pairs, all >= utf8.RuneSelf
	// wideCost is what checking a wide rune costs in budget steps: the
	// probes of hasWide's search (about 9 for \pL's 400 ranges), so that
	// a line of CJK text against \pL runs out of budget as soon as an
	// ASCII line would, in time, not 10 times later.
	wideCost int
	// noFFFD: U+FFFD is not in the class, so every run of it is valid
	// UTF-8, which can be stepped back over (giveBack).
	noFFFD bool
}

func newClass(ranges []rune) *class {
	c := &class{}
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
			c.ascii[r] = true
			c.bits[r/64] |= 1 << (r % 64)
		}
		if hi >= utf8.RuneSelf {
			c.wide = append(c.wide, max(lo, utf8.RuneSelf), hi)
		}
	}
	c.wideCost = 1 + bits.Len(uint(len(c.wide)/2))
	c.noFFFD = !c.hasWide(utf8.RuneError)
	return c
}

// hasWide searches the ranges: a linear walk costs ~250 ns for a CJK rune
// against \pL, several times regexp's time for the whole rune.
func (c *class) hasWide(r rune) bool {
	lo, hi := 0, len(c.wide)/2
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch {
		case r < c.wide[2*m]:
			hi = m
		case r > c.wide[2*m+1]:
			lo = m + 1
		default:
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

// disjoint reports whether no rune is in both classes. It walks both
// sorted range lists together, in time linear in their lengths.
func (c *class) disjoint(d *class) bool {
	if c.bits[0]&d.bits[0] != 0 || c.bits[1]&d.bits[1] != 0 {
		return false
	}
	for i, j := 0, 0; i < len(c.wide) && j < len(d.wide); {
		switch {
		case c.wide[i+1] < d.wide[j]:
			i += 2
		case d.wide[j+1] < c.wide[i]:
			j += 2
		default:
			return false
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
	lead := start
	for lead.kind == kCap {
		lead = lead.next
	}
	if lead.kind == kClass && lead.max < 0 {
		s.lead = lead
	}
	if !s.anchored && s.prefix == "" {
		s.needle = needle(start)
	}
	return s
}

// needle returns the longest literal on the path every match takes from n
// (up to the first alternation), or "".
func needle(n *node) string {
	best := ""
	for ; n.kind != kAlt && n.kind != kEnd && n.kind != kFail; n = n.next {
		if n.kind == kLit && len(n.lit) > len(best) {
			best = n.lit
		}
	}
	return best
}

type compiler struct {
	n   int
	bad bool
	// classes shares one class among the repeats of the same set (\S,
	// \d, \pL ...), keyed by its ranges: a pattern of a thousand \pL
	// builds one table, not a thousand.
	classes map[string]*class
}

// class returns the class of the single-rune re.
func (c *compiler) class(re *syntax.Regexp) *class {
	key := make([]byte, 2, 2+4*len(re.Rune))
	key[0], key[1] = byte(re.Op), byte(re.Flags&syntax.FoldCase)
	for _, r := range re.Rune {
		key = binary.LittleEndian.AppendUint32(key, uint32(r))
	}
	if cls, ok := c.classes[string(key)]; ok {
		return cls
	}
	if c.classes == nil {
		c.classes = make(map[string]*class)
	}
	cls := runeClass(re)
	c.classes[string(key)] = cls
	return cls
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
	n := &node{kind: kClass, cls: c.class(item), min: min, max: max, greedy: greedy, next: next}
	if greedy && min != max {
		work := maxFollowWork
		n.possessive = cannotFollow(n.cls, next, 0, &work)
	}
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

// cannotFollow's walk is bounded in depth and in total work (nodes
// visited, plus the ranges disjoint compares, over 64): optional parts in a
// row branch, so depth alone lets k-way alternations of optional runes cost
// k^depth (seconds to compile for a 3 KB pattern). Past either bound, the
// answer is "can": the repeat is then not possessive, which costs only
// speed on lines that do not match.
const (
	maxFollowDepth = 8
	maxFollowWork  = 256
)

// cannotFollow reports whether n can never match at a position where the
// next rune is in cls: then a greedy repeat of cls followed by n never
// gains by giving back a rune. work is the budget left for the walk.
func cannotFollow(cls *class, n *node, depth int, work *int) bool {
	if *work--; depth > maxFollowDepth || *work < 0 {
		return false
	}
	switch n.kind {
	case kLit:
		r, _ := utf8.DecodeRuneInString(n.lit)
		return !cls.has(r)
	case kClass:
		if *work -= (len(n.cls.wide) + len(cls.wide)) / 64; *work < 0 || !n.cls.disjoint(cls) {
			return false
		}
		return n.min > 0 || cannotFollow(cls, n.next, depth+1, work)
	case kAlt:
		for _, a := range n.alts {
			if !cannotFollow(cls, a, depth+1, work) {
				return false
			}
		}
		return true
	case kCap:
		return cannotFollow(cls, n.next, depth+1, work)
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
	if s.needle != "" && !strings.Contains(text, s.needle) {
		return NoMatch
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
		if s.lead != nil {
			if k, end, _ := m.scan(s.lead.cls, pos, -1); k > 0 {
				pos = end // and try at end, where the run is empty
				continue
			}
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
	wide := 0 // wide runes taken
	for pos < len(text) && k != max {
		if c := text[pos]; c < utf8.RuneSelf {
			if !cls.ascii[c] {
				break
			}
			pos++
		} else {
			r, w := utf8.DecodeRuneInString(text[pos:])
			if !cls.hasWide(r) {
				m.steps -= cls.wideCost
				break
			}
			pos += w
			wide++
		}
		k++
	}
	m.steps -= k + wide*cls.wideCost
	return k, pos, wide == 0
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
		switch {
		case ascii:
			end--
		case n.cls.noFFFD:
			// The run is valid UTF-8, so its last rune decodes
			// backwards as it did forwards.
			_, w := utf8.DecodeLastRuneInString(m.text[pos:end])
			end -= w
		default:
			// The run may hold invalid bytes, which are not safe to
			// step back over; count the runes again from pos.
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
