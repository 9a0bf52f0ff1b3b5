package extract

import (
	"errors"
	"math/rand"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/quick"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
)

// rewriteRule reads a line "N VALUE" (VALUE may hold anything, spaces
// too) into field n and tag p, rewritten by rws.
func rewriteRule(rws ...Rewrite) Rule {
	return Rule{Name: "r", Mode: Regex, Pattern: `^(?s)(?P<n>\d+) (?P<v>.*)$`,
		Tags: []TagSpec{{Key: "p", From: "v"}}, Rewrites: rws,
		Fields: []FieldSpec{{Key: "n", From: "n", Type: TypeInt}}}
}

// tagOf extracts "1 "+value and returns tag p of the point, whether it
// has one, and the rule's Missing count.
func tagOf(t *testing.T, ex *Extractor, value string) (string, bool, uint64) {
	t.Helper()
	var rec pipeline.Record
	ex.Extract(&pipeline.Line{Source: "s", Text: "1 " + value}, &rec)
	if len(rec.Points) != 1 {
		t.Fatalf("%q made %d points, want 1", value, len(rec.Points))
	}
	missing := ex.Stats().Rules[0].Missing
	for _, tag := range rec.Points[0].Tags {
		if tag.Key == "p" {
			return tag.Value, true, missing
		}
	}
	return "", false, missing
}

var idRewrite = Rewrite{Name: "v", Regex: `/[0-9]+`, Replace: "/:id"}

func TestRewrite(t *testing.T) {
	for _, tc := range []struct {
		name     string
		value    string
		rewrites []Rewrite
		static   string // the source's tag p, if any
		want     string // "" for no tag p
		missing  uint64
	}{
		{name: "id", value: "/api/items/123", rewrites: []Rewrite{idRewrite}, want: "/api/items/:id"},
		{name: "another id, the same tag", value: "/api/items/456", rewrites: []Rewrite{idRewrite}, want: "/api/items/:id"},
		{name: "every match", value: "/users/7/orders/99", rewrites: []Rewrite{idRewrite}, want: "/users/:id/orders/:id"},
		{name: "no match, the value as it is", value: "/static/app.js", rewrites: []Rewrite{idRewrite}, want: "/static/app.js"},
		{name: "no rewrites", value: "/api/items/123", want: "/api/items/123"},
		{name: "in order: the query string, then ids", value: "/search/12?q=3",
			rewrites: []Rewrite{{Name: "v", Regex: `\?.*$`}, idRewrite}, want: "/search/:id"},
		{name: "each sees the one before", value: "a1b22",
			rewrites: []Rewrite{{Name: "v", Regex: `[0-9]+`, Replace: "N"}, {Name: "v", Regex: `N`, Replace: "<num>"}}, want: "a<num>b<num>"},
		{name: "numbered reference", value: "/v2/items/3",
			rewrites: []Rewrite{{Name: "v", Regex: `^/(v[0-9]+)/.*$`, Replace: "api-$1"}}, want: "api-v2"},
		{name: "named references", value: "/v2/items/3",
			rewrites: []Rewrite{{Name: "v", Regex: `^/(?P<ver>v[0-9]+)/(?P<kind>[a-z]+)/.*$`, Replace: "${kind}@$ver"}}, want: "items@v2"},
		{name: "braces end a number", value: "/v2/x",
			rewrites: []Rewrite{{Name: "v", Regex: `^/v([0-9]+)/.*$`, Replace: "${1}x"}}, want: "2x"},
		{name: "$$ is a dollar sign, a lone $ itself", value: "price 10",
			rewrites: []Rewrite{{Name: "v", Regex: `[0-9]+`, Replace: "$$-$"}}, want: "price $-$"},
		{name: "a group that took no part is empty", value: "/a",
			rewrites: []Rewrite{{Name: "v", Regex: `^/a(b)?$`, Replace: "a[$1]"}}, want: "a[]"},
		{name: "empty matches, as ReplaceAllString", value: "ab",
			rewrites: []Rewrite{{Name: "v", Regex: `x*`, Replace: "-"}}, want: "-a-b-"},
		{name: "whole characters", value: "/café/123/日本",
			rewrites: []Rewrite{idRewrite, {Name: "v", Regex: `.$`, Replace: "?"}}, want: "/café/:id/日?"},
		{name: "emptied: no tag, counted", value: "/healthz",
			rewrites: []Rewrite{{Name: "v", Regex: `^/healthz$`}}, want: "", missing: 1},
		{name: "emptied by the second", value: "12",
			rewrites: []Rewrite{{Name: "v", Regex: `1`}, {Name: "v", Regex: `2`}}, want: "", missing: 1},
		{name: "emptied: the source's tag instead, counted", value: "/healthz", static: "none",
			rewrites: []Rewrite{{Name: "v", Regex: `.+`}}, want: "none", missing: 1},
		{name: "the source's tag stays a fallback", value: "/a/1", static: "none",
			rewrites: []Rewrite{idRewrite}, want: "/a/:id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := Source{Name: "s", Rules: []Rule{rewriteRule(tc.rewrites...)}}
			if tc.static != "" {
				src.Tags = []pipeline.Tag{{Key: "p", Value: tc.static}}
			}
			ex, err := Compile(Config{Sources: []Source{src}})
			if err != nil {
				t.Fatal(err)
			}
			got, ok, missing := tagOf(t, ex, tc.value)
			if ok != (tc.want != "") || got != tc.want {
				t.Errorf("tag p of %q = %q (present %v), want %q", tc.value, got, ok, tc.want)
			}
			if missing != tc.missing {
				t.Errorf("Missing = %d, want %d", missing, tc.missing)
			}
		})
	}
}

// TestRewriteTagOnly: a value that is a tag and a field is rewritten for
// the tag only; two tags of one value are both rewritten.
func TestRewriteTagOnly(t *testing.T) {
	r := rewriteRule(idRewrite)
	r.Tags = append(r.Tags, TagSpec{Key: "q", From: "v"})
	r.Fields = append(r.Fields, FieldSpec{Key: "raw", From: "v", Type: TypeString})
	ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{r}}}})
	if err != nil {
		t.Fatal(err)
	}
	var rec pipeline.Record
	ex.Extract(&pipeline.Line{Source: "s", Text: "1 /a/42", ReadAt: time.Unix(1, 0)}, &rec)
	var buf []byte
	for i := range rec.Points {
		buf = sink.AppendPoint(buf, &rec.Points[i])
	}
	if got, want := string(buf), "r,p=/a/:id,q=/a/:id n=1i,raw=\"/a/42\" 1000000000\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRewriteErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rule    func() Rule
		parts   []string
		details []string
	}{
		{"bad regex", func() Rule { return rewriteRule(Rewrite{Name: "v", Regex: "(", Replace: "x"}) },
			[]string{"rewrite.1.regex"}, []string{"bad regular expression"}},
		{"group number out of range", func() Rule { return rewriteRule(Rewrite{Name: "v", Regex: "(a)", Replace: "$1$2"}) },
			[]string{"rewrite.1.replace"}, []string{"$2 refers to group 2, but the regex has 1 group"}},
		{"no groups", func() Rule { return rewriteRule(Rewrite{Name: "v", Regex: "a", Replace: "${1}"}) },
			[]string{"rewrite.1.replace"}, []string{"$1 refers to group 1, but the regex has no groups"}},
		{"unknown name", func() Rule { return rewriteRule(Rewrite{Name: "v", Regex: "(?P<a>a)", Replace: "$a$b"}) },
			[]string{"rewrite.1.replace"}, []string{`no group named "b" for $b`}},
		{"number runs into letters", func() Rule { return rewriteRule(Rewrite{Name: "v", Regex: "(a)", Replace: "$1st"}) },
			[]string{"rewrite.1.replace"}, []string{`group 1 followed by "st" write $${1}st`}},
		{"leading zero is a name", func() Rule { return rewriteRule(Rewrite{Name: "v", Regex: "(a)", Replace: "$01"}) },
			[]string{"rewrite.1.replace"}, []string{`no group named "01"`}},
		{"unclosed brace", func() Rule { return rewriteRule(Rewrite{Name: "v", Regex: "(a)", Replace: "${1"}) },
			[]string{"rewrite.1.replace"}, []string{`"$${1" is not a reference`}},
		{"empty braces", func() Rule { return rewriteRule(Rewrite{Name: "v", Regex: "(a)", Replace: "${}"}) },
			[]string{"rewrite.1.replace"}, []string{`"$${" is not a reference`}},
		{"replace not UTF-8", func() Rule { return rewriteRule(Rewrite{Name: "v", Regex: "a", Replace: "\xff"}) },
			[]string{"rewrite.1.replace"}, []string{"not valid UTF-8"}},
		{"control character in replace", func() Rule { return rewriteRule(Rewrite{Name: "v", Regex: "a", Replace: "x\ty"}) },
			[]string{"rewrite.1.replace"}, []string{`replace holds the control character "\t"`}},
		{"not a tag", func() Rule { return rewriteRule(idRewrite, Rewrite{Name: "w", Regex: "a"}) },
			[]string{"rewrite.2"}, []string{`no tag of rule "r" is made of "w": a rewrite names the value of a tag, one of "v"`}},
		{"a field", func() Rule { return rewriteRule(Rewrite{Name: "n", Regex: "a"}) },
			[]string{"rewrite.1"}, []string{`"n" is the value of field "n", and rewrites change only tag values`}},
		{"no tags", func() Rule { r := rewriteRule(Rewrite{Name: "v", Regex: "a"}); r.Tags = nil; return r },
			[]string{"rewrite.1"}, []string{`rule "r" has no tags`}},
		{"empty name", func() Rule { return rewriteRule(Rewrite{Regex: "a"}) },
			[]string{"rewrite.1"}, []string{"needs the name of the value of a tag"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{tc.rule()}}}})
			var parts, details []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var re *RuleError
				if !errors.As(e, &re) {
					t.Fatalf("not a RuleError: %v", e)
				}
				parts, details = append(parts, re.Part), append(details, re.Err.Error())
			}
			if diff := cmp.Diff(tc.parts, parts); diff != "" {
				t.Errorf("parts (-want +got):\n%s", diff)
			}
			for i, want := range tc.details {
				if i >= len(details) || !strings.Contains(details[i], want) {
					t.Errorf("error %d = %q, want it to contain %q", i, details, want)
				}
			}
		})
	}
}

// TestRewriteValidReferences: what Expand reads as itself or as a group is
// no error.
func TestRewriteValidReferences(t *testing.T) {
	r := rewriteRule(Rewrite{Name: "v", Regex: `^(?P<a>x)(y)?$`, Replace: "$1 ${1} $2 $a ${a} $$1 $ $. $-"})
	if _, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{r}}}}); err != nil {
		t.Fatal(err)
	}
}

// TestRewriteNoMatchNoAlloc: a value no rewrite matches costs no
// allocation; one a rewrite matches does.
func TestRewriteNoMatchNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{
		rewriteRule(Rewrite{Name: "v", Regex: `\?.*$`}, idRewrite)}}}})
	if err != nil {
		t.Fatal(err)
	}
	var rec pipeline.Record
	for _, tc := range []struct {
		text string
		zero bool
	}{{"1 /static/app.js", true}, {"1 /api/items/123", false}} {
		line := pipeline.Line{Source: "s", Text: tc.text}
		ex.Extract(&line, &rec) // warm up
		allocs := testing.AllocsPerRun(1000, func() { ex.Extract(&line, &rec) })
		t.Logf("%q: %v allocations per line", tc.text, allocs)
		if (allocs == 0) != tc.zero {
			t.Errorf("%q: %v allocations per line, want zero: %v", tc.text, allocs, tc.zero)
		}
	}
}

// rewritePool are rewrites the property test draws from: some empty
// values, some insert or delete characters, one matches the empty string.
var rewritePool = []Rewrite{
	idRewrite,
	{Name: "v", Regex: `\?.*$`},
	{Name: "v", Regex: `^.*$`},
	{Name: "v", Regex: `^[a-z]+$`},
	{Name: "v", Regex: `[^/]`, Replace: ""},
	{Name: "v", Regex: `x*`, Replace: "é"},
	{Name: "v", Regex: `(.)(.)`, Replace: "$2$1"},
	{Name: "v", Regex: `(?P<c>[ ,=\\])`, Replace: "${c}${c}"},
	{Name: "v", Regex: `.$`, Replace: "\\"}, // a trailing backslash, written as U+FFFD
	{Name: "v", Regex: `\s+`, Replace: ""},
	{Name: "v", Regex: `[\x{80}-\x{10FFFF}]`, Replace: "$0$0"},
}

// valueParts make values that hit the pool: ids, separators, characters
// line protocol escapes or replaces, multibyte ones and bytes that are not
// UTF-8.
var valueParts = []string{"/", "1", "23", "api", "x", "?", "q=1", " ", ",", "=", "\\", "é", "日本", "\t", "\xff", "\xe6\x97", "\x00", "\"", "#"}

type rewriteCase struct {
	Value    string
	Rewrites []Rewrite
}

// Generate makes testing/quick draw values from valueParts and up to three
// rewrites from rewritePool.
func (rewriteCase) Generate(r *rand.Rand, size int) reflect.Value {
	var c rewriteCase
	var b strings.Builder
	for range r.Intn(size + 1) {
		b.WriteString(valueParts[r.Intn(len(valueParts))])
	}
	c.Value = b.String()
	for range r.Intn(4) {
		c.Rewrites = append(c.Rewrites, rewritePool[r.Intn(len(rewritePool))])
	}
	return reflect.ValueOf(c)
}

// TestRewriteProperty: for arbitrary values and rewrites, a point never
// has an empty tag value (an emptied tag is left out and counted), a value
// that is valid UTF-8 stays valid UTF-8, and the point encodes to line
// protocol whose tag values decode back not empty and valid UTF-8.
func TestRewriteProperty(t *testing.T) {
	err := quick.Check(func(c rewriteCase) bool {
		return checkRewrite(t, c.Value, c.Rewrites)
	}, &quick.Config{MaxCount: 3000})
	if err != nil {
		t.Error(err)
	}
}

// FuzzRewrite holds any value, regex and replace that compile to the same
// properties as TestRewriteProperty.
func FuzzRewrite(f *testing.F) {
	f.Add("/api/items/123", `/[0-9]+`, "/:id")
	f.Add("/healthz", `^.*$`, "")
	f.Add("a\xffb", `(.)`, "$1$1")
	f.Add("x", `x*`, "\\")
	f.Fuzz(func(t *testing.T, value, regex, replace string) {
		rw := Rewrite{Name: "v", Regex: regex, Replace: replace}
		if _, errs := compileRewrite(rw, "rewrite.1"); len(errs) > 0 {
			t.Skip()
		}
		checkRewrite(t, value, []Rewrite{rw})
	})
}

func checkRewrite(t *testing.T, value string, rws []Rewrite) bool {
	t.Helper()
	ex, err := Compile(Config{Sources: []Source{{Name: "s", Rules: []Rule{rewriteRule(rws...)}}}})
	if err != nil {
		t.Fatalf("%+v: %v", rws, err)
	}
	var rec pipeline.Record
	ex.Extract(&pipeline.Line{Source: "s", Text: "1 " + value}, &rec)
	if len(rec.Points) != 1 {
		if st := ex.Stats().Rules[0]; st.SeriesTooLong == 1 {
			return true // dropped, counted: no point to check
		}
		t.Errorf("%q %+v: %d points", value, rws, len(rec.Points))
		return false
	}
	p := &rec.Points[0]
	i := slices.IndexFunc(p.Tags, func(tag pipeline.Tag) bool { return tag.Key == "p" })
	missing := ex.Stats().Rules[0].Missing
	switch {
	case i < 0 && value != "" && missing != 1:
		t.Errorf("%q %+v: tag left out without being counted (Missing %d)", value, rws, missing)
		return false
	case i >= 0 && p.Tags[i].Value == "":
		t.Errorf("%q %+v: empty tag value", value, rws)
		return false
	case i >= 0 && utf8.ValidString(value) && !utf8.ValidString(p.Tags[i].Value):
		t.Errorf("%q %+v: tag %q is not UTF-8, the value was", value, rws, p.Tags[i].Value)
		return false
	}
	lp := sink.AppendPoint(nil, p)
	dec := lineprotocol.NewDecoderWithBytes(lp)
	for dec.Next() {
		if _, err := dec.Measurement(); err != nil {
			t.Errorf("%q %+v: %q: %v", value, rws, lp, err)
			return false
		}
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				t.Errorf("%q %+v: %q: %v", value, rws, lp, err)
				return false
			}
			if k == nil {
				break
			}
			if len(v) == 0 || !utf8.Valid(v) {
				t.Errorf("%q %+v: encoded tag %s=%q", value, rws, k, v)
				return false
			}
		}
	}
	return true
}

// TestMatchesOnlyEmpty: the patterns check warns about can match only an
// empty value (none of the probes), and the others match some non-empty
// probe, so that the warning is never about a rewrite that can apply.
func TestMatchesOnlyEmpty(t *testing.T) {
	probes := []string{"a", "/api/items/1", " ", "a\n", "\nb", "a\n\nb", "é"}
	for _, tc := range []struct {
		pattern string
		want    bool
	}{
		{`^$`, true},
		{`\A\z`, true},
		{`(^$)`, true},
		{`^(?:)$`, true},
		{`^\b?$`, true},
		{`^$|\A\z`, true},
		{`(?:^$)+`, true},
		{`^`, false},       // prefixes every value
		{`$`, false},       // appends
		{`(?m)^$`, false},  // an empty line inside a value
		{`^$|x`, false},    // the second alternative applies
		{`(?:^$)*`, false}, // matches everywhere, empty
		{`^\s*$`, false},   // white space
		{`^.*$`, false},
		{`^$x`, false}, // matches nothing at all: not this warning
		{`[`, false},   // does not parse: compileRewrite says so
	} {
		got := MatchesOnlyEmpty(tc.pattern)
		if got != tc.want {
			t.Errorf("MatchesOnlyEmpty(%q) = %v, want %v", tc.pattern, got, tc.want)
		}
		re, err := regexp.Compile(tc.pattern)
		if err != nil {
			continue
		}
		matched := slices.ContainsFunc(probes, re.MatchString)
		if got && matched {
			t.Errorf("%q matches a non-empty probe, but MatchesOnlyEmpty says it cannot", tc.pattern)
		}
	}
}
