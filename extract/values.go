package extract

import (
	"bytes"
	"strings"
	"unsafe"

	"github.com/go-logfmt/logfmt"
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
	index map[string]int // key -> position in vals
	data  []bool         // per name: a tag or field name
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
		if i, ok := m.index[kv.key]; ok && !vals[i].ok && kv.hasValue {
			vals[i] = value{s: kv.value, ok: true}
			any = any || m.data[i]
		}
	}
	return any
}

// pair is one key=value of a logfmt line.
type pair struct {
	key, value string
	hasValue   bool
}

// scanLogfmt appends the pairs of line to dst. It reads what
// github.com/go-logfmt/logfmt reads (a differential fuzz test holds it to
// that), but where that decoder stops at the first malformed token, this
// scanner skips the token and goes on, so one odd value does not cost the
// whole line. Quoted values are unescaped as go-logfmt does.
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
		if i < n && line[i] == '"' || key == "" || strings.ContainsRune(key, '\uFFFD') {
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
			v, next, ok := scanQuoted(line, i)
			i = next
			if ok {
				dst = append(dst, pair{key: key, value: v, hasValue: v != ""})
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

// skipToken moves past the rest of a malformed token.
func skipToken(line string, i int) int {
	for i < len(line) && line[i] > ' ' {
		i++
	}
	return i
}

// scanQuoted reads the quoted value starting at line[i] == '"'. It returns
// the value, the index after it, and false for an unterminated or invalid
// quoted value.
func scanQuoted(line string, i int) (string, int, bool) {
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
				return quoted[1 : len(quoted)-1], i + 1, true
			}
			s, ok := unquoteLogfmt(quoted)
			if !ok {
				return "", skipToken(line, i+1), false
			}
			return s, i + 1, true
		}
	}
	return "", len(line), false
}

// unquoteLogfmt unescapes a quoted value with backslashes in it. That is
// rare, so it borrows go-logfmt's decoder rather than copying its rules.
func unquoteLogfmt(quoted string) (string, bool) {
	dec := logfmt.NewDecoder(bytes.NewReader(append([]byte("k="), quoted...)))
	if !dec.ScanRecord() || !dec.ScanKeyval() || dec.Err() != nil {
		return "", false
	}
	return string(dec.Value()), true
}
