package extract

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"
)

// value is one named value of a line, as text.
type value struct {
	s  string
	ok bool // present, and not JSON null
	// composite marks a JSON object or array, which is neither a tag value
	// nor a field value.
	composite bool
}

// lineCtx is one line being extracted. The JSON document and the logfmt
// pairs are parsed at most once per line, however many rules read them.
type lineCtx struct {
	text string

	// locs holds the regex matcher's submatch indexes, reused from line to
	// line so that matching does not allocate.
	locs []int

	jsonDone bool
	jsonDoc  *fastjson.Value // nil when the line is not a JSON object
	parser   fastjson.Parser
	scratch  []byte

	logfmtDone bool
	pairs      []pair
}

// reset starts on the next line, letting go of the previous one's pairs,
// so that the extractor holds no line but its latest.
func (lc *lineCtx) reset(text string) {
	lc.text = text
	lc.jsonDone, lc.jsonDoc, lc.scratch = false, nil, lc.scratch[:0]
	clear(lc.pairs)
	lc.logfmtDone, lc.pairs = false, lc.pairs[:0]
}

// matcher pulls a rule's named values out of a line. fill sets vals[i] for
// the i-th name of the rule and reports whether the line is the rule's at all.
type matcher interface {
	fill(lc *lineCtx, vals []value) bool
}

// jsonPath is a dotted name split into segments. keys[i][j] is segments i..j
// joined with dots, precomputed so that lookups do not allocate.
type jsonPath struct {
	keys [][]string
}

func newJSONPath(name string) jsonPath {
	segs := strings.Split(name, ".")
	keys := make([][]string, len(segs))
	for i := range segs {
		keys[i] = make([]string, len(segs)+1)
		for j := i + 1; j <= len(segs); j++ {
			keys[i][j] = strings.Join(segs[i:j], ".")
		}
	}
	return jsonPath{keys: keys}
}

// lookup walks the path from segment i. A key may itself contain dots (Zeek
// writes "id.orig_h"), so when a segment is missing it tries it joined with
// the next ones: "id.orig_h" finds {"id":{"orig_h":…}} and {"id.orig_h":…}.
// Numeric segments index arrays.
func (p jsonPath) lookup(v *fastjson.Value, i int) *fastjson.Value {
	if i == len(p.keys) {
		return v
	}
	for j := i + 1; j <= len(p.keys); j++ {
		if child := v.Get(p.keys[i][j]); child != nil {
			if found := p.lookup(child, j); found != nil {
				return found
			}
		}
	}
	return nil
}

// jsonMatcher takes lines that are JSON objects holding at least one of the
// rule's tag or field names: a line with only a timestamp is not the rule's.
type jsonMatcher struct {
	paths []jsonPath
	data  []bool // per name: a tag or field name
}

func (m *jsonMatcher) fill(lc *lineCtx, vals []value) bool {
	if !lc.jsonDone {
		lc.jsonDone = true
		doc, err := lc.parser.Parse(lc.text)
		if err == nil && doc.Type() == fastjson.TypeObject {
			lc.jsonDoc = doc
		}
	}
	if lc.jsonDoc == nil {
		return false
	}
	any := false
	for i, p := range m.paths {
		vals[i] = lc.jsonValue(p.lookup(lc.jsonDoc, 0))
		any = any || vals[i].ok && m.data[i]
	}
	return any
}

// jsonValue turns a JSON value into text without copying it: strings are
// the parser's buffer (fastjson parses a copy of the line, in place) and
// numbers are appended to scratch. Both are overwritten by the next line,
// like every value of a line they are read only until then, and apply
// copies what a point keeps (see keeper). Copying each value here instead
// cost an allocation per value read (3 per line of the JSON benchmark).
func (lc *lineCtx) jsonValue(v *fastjson.Value) value {
	if v == nil {
		return value{}
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return value{s: unsafe.String(unsafe.SliceData(b), len(b)), ok: true}
	case fastjson.TypeNumber:
		n := len(lc.scratch)
		lc.scratch = v.MarshalTo(lc.scratch) // earlier values keep the old array if it grows
		return value{s: unsafe.String(&lc.scratch[n], len(lc.scratch)-n), ok: true}
	case fastjson.TypeTrue:
		return value{s: "true", ok: true}
	case fastjson.TypeFalse:
		return value{s: "false", ok: true}
	case fastjson.TypeNull:
		return value{}
	default:
		return value{ok: true, composite: true}
	}
}

// logfmtMatcher takes lines holding at least one of the rule's tag or field
// keys. When a key repeats, its first value counts (as for JSON).
type logfmtMatcher struct {
	names []string
	// index, for a rule with more than linearNames names, finds a key's
	// position in vals; fewer are compared one by one, which is cheaper
	// than hashing every key of the line.
	index map[string]int
	data  []bool // per name: a tag or field name
}

// linearNames is the most names a logfmt rule finds by comparing.
const linearNames = 16

func newLogfmtMatcher(names []string) *logfmtMatcher {
	m := &logfmtMatcher{names: names}
	if len(names) > linearNames {
		m.index = make(map[string]int, len(names))
		for i, name := range names {
			m.index[name] = i
		}
	}
	return m
}

// at returns the position of key in vals, or -1.
func (m *logfmtMatcher) at(key string) int {
	if m.index != nil {
		if i, ok := m.index[key]; ok {
			return i
		}
		return -1
	}
	for i, name := range m.names {
		if name == key {
			return i
		}
	}
	return -1
}

func (m *logfmtMatcher) fill(lc *lineCtx, vals []value) bool {
	if !lc.logfmtDone {
		lc.logfmtDone = true
		lc.pairs = scanLogfmt(lc.text, lc.pairs)
	}
	for i := range vals {
		vals[i] = value{}
	}
	any := false
	for _, kv := range lc.pairs {
		if !kv.hasValue {
			continue
		}
		if i := m.at(kv.key); i >= 0 && !vals[i].ok {
			s, ok := kv.text()
			if !ok {
				continue // missing, as go-logfmt would have no value
			}
			vals[i] = value{s: s, ok: true}
			any = any || m.data[i]
		}
	}
	return any
}

// pair is one key=value of a logfmt line.
type pair struct {
	key, value string
	hasValue   bool
	// escaped marks a quoted value with backslash escapes: value is then
	// the quoted text as the line has it, unescaped only if a rule reads
	// it (text), since few do and unescaping allocates.
	escaped bool
}

// text is the pair's value, unescaped. It is false only if the value does
// not unquote, which validEscapes ruled out while scanning; a value is
// never silently replaced.
func (kv pair) text() (string, bool) {
	if !kv.escaped {
		return kv.value, true
	}
	b, ok := unescapeLogfmt(kv.value[1:len(kv.value)-1], make([]byte, 0, len(kv.value)))
	return unsafe.String(unsafe.SliceData(b), len(b)), ok // b is not written again
}

// scanLogfmt appends the pairs of line to dst. It reads what
// github.com/go-logfmt/logfmt reads (a differential fuzz test holds it to
// that), but where that decoder stops at the first malformed token, this
// scanner skips the token and goes on, so one odd value does not cost the
// whole line. Quoted values are unescaped as go-logfmt does (pair.text).
func scanLogfmt(line string, dst []pair) []pair {
	i, n := 0, len(line)
	for i < n {
		for i < n && line[i] <= ' ' {
			i++
		}
		if i >= n {
			break
		}
		start := i
		for i < n && line[i] > ' ' && line[i] != '=' && line[i] != '"' {
			i++
		}
		key := line[start:i]
		if i < n && line[i] == '"' || key == "" || hasRuneError(key) {
			i = skipToken(line, i)
			continue
		}
		if i >= n || line[i] != '=' { // a bare key
			dst = append(dst, pair{key: key})
			continue
		}
		i++ // '='
		if i >= n || line[i] <= ' ' {
			dst = append(dst, pair{key: key})
			continue
		}
		if line[i] == '"' {
			v, escaped, next, ok := scanQuoted(line, i)
			i = next
			if ok {
				dst = append(dst, pair{key: key, value: v, hasValue: v != "", escaped: escaped})
			}
			continue
		}
		start = i
		for i < n && line[i] > ' ' && line[i] != '=' && line[i] != '"' {
			i++
		}
		if i < n && line[i] > ' ' { // '=' or '"' inside a bare value
			i = skipToken(line, i)
			continue
		}
		dst = append(dst, pair{key: key, value: line[start:i], hasValue: true})
	}
	return dst
}

// hasRuneError reports whether s holds U+FFFD or bytes that are not UTF-8,
// as strings.ContainsRune(s, utf8.RuneError) does, without decoding ASCII.
func hasRuneError(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.ContainsRune(s[i:], utf8.RuneError)
		}
	}
	return false
}

// skipToken moves past the rest of a malformed token.
func skipToken(line string, i int) int {
	for i < len(line) && line[i] > ' ' {
		i++
	}
	return i
}

// scanQuoted reads the quoted value starting at line[i] == '"'. It returns
// the value (with escapes, the quoted text as is, and escaped set), the
// index after it, and false for an unterminated or invalid quoted value.
func scanQuoted(line string, i int) (v string, escaped bool, next int, ok bool) {
	start := i
	esc, hasEsc := false, false
	for i++; i < len(line); i++ {
		switch c := line[i]; {
		case esc:
			esc = false
		case c == '\\':
			esc, hasEsc = true, true
		case c == '"':
			quoted := line[start : i+1]
			if !hasEsc {
				return quoted[1 : len(quoted)-1], false, i + 1, true
			}
			if !validEscapes(quoted[1 : len(quoted)-1]) {
				return "", false, skipToken(line, i+1), false
			}
			return quoted, true, i + 1, true
		}
	}
	return "", false, len(line), false
}

// validEscapes reports whether go-logfmt unquotes s, the inside of a
// quoted value: its escapes are known ones and it has no control
// characters. It checks without writing, so that values no rule reads cost
// no allocation.
func validEscapes(s string) bool {
	_, ok := unescapeLogfmt(s, nil)
	return ok
}

// unescapeLogfmt unescapes s, the inside of a quoted value, as go-logfmt
// does (its unquoteBytes, which a fuzz test holds this to), appending to
// dst; with dst nil it only checks. Unlike go-logfmt's Decoder, whose
// bufio.Scanner gives up on a line over 64 KiB, it has no size limit.
func unescapeLogfmt(s string, dst []byte) ([]byte, bool) {
	write := dst != nil
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			r++
			if r >= len(s) {
				return dst, false
			}
			var e byte
			switch s[r] {
			case '"', '\\', '/', '\'':
				e = s[r]
			case 'b':
				e = '\b'
			case 'f':
				e = '\f'
			case 'n':
				e = '\n'
			case 'r':
				e = '\r'
			case 't':
				e = '\t'
			case 'u':
				rr := getu4(s[r-1:])
				if rr < 0 {
					return dst, false
				}
				r += 5
				if utf16.IsSurrogate(rr) {
					// A valid pair is one rune; a lone half is U+FFFD.
					rr = utf16.DecodeRune(rr, getu4(s[r:]))
					if rr != unicode.ReplacementChar {
						r += 6
					}
				}
				if write {
					dst = utf8.AppendRune(dst, rr)
				}
				continue
			default:
				return dst, false
			}
			r++
			if write {
				dst = append(dst, e)
			}
		case c == '"', c < ' ':
			return dst, false
		case c < utf8.RuneSelf:
			r++
			if write {
				dst = append(dst, c)
			}
		default:
			// go-logfmt writes invalid UTF-8 as U+FFFD once it
			// unescapes.
			rr, w := utf8.DecodeRuneInString(s[r:])
			if write {
				if rr == utf8.RuneError {
					dst = utf8.AppendRune(dst, rr)
				} else {
					dst = append(dst, s[r:r+w]...)
				}
			}
			r += w
		}
	}
	return dst, true
}

// getu4 decodes \uXXXX from the start of s, or returns -1, as go-logfmt
// does.
func getu4(s string) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	r, err := strconv.ParseUint(s[2:6], 16, 64)
	if err != nil {
		return -1
	}
	return rune(r)
}
