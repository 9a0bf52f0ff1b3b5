package config

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/tailer"
)

// Example is an example block of a rule: a line, and the points the rule
// must make of it. RunExamples runs them.
type Example struct {
	Source, Rule string
	// Line is the log line, without its line ending.
	Line string
	// Expect are the points expect names, in order; none when the rule
	// must not take the line.
	Expect []expectedPoint
	// Range is the example block's header, ExpectRange expect's value:
	// a failing example is reported there.
	Range, ExpectRange hcl.Range
	// rule is the rule as checked, run alone by RunExamples.
	rule extract.Rule
}

// exampleHCL is an example block.
type exampleHCL struct {
	Line        string    `hcl:"line"`
	LineRange   hcl.Range `hcl:"line,attr_value_range"`
	Expect      string    `hcl:"expect"`
	ExpectRange hcl.Range `hcl:"expect,attr_value_range"`
}

// exampleSchema takes the example blocks out of a rule's body before gohcl
// decodes the rest into ruleHCL, so that examples live in this file alone.
var exampleSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "example"}}}

// splitExamples returns body without its example blocks, and those blocks.
func (c *ruleChecker) splitExamples(body hcl.Body) (hcl.Body, hcl.Blocks) {
	content, rest, diags := body.PartialContent(exampleSchema)
	// PartialContent only fails on an example with labels or an
	// attribute named example; both are reported here, the rest of the
	// body still decoded.
	c.diags = append(c.diags, diags...)
	if content == nil {
		return rest, nil
	}
	return rest, content.Blocks
}

// checkExamples checks the example blocks and keeps them with the rule. It
// runs after every other check of the rule, which examples need: whether
// it has a time block, and the rule itself.
func (c *ruleChecker) checkExamples(blocks hcl.Blocks, timed bool) {
	for _, b := range blocks {
		var e exampleHCL
		if !c.decode(b.Body, &e) {
			continue
		}
		ok := true
		// Lines never hold their line ending, so the one a heredoc
		// ends with is dropped, as for regex; another is an error.
		line := strings.TrimSuffix(strings.TrimSuffix(e.Line, "\n"), "\r")
		if c.multiline {
			// A record: its lines joined by "\n", each without its line
			// ending, as the source's multiline block joins them.
			line = strings.ReplaceAll(line, "\r\n", "\n")
			if n := c.records(line); n > 1 {
				c.errorf(e.LineRange, &b.DefRange, "Example of more than one record",
					"The multiline block of source %q would make %d records of this example's lines, so rule %q never sees them together: an example is one record (its later lines continue its first, and at most max_lines of them).", c.source, n, c.name)
				ok = false
			}
		} else if strings.ContainsAny(line, "\n\r") {
			c.errorf(e.LineRange, &b.DefRange, "Example of more than one line",
				"An example's line is one log line, without a line ending; write one example block per line.")
			ok = false
		}
		points, err := parseExpect(e.Expect)
		switch {
		case err != nil:
			c.errorf(e.ExpectRange, &b.DefRange, "Invalid expect",
				"expect must be line protocol, one line per point the rule makes of the example's line, or \"\" when it must not take it: %s.", err)
			ok = false
		case !timed:
			for _, p := range points {
				if p.HasTime {
					c.errorf(e.ExpectRange, &b.DefRange, "Timestamp in expect of a rule without time",
						"Rule %q has no time block, so its points are stamped with the moment the line is read, which an example cannot know: leave the timestamp out of expect (its time is then not compared).", c.name)
					ok = false
					break
				}
			}
		}
		if ok {
			c.loader.examples = append(c.loader.examples, Example{
				Source: c.source, Rule: c.name, Line: line, Expect: points,
				Range: b.DefRange, ExpectRange: e.ExpectRange, rule: c.out,
			})
		}
	}
}

// records returns how many records the source's multiline block makes of
// an example's lines (joined by "\n"); 1 when the block is invalid, which
// is reported on its own.
func (c *ruleChecker) records(text string) int {
	if c.ml == nil || (c.ml.Start == nil) == (c.ml.Continue == nil) {
		return 1
	}
	n := 0
	count := func(pipeline.Line) error { n++; return nil }
	j := tailer.NewJoiner(c.ml, 0, false)
	for _, l := range strings.Split(text, "\n") {
		_ = j.Add(pipeline.Line{Text: l}, count) // count never fails
	}
	_ = j.Flush(count)
	return n
}

// expectedPoint is a point as line protocol says it, with typed field
// values, so that 512i and 512 differ.
type expectedPoint struct {
	Measurement string
	Tags        []tagKV // in key order, as line protocol requires
	Fields      []fieldKV
	Time        int64 // Unix nanoseconds; meaningful when HasTime
	HasTime     bool
	// Text is the point's line, for messages.
	Text string
}

type tagKV struct{ Key, Value string }

type fieldKV struct {
	Key   string
	Value lineprotocol.Value
}

// parseExpect reads line protocol, one point a line; blank lines and
// comments are skipped, so "" is no point at all.
func parseExpect(s string) ([]expectedPoint, error) {
	var out []expectedPoint
	lines := strings.Split(s, "\n")
	for i, text := range lines {
		indent := len(text) - len(strings.TrimLeft(text, " \t"))
		text = strings.TrimSpace(text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		p, err := parsePoint(text)
		if err == nil {
			out = append(out, p)
			continue
		}
		// The decoder saw one line, without its indent: say where in
		// expect the error is.
		where := ""
		var de *lineprotocol.DecodeError
		if errors.As(err, &de) {
			where, err = fmt.Sprintf("column %d", de.Column+indent), de.Err
		}
		if len(lines) > 1 {
			where = strings.TrimSuffix(fmt.Sprintf("line %d of expect, %s", i+1, where), ", ")
		}
		if where != "" {
			return nil, fmt.Errorf("at %s: %w", where, err)
		}
		return nil, err
	}
	return out, nil
}

// parsePoint reads one point of line protocol.
func parsePoint(text string) (expectedPoint, error) {
	p := expectedPoint{Text: text}
	d := lineprotocol.NewDecoderWithBytes([]byte(text))
	if !d.Next() {
		return p, fmt.Errorf("no point in %q", text)
	}
	m, err := d.Measurement()
	if err != nil {
		return p, err
	}
	p.Measurement = string(m)
	for {
		k, v, err := d.NextTag()
		if err != nil {
			return p, err
		}
		if k == nil {
			break
		}
		p.Tags = append(p.Tags, tagKV{string(k), string(v)})
	}
	for {
		k, v, err := d.NextField()
		if err != nil {
			return p, err
		}
		if k == nil {
			break
		}
		// The decoder reuses its buffer: keep a copy of string values.
		if v.Kind() == lineprotocol.String {
			v, _ = lineprotocol.StringValue(v.StringV())
		}
		p.Fields = append(p.Fields, fieldKV{string(k), v})
	}
	raw, err := d.TimeBytes()
	if err != nil {
		return p, err
	}
	if raw != nil {
		// The decoder has checked the digits; only a range error is left.
		if p.Time, err = strconv.ParseInt(string(raw), 10, 64); err != nil {
			return p, fmt.Errorf("timestamp %s is not Unix nanoseconds in range", raw)
		}
		p.HasTime = true
	}
	if d.Next() {
		return p, fmt.Errorf("more than one point in %q", text)
	}
	if err := d.Err(); err != nil {
		return p, err
	}
	return p, nil
}

// trimLP drops the line ending sink.AppendPoint writes.
func trimLP(b []byte) string { return string(bytes.TrimSuffix(b, []byte("\n"))) }
