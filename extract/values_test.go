package extract

import (
	"bytes"
	"strings"
	"testing"

	"github.com/go-logfmt/logfmt"
	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fastjson"
)

// kv is a pair as a rule reads it: escaped values unescaped.
type kv struct {
	key, value string
	hasValue   bool
}

func resolved(t *testing.T, pairs []pair) []kv {
	t.Helper()
	var out []kv
	for _, p := range pairs {
		text, ok := p.text()
		if !ok {
			t.Errorf("pair %q=%q kept by the scanner does not unquote", p.key, p.value)
		}
		out = append(out, kv{p.key, text, p.hasValue})
	}
	return out
}

func TestScanLogfmt(t *testing.T) {
	tests := []struct {
		name, line string
		want       []kv
	}{
		{name: "empty", line: "", want: nil},
		{name: "simple", line: "a=1 b=two", want: []kv{{"a", "1", true}, {"b", "two", true}}},
		{name: "quoted with spaces", line: `msg="request done" level=info`, want: []kv{{"msg", "request done", true}, {"level", "info", true}}},
		{name: "escaped quote and newline", line: `msg="say \"hi\"\nbye"`, want: []kv{{"msg", "say \"hi\"\nbye", true}}},
		{name: "bare key and empty value", line: "flag a= b", want: []kv{{"flag", "", false}, {"a", "", false}, {"b", "", false}}},
		{name: "empty quoted", line: `a="" b=1`, want: []kv{{"a", "", false}, {"b", "1", true}}},
		{name: "tabs and repeated spaces", line: "a=1\t\tb=2   c=3", want: []kv{{"a", "1", true}, {"b", "2", true}, {"c", "3", true}}},
		{name: "garbage token skipped", line: `a=1 b=x"y c=3`, want: []kv{{"a", "1", true}, {"c", "3", true}}},
		{name: "equals in bare value skipped", line: `a=b=c d=4`, want: []kv{{"d", "4", true}}},
		{name: "unterminated quote", line: `a=1 b="open`, want: []kv{{"a", "1", true}}},
		{name: "leading equals", line: `=x a=1`, want: []kv{{"a", "1", true}}},
		{name: "unicode escape", line: `u="\u00e9"`, want: []kv{{"u", "é", true}}},
		{name: "invalid escape", line: `u="\q" v=1`, want: []kv{{"v", "1", true}}},
		{name: "invalid utf-8 key skipped", line: "\xff=1 a=2", want: []kv{{"a", "2", true}}},
		{name: "duplicate keys kept in order", line: "a=1 a=2", want: []kv{{"a", "1", true}, {"a", "2", true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := resolved(t, scanLogfmt(tc.line, nil))
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(kv{})); diff != "" {
				t.Errorf("scanLogfmt(%q) (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

// FuzzLogfmt holds scanLogfmt to what github.com/go-logfmt/logfmt decodes,
// on every line that decoder accepts.
func FuzzLogfmt(f *testing.F) {
	for _, s := range []string{`a=1 b="x y" c`, `msg="a\"b" t=1.5s`, `x=`, `"a"=1`, `a=b=c`, `a="\u00e9\n"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if bytes.ContainsAny([]byte(line), "\n\r") {
			return // lines never hold line breaks
		}
		var want []kv
		dec := logfmt.NewDecoder(bytes.NewReader([]byte(line)))
		for dec.ScanRecord() {
			for dec.ScanKeyval() {
				want = append(want, kv{key: string(dec.Key()), value: string(dec.Value()), hasValue: dec.Value() != nil})
			}
		}
		if dec.Err() != nil {
			return // malformed: we are lenient where the decoder gives up
		}
		got := resolved(t, scanLogfmt(line, nil))
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(kv{})); diff != "" {
			t.Errorf("scanLogfmt(%q) (-go-logfmt +ours):\n%s", line, diff)
		}
	})
}

func TestJSONPath(t *testing.T) {
	doc := fastjson.MustParse(`{"http":{"status":200,"route":"/a"},"id.orig_h":"10.0.0.1","id":{"resp_p":53},
		"peers":[{"fails":1},{"fails":2}],"a":{"b.c":{"d":"deep"}},"n":null,"s":"x\"y"}`)
	tests := []struct {
		path string
		want string // JSON of the value found, "" when none
	}{
		{"http.status", "200"},
		{"http.route", `"/a"`},
		{"id.orig_h", `"10.0.0.1"`},
		{"id.resp_p", "53"},
		{"peers.1.fails", "2"},
		{"peers.2.fails", ""},
		{"a.b.c.d", `"deep"`},
		{"n", "null"},
		{"s", `"x\"y"`},
		{"missing", ""},
		{"http.status.x", ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got := ""
			if v := newJSONPath(tc.path).lookup(doc, 0); v != nil {
				got = v.String()
			}
			if got != tc.want {
				t.Errorf("lookup(%q) = %s, want %s", tc.path, got, tc.want)
			}
		})
	}
}

// TestLogfmtLongEscapedValue reads a quoted value with an escape longer
// than go-logfmt's Decoder takes (its bufio.Scanner stops at 64 KiB): it
// is unescaped in full, not replaced by "".
func TestLogfmtLongEscapedValue(t *testing.T) {
	long := strings.Repeat("a", 70000)
	line := `t=x msg="` + long + `\"b\u00e9" n=1`
	m := newLogfmtMatcher([]string{"msg", "n"})
	m.data = []bool{true, true}
	lc := &lineCtx{}
	lc.reset(line)
	vals := make([]value, 2)
	if !m.fill(lc, vals) {
		t.Fatal("line not taken")
	}
	if want := long + `"bé`; vals[0].s != want || !vals[0].ok {
		t.Errorf("msg: ok %v, %d bytes %.20q..., want the unescaped %d bytes", vals[0].ok, len(vals[0].s), vals[0].s, len(want))
	}
	if vals[1] != (value{s: "1", ok: true}) {
		t.Errorf("n: %+v", vals[1])
	}
}

// goLogfmtUnquote unquotes the quoted value through go-logfmt's decoder.
func goLogfmtUnquote(quoted string) (string, bool) {
	dec := logfmt.NewDecoder(strings.NewReader("k=" + quoted))
	if !dec.ScanRecord() || !dec.ScanKeyval() || dec.Err() != nil {
		return "", false
	}
	return string(dec.Value()), true
}

// FuzzValidEscapes holds validEscapes, which the scanner checks quoted
// values with, and unescapeLogfmt, which a rule reading the value then
// runs, to go-logfmt's unquoting: a value the scanner keeps always
// unquotes, to what go-logfmt gives.
func FuzzValidEscapes(f *testing.F) {
	for _, s := range []string{`a\"b`, `\u00e9`, `\ud83d\ude00`, `\ud83dx`, `\q`, "a\\\tb", `\u12`, `x\`, "\xff\\n",
		`\ud83d\u0041`, `\uDC00\uD800`, "\uFFFD\\/\xed\xa0\x80", `\u+123`, `\b\f\r\'`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, "\n\r") || !strings.Contains(s, `\`) {
			return // lines never hold line breaks; without escapes nothing is unquoted
		}
		esc := false
		for i := 0; i < len(s); i++ {
			switch {
			case esc:
				esc = false
			case s[i] == '\\':
				esc = true
			case s[i] == '"':
				return // the quoted value would end here
			}
		}
		if esc {
			return // the closing quote would be escaped
		}
		want, wantOK := goLogfmtUnquote(`"` + s + `"`)
		if got := validEscapes(s); got != wantOK {
			t.Errorf("validEscapes(%q) = %v, go-logfmt unquotes it: %v", s, got, wantOK)
		}
		got, ok := unescapeLogfmt(s, []byte{})
		if ok != wantOK || ok && string(got) != want {
			t.Errorf("unescapeLogfmt(%q) = %q, %v; go-logfmt %q, %v", s, got, ok, want, wantOK)
		}
	})
}
