package config

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
)

// RunExamples runs every example of cfg and returns how many passed and an
// error diagnostic, on its expect, for each that failed.
//
// Each example runs its rule alone, in a source of the rule's name without
// the source's and agent's tags (they are not the rule's doing, and
// hostname() differs per machine), in a fresh extractor: no point of
// another example nudges its time, and an aggregate rule's window is
// closed right after the line, so expect is the window point of that line
// alone. The line is read, and its file last modified, at the time of
// expect's first point when it has one: a layout without the year or date
// then takes them from expect, and only what the line holds is compared.
// Otherwise it is read at now, and the time is not compared.
func RunExamples(cfg *Config, now time.Time) (passed int, diags hcl.Diagnostics) {
	for i := range cfg.Examples {
		ex := &cfg.Examples[i]
		detail, err := runExample(ex, now)
		if err != nil {
			// The rule passed Load, so it compiles; this is a bug.
			detail = fmt.Sprintf("Rule %q could not run: %v.", ex.Rule, err)
		}
		if detail == "" {
			passed++
			continue
		}
		r := ex.Range
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Example fails",
			Detail:   detail,
			Subject:  ex.ExpectRange.Ptr(),
			Context:  &r,
		})
	}
	return passed, diags
}

// Merge returns a and b in one list in file order, as Load orders its
// diagnostics: for RunExamples' failures among the rules file's warnings.
func Merge(a, b hcl.Diagnostics) hcl.Diagnostics {
	out := append(slices.Clip(a), b...)
	sortDiagnostics(out)
	return out
}

// runExample returns why ex fails, or "" when it passes.
func runExample(ex *Example, now time.Time) (string, error) {
	readAt := now
	if len(ex.Expect) > 0 && ex.Expect[0].HasTime {
		readAt = time.Unix(0, ex.Expect[0].Time).UTC()
		// An aggregate point's time is its window's start; the line was
		// read within the window, up to its end. Read at the start, a
		// layout without a date (time of day, syslog's year) would put a
		// line late in a long window on the day or year before.
		if a := ex.rule.Aggregate; a != nil {
			readAt = readAt.Add(a.Window - time.Nanosecond)
		}
	}
	x, err := extract.Compile(extract.Config{Sources: []extract.Source{{Name: ex.Source, Rules: []extract.Rule{ex.rule}}}})
	if err != nil {
		return "", err
	}
	var problems problemLog
	x.SetLogger(slog.New(&problems))
	var rec pipeline.Record
	x.Extract(&pipeline.Line{Source: ex.Source, Text: ex.Line, ReadAt: readAt, ModTime: readAt}, &rec)
	got, err := encodePoints(nil, rec.Points)
	if err != nil {
		return "", err
	}
	rec.Points = rec.Points[:0]
	x.Flush(&rec)
	if got, err = encodePoints(got, rec.Points); err != nil {
		return "", err
	}
	if ex.rule.Time == nil {
		// The time is the read time, which is not compared: do not show
		// it either, so that messages read the same on every run.
		for i := range got {
			if end := strings.LastIndexByte(got[i].Text, ' '); end > 0 {
				got[i].Text = got[i].Text[:end]
			}
		}
	}
	var st extract.RuleStats
	if rs := x.Stats().Rules; len(rs) == 1 {
		st = rs[0]
	}
	return explain(ex, got, st, problems.msgs), nil
}

// encodePoints appends points to out as line protocol would carry them,
// the same way as the points of expect are read.
func encodePoints(out []expectedPoint, points []pipeline.Point) ([]expectedPoint, error) {
	var buf []byte
	for i := range points {
		buf = sink.AppendPoint(buf[:0], &points[i])
		p, err := parsePoint(trimLP(buf))
		if err != nil {
			return out, fmt.Errorf("read back %q: %w", buf, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// explain says why ex fails given what its rule made of the line, or ""
// when it passes.
func explain(ex *Example, got []expectedPoint, st extract.RuleStats, problems []string) string {
	var b strings.Builder
	switch {
	case len(ex.Expect) == 0 && len(got) == 0:
		return ""
	case len(ex.Expect) == 0:
		fmt.Fprintf(&b, "Rule %q takes the line, but expect is \"\": the rule must not take it. It makes:", ex.Rule)
		writePoints(&b, got)
	case len(got) == 0:
		fmt.Fprintf(&b, "Rule %q makes no point of the line: %s.", ex.Rule, whyNone(ex.rule, st, problems))
	default:
		diff := diffPoints(ex.Expect, got)
		if len(diff) == 0 {
			return ""
		}
		fmt.Fprintf(&b, "Rule %q makes other points of the line than expect:", ex.Rule)
		for _, d := range diff {
			b.WriteString("\n  " + d)
		}
		b.WriteString("\nIt makes:")
		writePoints(&b, got)
	}
	if len(got) > 0 && len(problems) > 0 {
		b.WriteString("\nWhile reading the line:")
		for _, p := range problems {
			b.WriteString("\n  " + p)
		}
	}
	return b.String()
}

func writePoints(b *strings.Builder, points []expectedPoint) {
	for _, p := range points {
		b.WriteString("\n  " + p.Text)
	}
}

// whyNone says why a rule made no point of a line, from its counters and
// the problems extraction logged.
func whyNone(r extract.Rule, st extract.RuleStats, problems []string) string {
	switch {
	case st.NotTaken > 0 && r.Mode == extract.Regex:
		return "its regex does not match it"
	case st.NotTaken > 0:
		return fmt.Sprintf("it is not %s holding any of the rule's tag or field names", map[extract.Mode]string{extract.JSON: "a JSON object", extract.Logfmt: "logfmt"}[r.Mode])
	case st.Filtered > 0:
		return "a require block refuses it"
	case len(problems) > 0:
		return strings.Join(problems, "; ")
	}
	return "it takes the line but makes no point"
}

// diffPoints lists the differences between the points expect names and
// those a rule made, in order, one per line of text.
func diffPoints(want, got []expectedPoint) []string {
	var out []string
	several := len(want) > 1 || len(got) > 1
	for i := range max(len(want), len(got)) {
		switch {
		case i >= len(got):
			out = append(out, fmt.Sprintf("point %d: missing: %s", i+1, want[i].Text))
		case i >= len(want):
			out = append(out, fmt.Sprintf("point %d: not expected: %s", i+1, got[i].Text))
		default:
			for _, d := range diffPoint(want[i], got[i]) {
				if several {
					d = fmt.Sprintf("point %d: %s", i+1, d)
				}
				out = append(out, d)
			}
		}
	}
	return out
}

// diffPoint compares one point: measurement, tags, fields with their
// types, and the time when want has one.
func diffPoint(want, got expectedPoint) []string {
	var out []string
	if want.Measurement != got.Measurement {
		out = append(out, fmt.Sprintf("measurement: want %q, got %q", want.Measurement, got.Measurement))
	}
	wantTags, gotTags := map[string]string{}, map[string]string{}
	var tagKeys []string
	for _, t := range want.Tags {
		wantTags[t.Key] = t.Value
		tagKeys = append(tagKeys, t.Key)
	}
	for _, t := range got.Tags {
		gotTags[t.Key] = t.Value
		tagKeys = append(tagKeys, t.Key)
	}
	slices.Sort(tagKeys)
	for _, k := range slices.Compact(tagKeys) {
		w, inWant := wantTags[k]
		g, inGot := gotTags[k]
		switch {
		case !inGot:
			out = append(out, fmt.Sprintf("tag %s: missing (want %q)", k, w))
		case !inWant:
			out = append(out, fmt.Sprintf("tag %s: not expected (got %q)", k, g))
		case w != g:
			out = append(out, fmt.Sprintf("tag %s: want %q, got %q", k, w, g))
		}
	}
	// Fields in expect's order, then the ones it does not name.
	gotFields := map[string]lineprotocol.Value{}
	for _, f := range got.Fields {
		gotFields[f.Key] = f.Value
	}
	named := map[string]bool{}
	for _, f := range want.Fields {
		named[f.Key] = true
		g, ok := gotFields[f.Key]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("field %s: missing (want %s)", f.Key, f.Value))
		case g.Kind() != f.Value.Kind():
			out = append(out, fmt.Sprintf("field %s: want %s (%s), got %s (%s)", f.Key, f.Value, kindName(f.Value.Kind()), g, kindName(g.Kind())))
		case !g.Equal(f.Value):
			out = append(out, fmt.Sprintf("field %s: want %s, got %s", f.Key, f.Value, g))
		}
	}
	for _, f := range got.Fields {
		if !named[f.Key] {
			out = append(out, fmt.Sprintf("field %s: not expected (got %s)", f.Key, f.Value))
		}
	}
	if want.HasTime && want.Time != got.Time {
		out = append(out, fmt.Sprintf("time: want %d (%s), got %s", want.Time, rfc3339(want.Time), offset(want.Time, got.Time)))
	}
	return out
}

func rfc3339(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// offset says how far got is from want, or got itself when the distance
// does not fit a time.Duration.
func offset(want, got int64) string {
	d := got - want
	switch {
	case (got > want) != (d > 0) || d == math.MinInt64: // overflowed, or -d would
		return fmt.Sprintf("%d (%s)", got, rfc3339(got))
	case d > 0:
		return time.Duration(d).String() + " later"
	}
	return time.Duration(-d).String() + " earlier"
}

// kindName names a field type as a rule's fields do.
func kindName(k lineprotocol.ValueKind) string {
	switch k {
	case lineprotocol.Int:
		return "int"
	case lineprotocol.Uint:
		return "uint"
	case lineprotocol.Float:
		return "float"
	case lineprotocol.String:
		return "string"
	case lineprotocol.Bool:
		return "bool"
	}
	return k.String()
}

// problemLog is a slog.Handler that keeps the per-line problems an
// extractor logs (a bad value, a bad time), to say why an example fails.
type problemLog struct{ msgs []string }

func (*problemLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *problemLog) WithAttrs([]slog.Attr) slog.Handler     { return h }
func (h *problemLog) WithGroup(string) slog.Handler          { return h }

func (h *problemLog) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		switch v := a.Value.String(); {
		case v == "":
		case a.Key == "key":
			msg += fmt.Sprintf(" of %q", v)
		case a.Key == "detail":
			msg += fmt.Sprintf(": %s", v)
		}
		return true
	})
	h.msgs = append(h.msgs, msg)
	return nil
}
