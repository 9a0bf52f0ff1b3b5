package extract

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// partError is an error about one part of a rule; Compile wraps it into a
// RuleError once it knows the rule.
type partError struct {
	part string
	err  error
}

func (e *partError) Error() string { return e.part + ": " + e.err.Error() }

// Compile checks the rules and compiles them once: regular expressions,
// JSON paths, time layouts and the order of tags and fields. Every problem
// found is returned, each as a *RuleError, joined with errors.Join.
func Compile(cfg Config) (*Extractor, error) {
	e := &Extractor{
		sources: make(map[string]*source, len(cfg.Sources)),
		log:     slog.New(slog.DiscardHandler),
		sep:     newSeparator(),
		files:   map[pipeline.FileID]*fileState{},
		conf:    cfg,
		applied: make(chan struct{}),
	}
	var errs []error
	maxNames := 0
	for _, sc := range cfg.Sources {
		src := &source{name: sc.Name, pending: sc.Pending}
		e.sources[sc.Name] = src
		e.order = append(e.order, src)
		for _, rc := range sc.Rules {
			r, rerrs := compileRule(sc, rc)
			for _, err := range rerrs {
				var pe *partError
				part := ""
				if errors.As(err, &pe) {
					part, err = pe.part, pe.err
				}
				errs = append(errs, &RuleError{Source: sc.Name, Rule: rc.Name, Part: part, Err: err})
			}
			if r != nil {
				src.rules = append(src.rules, r)
				maxNames = max(maxNames, len(r.names))
				if r.agg != nil {
					src.aggs = append(src.aggs, r)
					e.aggregates = true
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	e.maxNames = maxNames // room for the values of any rule
	e.w = e.newWorker()
	return e, nil
}

// rule is a compiled Rule.
type rule struct {
	name, measurement string
	matcher           matcher
	// names are the values the rule reads; vals[i] holds names[i].
	names   []string
	require []require
	time    *timeParser
	timeAt  int // index of the time value in names
	tags    []tagPlan
	fields  []fieldPlan
	// agg is the state of an aggregate rule, nil for a rule that makes a
	// point per line.
	agg *aggregator
	// counted is what Stats shows; uncounted takes the counts of replayed
	// lines, which were counted before the restart (see counts).
	counted, uncounted ruleCounters
}

type require struct {
	at int
	op Op
	s  string
	re *regexp.Regexp
}

func (q *require) holds(v value) bool {
	switch q.op {
	case Equals:
		return v.ok && !v.composite && v.s == q.s
	case NotEquals:
		return !(v.ok && !v.composite && v.s == q.s)
	case Matches:
		return v.ok && !v.composite && q.re.MatchString(v.s)
	default:
		return !(v.ok && !v.composite && q.re.MatchString(v.s))
	}
}

// tagPlan is one tag key of a rule's points, in sorted order. The value
// comes from the line (at >= 0) when present, else from static.
type tagPlan struct {
	key    string
	at     int
	static string
	// rewrites change the value from the line, in order (rewrite.go).
	rewrites []rewrite
}

type fieldPlan struct {
	key   string
	at    int
	typ   Type
	scale scaler
}

// compileRule compiles one rule, returning every problem it finds.
func compileRule(sc Source, rc Rule) (*rule, []error) {
	var errs []error
	fail := func(part string, format string, args ...any) {
		errs = append(errs, &partError{part, fmt.Errorf(format, args...)})
	}
	r := &rule{name: rc.Name, measurement: rc.Measurement}
	if r.measurement == "" {
		r.measurement = rc.Name
	}
	index := map[string]int{}
	nameAt := func(name string) int {
		if i, ok := index[name]; ok {
			return i
		}
		index[name] = len(r.names)
		r.names = append(r.names, name)
		return len(r.names) - 1
	}
	// parts remembers which attribute first used each name, to blame it when
	// the name turns out not to exist; data marks the names of tags and
	// fields, the values a JSON or logfmt line must hold one of.
	parts := map[string]string{}
	data := map[string]bool{}
	use := func(name, part string) int {
		if _, ok := parts[name]; !ok {
			parts[name] = part
		}
		if name == "" {
			fail(part, "the name of a value must not be empty")
		}
		return nameAt(name)
	}

	if rc.Time != nil {
		r.timeAt = use(rc.Time.From, "time.from")
		tp, err := compileTime(rc.Time.Layout, rc.Time.Location)
		if err != nil {
			errs = append(errs, err)
		}
		r.time = tp
	} else if rc.Aggregate != nil {
		fail("aggregate", "an aggregate block needs a time block: windows are cut by the time written in the line")
	}

	for _, q := range rc.Require {
		part := "require." + q.Name
		cq := require{at: use(q.Name, part), op: q.Op, s: q.Value}
		if q.Op == Matches || q.Op == NotMatches {
			re, err := regexp.Compile(q.Value)
			if err != nil {
				fail(part, "bad regular expression: %v", err)
			}
			cq.re = re
		}
		r.require = append(r.require, cq)
	}

	rewrites := map[string][]rewrite{}
	for i, rw := range rc.Rewrites {
		part := "rewrite." + strconv.Itoa(i+1)
		crw, err := compileRewrite(rw, part)
		errs = append(errs, err...)
		rewrites[rw.Name] = append(rewrites[rw.Name], crw)
	}

	tagKeys := map[string]bool{}
	for _, t := range rc.Tags {
		part := "tags." + t.Key
		switch {
		case t.Key == "":
			fail(part, "a tag key must not be empty")
		case t.Key == "time":
			fail(part, `"time" cannot be a tag key: InfluxDB reserves it for the timestamp`)
		case tagKeys[t.Key]:
			fail(part, "tag %q is set twice", t.Key)
		}
		tagKeys[t.Key] = true
		r.tags = append(r.tags, tagPlan{key: t.Key, at: use(t.From, part), rewrites: rewrites[t.From]})
		data[t.From] = true
	}
	for i, rw := range rc.Rewrites {
		if msg := rewriteTarget(rc, rw.Name); msg != "" {
			fail("rewrite."+strconv.Itoa(i+1), "%s", msg)
		}
	}
	for _, t := range sc.Tags {
		if !tagKeys[t.Key] {
			r.tags = append(r.tags, tagPlan{key: t.Key, at: -1, static: t.Value})
			continue
		}
		for i := range r.tags { // the rule's tag wins, the static one is its fallback
			if r.tags[i].key == t.Key {
				r.tags[i].static = t.Value
			}
		}
	}
	sort.Slice(r.tags, func(i, j int) bool { return r.tags[i].key < r.tags[j].key })

	if len(rc.Fields) == 0 {
		fail("fields", "rule %q has no fields: a point needs at least one", rc.Name)
	}
	fieldKeys := map[string]bool{}
	for _, f := range rc.Fields {
		part := "fields." + f.Key
		switch {
		case f.Key == "":
			fail(part, "a field key must not be empty")
		case f.Key == "time":
			fail(part, `"time" cannot be a field key: InfluxDB reserves it for the timestamp`)
		case fieldKeys[f.Key]:
			fail(part, "field %q is set twice", f.Key)
		case tagKeys[f.Key] || hasTag(sc.Tags, f.Key):
			fail(part, "%q is both a tag and a field; InfluxDB would return them as %s and %s_1: rename one", f.Key, f.Key, f.Key)
		}
		if f.Scale != 0 && f.Type != TypeFloat && f.Type != TypeDuration {
			fail(part, "scale applies to float and duration fields only")
		}
		fieldKeys[f.Key] = true
		r.fields = append(r.fields, fieldPlan{key: f.Key, at: use(f.From, part), typ: f.Type, scale: newScaler(f.Scale)})
		data[f.From] = true
	}
	sort.Slice(r.fields, func(i, j int) bool { return r.fields[i].key < r.fields[j].key })

	m, err := compileMatcher(rc, r.names, parts, data)
	errs = append(errs, err...)
	r.matcher = m
	if rc.Aggregate != nil {
		plan, err := compileAggregate(rc.Aggregate, r)
		errs = append(errs, err...)
		r.agg = newAggregator(plan)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}

func hasTag(tags []pipeline.Tag, key string) bool {
	for _, t := range tags {
		if t.Key == key {
			return true
		}
	}
	return false
}

// compileMatcher builds the matcher of the rule's mode for names; parts says
// which attribute to blame for a name that cannot exist, and data which
// names are tags or fields.
func compileMatcher(rc Rule, names []string, parts map[string]string, data map[string]bool) (matcher, []error) {
	var errs []error
	switch rc.Mode {
	case Regex:
		re, err := regexp.Compile(rc.Pattern)
		if err != nil {
			return nil, []error{&partError{"regex", fmt.Errorf("rule %q: bad regular expression: %v", rc.Name, err)}}
		}
		m := newRegexMatcher(rc.Pattern, re, len(names))
		for i, name := range names {
			for g, sub := range re.SubexpNames() {
				if sub == name && name != "" {
					m.groups[i] = append(m.groups[i], g)
				}
			}
			if len(m.groups[i]) == 0 {
				errs = append(errs, &partError{parts[name], fmt.Errorf("the regex of rule %q has no group named %q; name a group with (?P<%s>...)", rc.Name, name, name)})
			}
		}
		return m, errs
	case JSON:
		m := &jsonMatcher{}
		for _, name := range names {
			if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
				errs = append(errs, &partError{parts[name], fmt.Errorf("%q is not a JSON path: write keys separated by single dots, such as \"http.status\" or \"items.0.id\"", name)})
			}
			m.paths = append(m.paths, newJSONPath(name))
			m.data = append(m.data, data[name])
		}
		return m, errs
	case Logfmt:
		m := newLogfmtMatcher(names)
		for _, name := range names {
			if strings.ContainsAny(name, " =\"") {
				errs = append(errs, &partError{parts[name], fmt.Errorf("%q cannot be a logfmt key: keys have no spaces, '=' or '\"'", name)})
			}
			m.data = append(m.data, data[name])
		}
		return m, errs
	}
	return nil, []error{&partError{"", fmt.Errorf("bug: unknown mode %d", rc.Mode)}}
}
