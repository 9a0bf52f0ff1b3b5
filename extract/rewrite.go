package extract

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tag rewrites: regular expression replacements applied to the value a tag
// is made of, to fold values that differ only in an id into one series
// ("/api/items/123" and "/api/items/456" both "/api/items/:id").
//
// What they guarantee, with the rest of match:
//   - A rewrite that leaves the value empty leaves the tag as if the line
//     had no value for it (the source's or agent's tag of that key, if
//     any, else none), counted in Missing and sampled in the log: an empty
//     tag value cannot be written, and a silently missing tag would merge
//     series unseen.
//   - A value that is valid UTF-8 stays valid UTF-8: RE2 matches whole
//     characters and Replace must be valid UTF-8 (compileRewrite). Bytes
//     of the line that are not UTF-8 are kept as they are, as for a value
//     without rewrites, and the sink writes each as U+FFFD.
//   - Replace holds no control character (compileRewrite), so a rewrite
//     adds none; those of the line are kept and written as U+FFFD, as for
//     any tag, and the sink counts such points (PointsAltered).
//   - A value no rewrite's regex matches costs one failed match per
//     rewrite and no allocation.

// rewrite is a compiled Rewrite.
type rewrite struct {
	re      *regexp.Regexp
	replace string
}

// compileRewrite compiles rw's regex and checks its replace against it;
// part names the block in errors.
func compileRewrite(rw Rewrite, part string) (rewrite, []error) {
	re, err := regexp.Compile(rw.Regex)
	if err != nil {
		return rewrite{}, []error{&partError{part + ".regex", fmt.Errorf("rewrite %q: bad regular expression: %v", rw.Name, err)}}
	}
	var errs []error
	if !utf8.ValidString(rw.Replace) {
		errs = append(errs, &partError{part + ".replace", fmt.Errorf("rewrite %q: replace is not valid UTF-8, and tag values must be", rw.Name)})
	}
	if i := strings.IndexFunc(rw.Replace, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(rw.Replace[i:])
		errs = append(errs, &partError{part + ".replace", fmt.Errorf("rewrite %q: replace holds the control character %q, which line protocol cannot carry in a tag value (it would be written as U+FFFD)", rw.Name, string(r))})
	}
	for _, msg := range badReferences(re, rw.Replace) {
		errs = append(errs, &partError{part + ".replace", fmt.Errorf("rewrite %q: %s", rw.Name, msg)})
	}
	return rewrite{re: re, replace: rw.Replace}, errs
}

// badReferences lists the references of template that regexp.Expand would
// silently replace with nothing: group numbers the regex does not have,
// names it does not have ($1x reads as the group "1x"), and "${" without a
// name and "}". It parses template as Expand does. The messages write ${ as
// the rules file must, $${: HCL reads ${ as the start of an expression.
func badReferences(re *regexp.Regexp, template string) []string {
	var bad []string
	for {
		_, after, ok := strings.Cut(template, "$")
		if !ok {
			return bad
		}
		template = after
		if strings.HasPrefix(template, "$") { // $$ is a dollar sign
			template = template[1:]
			continue
		}
		brace := strings.HasPrefix(template, "{")
		rest := strings.TrimPrefix(template, "{")
		i := strings.IndexFunc(rest, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' })
		if i < 0 {
			i = len(rest)
		}
		name := rest[:i]
		if brace && (name == "" || i >= len(rest) || rest[i] != '}') {
			bad = append(bad, fmt.Sprintf("%q is not a reference, and would be kept as it is: write $${1} or $${name}, or $$ for a dollar sign", "$${"+name))
			continue
		}
		if name == "" {
			continue // "$" before anything else is itself, as in Expand
		}
		if brace {
			template = rest[i+1:]
		} else {
			template = rest[i:]
		}
		if n, err := strconv.Atoi(name); err == nil && strconv.Itoa(n) == name {
			if n > re.NumSubexp() {
				bad = append(bad, fmt.Sprintf("$%s refers to group %d, but the regex has %s", name, n, groupCount(re.NumSubexp())))
			}
			continue
		}
		if slices.Contains(re.SubexpNames()[1:], name) {
			continue
		}
		msg := fmt.Sprintf("the regex has no group named %q for $%s", name, name)
		if brace {
			msg = fmt.Sprintf("the regex has no group named %q for $${%s}", name, name)
		}
		if d := leadingDigits(name); d != "" && d != name && !brace {
			msg += fmt.Sprintf("; a name runs on over letters and digits, so for group %s followed by %q write $${%s}%s", d, name[len(d):], d, name[len(d):])
		} else {
			msg += "; name a group with (?P<name>...), or write $$ for a dollar sign"
		}
		bad = append(bad, msg)
	}
}

func groupCount(n int) string {
	switch n {
	case 0:
		return "no groups"
	case 1:
		return "1 group"
	}
	return strconv.Itoa(n) + " groups"
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// rewriteValue returns s rewritten by every rewrite in turn, and whether
// any regex matched: then the result is a new string, which shares no
// memory with s. MatchString first, because ReplaceAllString copies s even
// when nothing matches.
//
// The result of a rewrite whose worst case (every character a match, each
// replaced by replace with its references) is over maxRewriteBytes is not
// built: too long is returned, and the tag is left out and counted. A tag
// value is at most maxSeriesBytes long anyway; the bound only keeps a
// pathological line from costing gigabytes on its way to being dropped.
func rewriteValue(rws []rewrite, s string) (out string, changed, tooLong bool) {
	for i := range rws {
		if rws[i].re.MatchString(s) {
			if (len(s)+1)*(len(rws[i].replace)+2) > maxRewriteBytes {
				return "", changed, true
			}
			s = rws[i].re.ReplaceAllString(s, rws[i].replace)
			changed = true
		}
	}
	return s, changed, false
}

// maxRewriteBytes bounds the worst-case result of one rewrite (see
// rewriteValue): 16 MiB, a 5.6 MB value for a one-character replace.
const maxRewriteBytes = 16 << 20

// rewriteTarget says what is wrong with a rewrite of the value name in rule
// rc, or "" if name is the value of one of its tags. Fields, require and
// time read the line's value as it is, so a rewrite of anything else could
// do nothing.
func rewriteTarget(rc Rule, name string) string {
	var tags []string
	for _, t := range rc.Tags {
		if t.From == name {
			return ""
		}
		tags = append(tags, strconv.Quote(t.From))
	}
	if name == "" {
		return "a rewrite needs the name of the value of a tag"
	}
	for _, f := range rc.Fields {
		if f.From == name {
			return fmt.Sprintf("%q is the value of field %q, and rewrites change only tag values (a field keeps its line's value); rewrite a tag, or remove the rewrite", name, f.Key)
		}
	}
	if len(tags) == 0 {
		return fmt.Sprintf("rule %q has no tags, and a rewrite changes the value of a tag: add %q to tags, or remove the rewrite", rc.Name, name)
	}
	return fmt.Sprintf("no tag of rule %q is made of %q: a rewrite names the value of a tag, one of %s", rc.Name, name, strings.Join(tags, ", "))
}

// MatchesOnlyEmpty reports whether pattern can match only an empty value,
// as "^$" does: a rewrite never sees an empty value (an empty value makes
// no tag, before any rewrite), so such a rewrite could never apply, and
// check warns. It is false for a pattern that does not parse, and for an
// empty match a non-empty value can hold ("^" prefixes, "(?m)^$" finds an
// empty line).
func MatchesOnlyEmpty(pattern string) bool {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return false
	}
	empty, begin, end := emptyWidth(re.Simplify())
	return empty && begin && end
}

// emptyWidth reports whether re matches only empty strings and, if so,
// whether every match needs the start of the text and the end of it.
func emptyWidth(re *syntax.Regexp) (empty, begin, end bool) {
	switch re.Op {
	case syntax.OpBeginText:
		return true, true, false
	case syntax.OpEndText:
		return true, false, true
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true, false, false
	case syntax.OpCapture:
		return emptyWidth(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		e, _, _ := emptyWidth(re.Sub[0])
		return e, false, false // zero repetitions need nothing
	case syntax.OpPlus:
		return emptyWidth(re.Sub[0])
	case syntax.OpRepeat:
		e, b, n := emptyWidth(re.Sub[0])
		if re.Min == 0 {
			return e, false, false
		}
		return e, b, n
	case syntax.OpConcat:
		empty = true
		for _, sub := range re.Sub {
			e, b, n := emptyWidth(sub)
			empty, begin, end = empty && e, begin || b, end || n
		}
		return empty, begin, end
	case syntax.OpAlternate:
		empty, begin, end = true, true, true
		for _, sub := range re.Sub {
			e, b, n := emptyWidth(sub)
			empty, begin, end = empty && e, begin && b, end && n
		}
		return empty, begin, end
	}
	return false, false, false
}
