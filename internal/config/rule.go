package config

import (
	"cmp"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/tailer"
)

// ruleChecker checks one rule block and fills its extract.Rule. A part that
// fails a check is reported and left out of the rule; a rule whose shape is
// wrong (no mode, no fields, a body gohcl refused) is marked unsound and not
// compiled at all, since extract.Compile's view of it would be misleading.
type ruleChecker struct {
	*loader
	source string
	name   string
	block  *hcl.Range // the rule's header, the Context of its diagnostics
	out    extract.Rule
	places *rulePlaces
	sound  bool
	// decodeFailed is set when gohcl refused part of the body.
	decodeFailed bool
	// multiline is set in a source with a multiline block; ml is that
	// block (its regexes nil where they are invalid).
	multiline bool
	ml        *tailer.Multiline
}

func (l *loader) rule(source string, rb *ruleBlockHCL, multiline bool, ml *tailer.Multiline) (extract.Rule, bool) {
	c := &ruleChecker{
		loader:    l,
		multiline: multiline,
		ml:        ml,
		source:    source,
		name:      rb.Name,
		block:     &rb.DefRange,
		out:       extract.Rule{Name: rb.Name, Measurement: rb.Name},
		places:    &rulePlaces{rule: rb.DefRange, parts: map[string]hcl.Range{}},
		sound:     true,
	}
	switch first, dup := l.ruleNames[rb.Name]; {
	case rb.Name == "":
		c.fail(rb.NameRange, "Empty rule name", "Give the rule a name, such as rule \"requests\"; it is also the default measurement.")
	case dup:
		c.fail(rb.NameRange, "Duplicate rule name",
			"A rule named %q is already defined at %s; rule names are unique in the whole file, so rename one of the two (two rules can still share a measurement).", rb.Name, first)
	default:
		l.ruleNames[rb.Name] = rb.NameRange
		l.places[ruleKey{source, rb.Name}] = c.places
	}

	body, examples := c.splitExamples(rb.Body)
	var r ruleHCL
	if !l.decode(body, &r) {
		// gohcl has said what is wrong; "no mode" or "no fields" would
		// mostly repeat it (a misspelt or mistyped attribute).
		c.sound, c.decodeFailed = false, true
	}
	c.mode(&r)
	if r.Measurement != nil {
		if *r.Measurement == "" {
			c.fail(r.MeasurementRange, "Empty measurement", "Set measurement to a name, or leave it out to use the rule's name, %q.", c.name)
		}
		c.out.Measurement = *r.Measurement
	}
	c.time(&r, rb)
	c.tags(r.Tags)
	c.fields(&r, rb)
	c.requires(r.Require)
	c.rewrites(r.Rewrite, rb.Body)
	c.aggregate(&r)
	c.checkExamples(examples, r.Time != nil) // last: an example keeps the rule as checked
	return c.out, c.sound
}

// fail reports a problem that makes the rule unsound.
func (c *ruleChecker) fail(subject hcl.Range, summary, detail string, args ...any) {
	c.errorf(subject, c.block, summary, detail, args...)
	c.sound = false
}

// mode checks that exactly one of regex, json and logfmt is set.
func (c *ruleChecker) mode(r *ruleHCL) {
	type setting struct {
		name string
		rng  hcl.Range
		mode extract.Mode
	}
	var set []setting
	if r.Regex != nil {
		set = append(set, setting{"regex", r.RegexRange, extract.Regex})
	}
	if r.JSON != nil && *r.JSON {
		set = append(set, setting{"json", r.JSONRange, extract.JSON})
	}
	if r.Logfmt != nil && *r.Logfmt {
		set = append(set, setting{"logfmt", r.LogfmtRange, extract.Logfmt})
	}
	slices.SortFunc(set, func(a, b setting) int { return cmp.Compare(a.rng.Start.Byte, b.rng.Start.Byte) })
	switch len(set) {
	case 0:
		if c.decodeFailed {
			return
		}
		c.fail(*c.block, "No extraction mode",
			"Rule %q must say how to read its lines: set exactly one of regex = \"...\", json = true or logfmt = true.", c.name)
		return
	case 1:
	default:
		for _, s := range set[1:] {
			c.fail(s.rng, "More than one extraction mode",
				"Rule %q sets both %s and %s; keep exactly one, or split it into two rules.", c.name, set[0].name, s.name)
		}
	}
	c.out.Mode = set[0].mode
	if c.multiline && set[0].mode != extract.Regex {
		// A joined record is lines separated by "\n": one JSON document
		// or logfmt line per record is what those modes read, and a
		// record that happens to be one would only hide the others.
		c.fail(set[0].rng, "Not for a multiline source",
			"Rule %q reads %s, but source %q joins lines into multi-line records (its multiline block), which are neither one JSON document nor one logfmt line; use a regex rule (with (?s) for . to match newlines), or put the rule in a source without a multiline block.", c.name, set[0].name, c.source)
	}
	if r.Regex != nil {
		// Lines never hold a line ending, so a trailing one can only be
		// the end of a heredoc (CRLF in a file written on Windows), and
		// would keep the pattern from matching.
		pat := strings.TrimSuffix(strings.TrimSuffix(*r.Regex, "\n"), "\r")
		c.out.Pattern = pat
		c.places.parts["regex"] = r.RegexValueRange
		if strings.TrimRight(pat, " \t") != pat {
			c.warnf(r.RegexValueRange, nil, "Regex ends in white space",
				"The regex of rule %q ends in spaces or tabs, which a line must then end with too; if that is not meant, remove them (a heredoc keeps trailing spaces).", c.name)
		}
		if slow, insts, limit := extract.SlowRegex(pat); slow {
			c.warnf(r.RegexValueRange, nil, "Regex too large for the fast matchers",
				"The regex of rule %q in source %q compiles to %d instructions, more than the %d Go's regexp runs with its backtracker, and has a shape logmetrics' own scanner does not take (such as a repeated group or \\b), so every line is matched by Go's NFA, about 4 times slower. Simplify it, or split it into rules with smaller regexes.", c.name, c.source, insts, limit)
		}
	}
}

func (c *ruleChecker) time(r *ruleHCL, rb *ruleBlockHCL) {
	t := r.Time
	if t == nil {
		c.untimed = append(c.untimed, UntimedRule{Source: c.source, Rule: c.name, Range: rb.DefRange})
		c.warnf(rb.DefRange, nil, "No time block",
			"Rule %q has no time block, so points are stamped when their line is read; a replay after a restart cannot reproduce them. Add a time block that reads the line's own timestamp.", c.name)
		return
	}
	c.out.Time = &extract.Time{From: t.From, Layout: t.Layout}
	c.places.parts["time"] = t.DefRange
	c.places.parts["time.from"] = t.FromRange
	c.places.parts["time.layout"] = t.LayoutRange
	if t.Location != nil {
		c.out.Time.Location = *t.Location
		c.places.parts["time.location"] = t.LocationRange
	}
}

// tags reads either form: a list of names, each its own tag key, or a map
// of tag key to name.
func (c *ruleChecker) tags(expr hcl.Expression) {
	sh, items := c.collection(expr)
	switch sh {
	case absent, failed:
		return
	case scalarShape:
		c.errorf(expr.Range(), c.block, "Invalid tags",
			"tags must be a list of names, such as [\"method\", \"status\"], or a map of tag key to name, such as { status_class = \"status\" }; it is neither.")
		return
	}
	seen := map[string]hcl.Range{}
	for _, it := range items {
		from, ok := c.str(it.Value, it.ValueRange, "A tag's name")
		if !ok {
			continue
		}
		key := it.Key
		if sh == listShape {
			key = from
		}
		if first, dup := seen[key]; dup {
			c.errorf(it.Range, c.block, "Duplicate tag", "Tag %q is already set at %s; remove one of the two.", key, first)
			continue
		}
		seen[key] = it.Range
		c.out.Tags = append(c.out.Tags, extract.TagSpec{Key: key, From: from})
		c.places.parts["tags."+key] = it.Range
	}
}

// typeNames lists the field types for diagnostics.
var typeNames = strings.Join(slices.Sorted(maps.Keys(extract.Types)), ", ")

// fieldDecl is a field from either the fields map or a field block.
type fieldDecl struct {
	spec  extract.FieldSpec
	rng   hcl.Range // what a duplicate points at
	place hcl.Range // what extract.Compile's errors point at
}

// fields reads the fields map and the field blocks into one list in file
// order, so that output and duplicate reports follow the file.
func (c *ruleChecker) fields(r *ruleHCL, rb *ruleBlockHCL) {
	var decls []fieldDecl
	declared := 0
	sh, items := c.collection(r.Fields)
	switch sh {
	case listShape, scalarShape:
		c.errorf(r.Fields.Range(), c.block, "Invalid fields",
			"fields must be a map of field name to type, such as { bytes = \"int\" }; use a field block for more options.")
		declared++ // reported; "no fields" would only repeat it
	case failed:
		declared++
	case mapShape:
		declared += len(items)
		for _, it := range items {
			name, ok := c.str(it.Value, it.ValueRange, "A field type")
			if !ok {
				continue
			}
			if t, ok := c.fieldType(name, it.ValueRange); ok {
				spec := extract.FieldSpec{Key: it.Key, From: it.Key, Type: t}
				decls = append(decls, fieldDecl{spec, it.Range, it.Range})
			}
		}
	}
	for _, f := range r.Field {
		declared++
		if d, ok := c.fieldBlock(f); ok {
			decls = append(decls, d)
		}
	}
	if declared == 0 && !c.decodeFailed {
		c.fail(rb.DefRange, "No fields",
			"Rule %q has no fields, and a point needs at least one: add fields = { name = \"float\" } or a field block.", c.name)
		return
	}
	slices.SortStableFunc(decls, func(a, b fieldDecl) int { return cmp.Compare(a.rng.Start.Byte, b.rng.Start.Byte) })
	seen := map[string]hcl.Range{}
	for _, d := range decls {
		if first, dup := seen[d.spec.Key]; dup {
			c.errorf(d.rng, c.block, "Duplicate field",
				"Field %q is already defined at %s; rename or remove one of the two.", d.spec.Key, first)
			continue
		}
		seen[d.spec.Key] = d.rng
		c.out.Fields = append(c.out.Fields, d.spec)
		c.places.parts["fields."+d.spec.Key] = d.place
	}
	if len(c.out.Fields) == 0 {
		c.sound = false // every field was reported; Compile would only add "no fields"
	}
}

func (c *ruleChecker) fieldBlock(f *fieldHCL) (fieldDecl, bool) {
	spec := extract.FieldSpec{Key: f.Key, From: f.Key, Type: extract.TypeFloat}
	place := f.KeyRange
	if f.From != nil {
		spec.From, place = *f.From, f.FromRange
	}
	typeName := "float"
	if f.Type != nil {
		typeName = *f.Type
		t, ok := c.fieldType(typeName, f.TypeRange)
		if !ok {
			return fieldDecl{}, false
		}
		spec.Type = t
	}
	if f.Scale != nil {
		switch {
		case spec.Type != extract.TypeFloat && spec.Type != extract.TypeDuration:
			c.errorf(f.ScaleRange, c.block, "scale needs a float or duration",
				"Field %q is of type %s, which scale cannot multiply; remove scale, or make the type float or duration.", f.Key, typeName)
			return fieldDecl{}, false
		case *f.Scale == 0:
			c.errorf(f.ScaleRange, c.block, "Zero scale",
				"A scale of 0 would make every value of field %q zero; remove scale, or set the factor, such as 0.001 for milliseconds to seconds.", f.Key)
			return fieldDecl{}, false
		}
		spec.Scale = *f.Scale
	}
	return fieldDecl{spec, f.DefRange, place}, true
}

func (c *ruleChecker) fieldType(name string, rng hcl.Range) (extract.Type, bool) {
	t, ok := extract.Types[name]
	if !ok {
		c.errorf(rng, c.block, "Unknown field type", "%q is not a field type; use one of %s.", name, typeNames)
	}
	return t, ok
}

// requires reads the require blocks. Each holds one condition. Two blocks
// for one name are refused: extract.Compile reports problems by name, so
// they could not be told apart, and one regex can say what two would.
func (c *ruleChecker) requires(qs []*requireHCL) {
	seen := map[string]hcl.Range{}
	for _, q := range qs {
		type cond struct {
			attr string
			op   extract.Op
			val  *string
			rng  hcl.Range
		}
		var set []cond
		for _, cd := range []cond{
			{"equals", extract.Equals, q.Equals, q.EqualsRange},
			{"not_equals", extract.NotEquals, q.NotEquals, q.NotEqualsRange},
			{"regex", extract.Matches, q.Regex, q.RegexRange},
			{"not_regex", extract.NotMatches, q.NotRegex, q.NotRegexRange},
		} {
			if cd.val != nil {
				set = append(set, cd)
			}
		}
		slices.SortFunc(set, func(a, b cond) int { return cmp.Compare(a.rng.Start.Byte, b.rng.Start.Byte) })
		first, dup := seen[q.Name]
		switch {
		case dup:
			c.errorf(q.NameRange, c.block, "Duplicate require",
				"Rule %q already has a require %q at %s; merge the two into one condition, such as not_regex = \"^(200|304)$\".", c.name, q.Name, first)
			continue
		case len(set) == 0:
			c.errorf(q.DefRange, c.block, "Empty require",
				"require %q needs one condition: equals, not_equals, regex or not_regex.", q.Name)
			continue
		case len(set) > 1:
			for _, s := range set[1:] {
				c.errorf(s.rng, c.block, "More than one condition",
					"require %q has both %s and %s; keep one. A second condition on another name goes in its own require block.", q.Name, set[0].attr, s.attr)
			}
			continue
		}
		seen[q.Name] = q.NameRange
		c.out.Require = append(c.out.Require, extract.Require{Name: q.Name, Op: set[0].op, Value: *set[0].val})
		c.places.parts["require."+q.Name] = set[0].rng
	}
}

// rewrites reads the rewrite blocks in file order. extract.Compile checks
// them (the regex, the references in replace, the name), as it knows the
// tags; their parts are numbered as it numbers them.
func (c *ruleChecker) rewrites(rws []*rewriteHCL, body hcl.Body) {
	c.noInterpolation(body)
	for i, rw := range rws {
		part := "rewrite." + strconv.Itoa(i+1)
		c.out.Rewrites = append(c.out.Rewrites, extract.Rewrite{Name: rw.Name, Regex: rw.Regex, Replace: rw.Replace})
		c.places.parts[part] = rw.NameRange
		c.places.parts[part+".regex"] = rw.RegexRange
		c.places.parts[part+".replace"] = rw.ReplaceRange
		if extract.MatchesOnlyEmpty(rw.Regex) {
			c.warnf(rw.RegexRange, nil, "Rewrite that never applies",
				"The regex of rewrite %q in rule %q matches only an empty value, but an empty value makes no tag and is never rewritten. To tag the lines that have no %s, give the source a tag of the same key (used when the line has no value for it), and remove the rewrite.", rw.Name, c.name, rw.Name)
		}
	}
}

// noInterpolation refuses an HCL interpolation in a rewrite's regex or
// replace: "v${1}" is HCL's ${1}, the number 1, evaluated before the regex
// ever runs, so replace would be the literal "v1" and every value would
// fold into it. Go's documentation writes group references so; in a rules
// file they are $${1}.
func (c *ruleChecker) noInterpolation(body hcl.Body) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	for _, b := range sb.Blocks {
		if b.Type != "rewrite" {
			continue
		}
		for _, name := range []string{"regex", "replace"} {
			a, ok := b.Body.Attributes[name]
			if !ok {
				continue
			}
			// A template that is not one string literal holds an
			// interpolation or a directive ("v${1}" is "v" and 1).
			if t, ok := a.Expr.(*hclsyntax.TemplateExpr); ok && !t.IsStringLiteral() && len(t.Parts) > 0 {
				c.fail(a.Expr.Range(), "Interpolation in a rewrite",
					"HCL reads ${...} in %s as its own expression, evaluated before the regex runs, not as a group of the regex. Write a group reference as $${1} or $${name} (or $1), which the rules file passes on as ${1}.", name)
			}
		}
	}
}

// statPattern is a percentile stat: p50, p99, p99.9.
var statPattern = regexp.MustCompile(`^p([0-9]+(\.[0-9]+)?)$`)

var plainStats = []string{"count", "sum", "min", "max", "mean"}

// aggregate checks the aggregate block. It is left out of the rule when
// anything in it is wrong, so the rule itself still compiles.
func (c *ruleChecker) aggregate(r *ruleHCL) {
	a := r.Aggregate
	if a == nil {
		return
	}
	var out extract.Aggregate
	var oks [6]bool
	// An empty range means gohcl found no window and has said so.
	if oks[0] = !a.WindowRange.Empty(); oks[0] {
		out.Window, oks[0] = c.duration(&a.Window, a.WindowRange, "window", 0, false)
		if oks[0] && day%out.Window != 0 {
			c.errorf(a.WindowRange, &a.DefRange, "Window does not divide a day",
				"Windows start at multiples of window since the Unix epoch, so that every agent and every backfill cuts them alike; %q does not divide 24h, so they would start at other times each day. Use a divisor of a day, such as \"10s\", \"1m\", \"5m\" or \"1h\".", a.Window)
			oks[0] = false
		}
	}
	out.Lateness, oks[1] = c.duration(a.Lateness, a.LatenessRange, "lateness", 0, true)
	out.MaxSeries, oks[2] = c.positive(a.MaxSeries, a.MaxSeriesRange, "max_series", DefaultMaxSeries)
	out.Stats, oks[3] = c.stats(a.Stats, &a.DefRange)
	out.Buckets, oks[4] = c.buckets(a.Buckets, &a.DefRange)
	if oks[5] = r.Time != nil; !oks[5] {
		c.errorf(a.DefRange, c.block, "aggregate without time",
			"Windows are cut by the time written in each line, so rule %q needs a time block to aggregate; add one.", c.name)
	}
	ok := !slices.Contains(oks[:], false)
	if ok {
		c.out.Aggregate = &out
		c.places.parts["aggregate"] = a.DefRange
	}
	for _, f := range c.out.Fields {
		if f.Type == extract.TypeString || f.Type == extract.TypeBool {
			name := "a string"
			if f.Type == extract.TypeBool {
				name = "a bool"
			}
			// No Context: the rule around the field would bury it.
			c.warnf(c.places.parts["fields."+f.Key], nil, "Field not aggregated",
				"Field %q of rule %q is %s, which aggregate computes no stat of (the window's count counts its lines); remove it, or make it a number.", f.Key, c.name, name)
		}
	}
}

// day is what a window must divide.
const day = 24 * time.Hour

// stats checks the stat names. Its diagnostics, and those of buckets, have
// the aggregate block as Context: one per bad entry, each quoting the whole
// rule, would bury the list.
func (c *ruleChecker) stats(expr hcl.Expression, block *hcl.Range) ([]string, bool) {
	stats, rngs, sh := c.strings(expr, "stats")
	switch {
	case sh == absent: // gohcl does not require attributes decoded as expressions
		c.errorf(*block, nil, "Missing stats", "Add stats, the stats to compute, such as stats = [\"count\", \"sum\", \"p99\"].")
		return nil, false
	case sh == listShape && len(stats) == 0:
		c.errorf(expr.Range(), block, "No stats", "List the stats to compute, such as [\"count\", \"sum\", \"p99\"].")
		return nil, false
	}
	ok := sh == listShape
	seen := map[string]bool{}
	for i, s := range stats {
		switch {
		case seen[s]:
			c.errorf(rngs[i], block, "Duplicate stat", "%q is listed twice in stats; remove one.", s)
			ok = false
		case !validStat(s):
			c.errorf(rngs[i], block, "Unknown stat",
				"%q is not a stat; use %s, or a percentile pNN with 0 < NN < 100, such as p50, p99 or p99.9.", s, strings.Join(plainStats, ", "))
			ok = false
		}
		seen[s] = true
	}
	return stats, ok
}

func validStat(s string) bool {
	if slices.Contains(plainStats, s) {
		return true
	}
	m := statPattern.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	q, err := strconv.ParseFloat(m[1], 64)
	return err == nil && q > 0 && q < 100
}

// buckets reads histogram bucket bounds, which must increase.
func (c *ruleChecker) buckets(expr hcl.Expression, block *hcl.Range) ([]float64, bool) {
	sh, items := c.collection(expr)
	switch sh {
	case absent:
		return nil, true
	case failed:
		return nil, false
	case mapShape, scalarShape:
		c.errorf(expr.Range(), block, "Invalid buckets", "buckets must be a list of increasing numbers, such as [0.1, 0.5, 1, 5].")
		return nil, false
	}
	var out []float64
	ok := true
	for _, it := range items {
		f, good := c.number(it.Value, it.ValueRange, "Each bucket")
		if !good {
			ok = false
			continue
		}
		if n := len(out); n > 0 && f <= out[n-1] {
			c.errorf(it.ValueRange, block, "Buckets out of order",
				"Bucket bounds must increase, but %v follows %v; sort them and remove repeats.", f, out[n-1])
			ok = false
			continue
		}
		out = append(out, f)
	}
	return out, ok
}
