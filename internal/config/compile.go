package config

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"

	"github.com/logmetrics/logmetrics/extract"
)

// ruleKey names a rule the way extract.RuleError does.
type ruleKey struct{ source, rule string }

// rulePlaces says where a rule and its parts are in the file, keyed by
// extract.RuleError's Part: "regex", "time.from", "tags.<key>", ...
type rulePlaces struct {
	rule  hcl.Range
	parts map[string]hcl.Range
}

// at is the range to blame for part: the part itself, else its block
// ("time" for "time.location" when location was left out), else the rule.
func (p *rulePlaces) at(part string) hcl.Range {
	if r, ok := p.parts[part]; ok {
		return r
	}
	if head, _, ok := strings.Cut(part, "."); ok {
		if r, ok := p.parts[head]; ok {
			return r
		}
	}
	return p.rule
}

// compile runs extract.Compile over cfg, the rules that passed this
// package's checks, and turns its errors into diagnostics on the attributes
// they name. The compiled extractor is dropped: cmd compiles Extract again
// when it runs, and Load stays free of runtime state.
func (l *loader) compile(cfg extract.Config) {
	if len(cfg.Sources) == 0 {
		return
	}
	_, err := extract.Compile(cfg)
	for _, err := range flatten(err) {
		var re *extract.RuleError
		if !errors.As(err, &re) {
			// Compile promises RuleErrors; anything else still must not
			// pass silently.
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid rules",
				Detail:   sentence(err.Error()),
			})
			continue
		}
		p, ok := l.places[ruleKey{re.Source, re.Rule}]
		if !ok {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid rule",
				Detail:   sentence(re.Error()),
			})
			continue
		}
		l.errorf(p.at(re.Part), &p.rule, partSummary(re.Part), "%s", sentence(re.Err.Error()))
	}
}

// flatten lists the errors in err, opening errors.Join trees.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// partSummary is a diagnostic's Summary for a RuleError Part.
func partSummary(part string) string {
	head, key, _ := strings.Cut(part, ".")
	switch head {
	case "regex":
		return "Invalid regex"
	case "time":
		return "Invalid " + part
	case "tags":
		return "Invalid tag " + strconv.Quote(key)
	case "fields":
		if key == "" {
			return "Invalid fields"
		}
		return "Invalid field " + strconv.Quote(key)
	case "require":
		return "Invalid require " + strconv.Quote(key)
	case "aggregate":
		return "Invalid aggregate"
	case "rewrite":
		return "Invalid rewrite"
	}
	return "Invalid rule"
}

// sentence makes an error text, lower case without a final period as Go
// errors are, into the Detail sentence of a diagnostic.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
