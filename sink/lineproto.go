package sink

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// replacement is what AppendPoint writes in place of a byte it cannot
// write as is: U+FFFD, the Unicode replacement character.
const replacement = "\uFFFD"

// nameRules says how one part of a line writes a name (a measurement, tag
// key, tag value or field key).
type nameRules struct {
	// escaped bytes are written with a backslash before them.
	escaped byteSet
	// A backslash followed by one of breaksBackslash is written as
	// U+FFFD; see AppendPoint for why.
	breaksBackslash byteSet
	// hashFirst makes a leading '#' U+FFFD: a line that starts with '#'
	// is a comment to InfluxDB and to the lineprotocol decoder.
	hashFirst bool
	// plain bytes are written as they are wherever they stand (printable
	// ASCII, neither escaped nor a backslash), so that a run of them is
	// copied at once.
	plain byteSet
}

func newNameRules(escaped, breaksBackslash string, hashFirst bool) nameRules {
	r := nameRules{escaped: newByteSet(escaped), breaksBackslash: newByteSet(breaksBackslash), hashFirst: hashFirst}
	for c := 0x20; c < 0x7f; c++ {
		r.plain[c] = c != '\\' && !r.escaped[c]
	}
	return r
}

type byteSet [256]bool

func newByteSet(chars string) byteSet {
	var s byteSet
	for i := 0; i < len(chars); i++ {
		s[chars[i]] = true
	}
	return s
}

var (
	measurementRules = newNameRules(", ", ", =\"", true)
	tagRules         = newNameRules(", =", " ", false)
	fieldKeyRules    = newNameRules(", =", ", =\"", false)
)

// AppendPoint appends p to dst as one line of line protocol, ending in
// "\n", and returns the extended buffer. It does not allocate when dst has
// room. The output reads back the same in InfluxDB 1.8 (models/points.go)
// and in the lineprotocol/v2 decoder.
//
// Escaping: the measurement escapes comma and space; tag keys, tag values
// and field keys escape comma, equals sign and space, each with a
// backslash. String field values are double-quoted and escape only
// backslash and double quote; newline, carriage return and tab are written
// raw inside the quotes (InfluxDB 1.8 unescapes only \\ and \" and keeps
// raw newlines inside quotes; the v2 decoder accepts them too).
//
// Names and tag values cannot hold everything, so these are written as
// U+FFFD, one for each byte:
//
//   - control characters (0x00-0x1f and 0x7f) and bytes that are not valid
//     UTF-8;
//   - a '#' at the start of the measurement, which would make the line a
//     comment;
//   - a backslash that InfluxDB 1.8 would not read back as itself (see
//     below).
//
// InfluxDB 1.8 has no escape for the backslash: it keeps a backslash as is,
// and one just before an escapable character escapes that character. As
// checked against influxd 1.8.10, a backslash is therefore replaced
//
//   - at the end of any name or tag value, where it would escape the
//     separator after it;
//   - in a measurement, before a comma, space, '=' or '"': InfluxDB also
//     unescapes \= and \" there, and some of its paths unescape the name
//     twice (`m\\\,x` came back as `m\,x`);
//   - in a field key, before a comma, space, '=' or '"': its field scanner
//     takes `\\` as a pair, so `f\\,x=1` is refused, and it unescapes \";
//   - in a tag key or value, before a space: InfluxDB splits a batch into
//     lines taking `\\` as a pair, so in `t=a\\ b` it sees the fields
//     start early, and a later `\\=` and '"' in the tags then open a
//     string that swallows the newline and the next point. Before a comma
//     or '=' the backslash stays: `a\\,b` and `a\\=b` read back exactly
//     as `a\,b` and `a\=b`.
//
// String field values replace invalid UTF-8 the same way and keep
// everything else.
//
// Values: integers end in i, unsigned integers in u (stock InfluxDB 1.8
// refuses u), floats use strconv 'g' with the shortest exact digits, bools
// are true or false, and the timestamp is in nanoseconds. Fields keep the
// order given.
//
// p must have a measurement, keys and tag values that are not empty, as
// extract guarantees. Two tag keys that differ only in replaced bytes
// become equal, and InfluxDB refuses the point for duplicate tags.
//
// NaN and ±Inf cannot be written. extract drops them, so one here is a bug;
// rather than let it make InfluxDB refuse the whole batch, the field is
// left out, and a point left with no fields appends nothing at all:
// callers can tell by len(dst) not growing.
func AppendPoint(dst []byte, p *pipeline.Point) []byte {
	dst, _ = appendPoint(dst, p)
	return dst
}

// appendPoint is AppendPoint, and says whether it replaced a byte of the
// point with U+FFFD: the sink counts such points (Stats.PointsAltered) so
// that no change to the data goes unseen.
func appendPoint(dst []byte, p *pipeline.Point) (_ []byte, altered bool) {
	start := len(dst)
	dst = appendName(dst, p.Measurement, &measurementRules, &altered)
	for i := range p.Tags {
		dst = append(dst, ',')
		dst = appendName(dst, p.Tags[i].Key, &tagRules, &altered)
		dst = append(dst, '=')
		dst = appendName(dst, p.Tags[i].Value, &tagRules, &altered)
	}
	sep := byte(' ')
	for i := range p.Fields {
		f := &p.Fields[i]
		if f.Value.Kind == pipeline.Float {
			if v := f.Value.Float(); math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
		}
		dst = append(dst, sep)
		sep = ','
		dst = appendName(dst, f.Key, &fieldKeyRules, &altered)
		dst = append(dst, '=')
		dst = appendValue(dst, f.Value, &altered)
	}
	if sep == ' ' {
		return dst[:start], false // no field was written
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, p.Time, 10)
	return append(dst, '\n'), altered
}

// appendName appends s escaped by rules, and sets *altered when it
// replaced a byte.
func appendName(dst []byte, s string, rules *nameRules, altered *bool) []byte {
	i := 0
	if !(rules.hashFirst && s != "" && s[0] == '#') {
		for i < len(s) && rules.plain[s[i]] {
			i++
		}
		dst = append(dst, s[:i]...)
	}
	for i < len(s) {
		c := s[i]
		if c >= utf8.RuneSelf {
			var size int
			dst, size = appendNonASCII(dst, s[i:], altered)
			i += size
			continue
		}
		switch {
		case c < 0x20 || c == 0x7f:
			dst, *altered = append(dst, replacement...), true
		case c == '#' && i == 0 && rules.hashFirst:
			dst, *altered = append(dst, replacement...), true
		case c == '\\' && (i+1 == len(s) || rules.breaksBackslash[s[i+1]]):
			// The next byte is looked at before replacement, which is
			// safe: every byte in breaksBackslash is printable ASCII
			// and is never replaced itself.
			dst, *altered = append(dst, replacement...), true
		case rules.escaped[c]:
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
		i++
	}
	return dst
}

func appendValue(dst []byte, v pipeline.Value, altered *bool) []byte {
	switch v.Kind {
	case pipeline.Float:
		return strconv.AppendFloat(dst, v.Float(), 'g', -1, 64)
	case pipeline.Int:
		return append(strconv.AppendInt(dst, v.Int(), 10), 'i')
	case pipeline.Uint:
		return append(strconv.AppendUint(dst, v.Uint(), 10), 'u')
	case pipeline.Bool:
		return strconv.AppendBool(dst, v.Bool())
	case pipeline.String:
		return appendString(dst, v.Str(), altered)
	}
	panic("bug: unknown pipeline.Kind " + strconv.Itoa(int(v.Kind)))
}

// appendString writes a quoted string field value, and sets *altered when
// it replaced a byte.
func appendString(dst []byte, s string, altered *bool) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			var size int
			dst, size = appendNonASCII(dst, s[i:], altered)
			i += size
			continue
		}
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
		i++
	}
	return append(dst, '"')
}

// appendNonASCII appends the rune that starts s, which does not start with
// an ASCII byte, or U+FFFD if s starts with an invalid byte, and returns
// how many bytes of s it consumed; it sets *altered when it replaced one.
func appendNonASCII(dst []byte, s string, altered *bool) ([]byte, int) {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size == 1 {
		*altered = true
		return append(dst, replacement...), 1
	}
	return append(dst, s[:size]...), size
}
