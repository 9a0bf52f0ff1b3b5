package dashboard

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/logmetrics/logmetrics/extract"
)

func newTimeseries() *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)).
		LineWidth(1).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: ptr(false)})
}

// newHeatmap is a heatmap of pre-computed buckets: every series is a
// bucket named by its upper bound (le), so Grafana draws them as they are
// instead of bucketing the values again.
func newHeatmap(unit string) *heatmap.PanelBuilder {
	return heatmap.NewPanelBuilder().
		Calculate(false).
		RowsFrame(heatmap.NewRowsHeatmapOptionsBuilder().Layout(common.HeatmapCellLayoutLe).Value("lines")).
		YAxis(heatmap.NewYAxisConfigBuilder().Unit(unit)).
		CellValues(heatmap.NewCellValuesBuilder().Unit("short")).
		Color(heatmap.NewHeatmapColorOptionsBuilder().
			Mode(heatmap.HeatmapColorModeScheme).
			Scheme("Oranges").
			Fill("dark-orange").
			Scale(heatmap.HeatmapColorScaleExponential).
			Exponent(0.5).
			Steps(64)).
		Tooltip(heatmap.NewHeatmapTooltipBuilder().Mode(common.TooltipDisplayModeSingle).YHistogram(true)).
		ShowLegend()
}

func ptr[T any](v T) *T { return &v }

// Units of Grafana for field values, guessed from the field's type and
// key: durations and keys that say seconds or time are seconds, keys that
// say bytes are bytes, the rest plain numbers.
func unitOf(f extract.FieldSpec) string {
	k := strings.ToLower(f.Key)
	switch {
	case f.Type == extract.TypeDuration, strings.HasSuffix(k, "_seconds"), strings.HasSuffix(k, "_time"), k == "duration", k == "latency", k == "time":
		return "s"
	case strings.Contains(k, "bytes"), k == "size":
		return "decbytes"
	}
	return "short"
}

// rateUnit is the unit of a field's sum per second.
func rateUnit(f extract.FieldSpec) string {
	switch unitOf(f) {
	case "decbytes":
		return "Bps"
	case "s":
		return "suffix: s/s"
	}
	return "short"
}

const linesPerSecond = "suffix: lines/s"

// numeric reports whether a field is a number: what panels and aggregate
// stats are made of.
func numeric(t extract.Type) bool { return t != extract.TypeString && t != extract.TypeBool }

// ruleInfo is what every panel of a rule says about it.
type ruleInfo struct {
	source      string
	rule        extract.Rule
	measurement string
	tags        []string
	// others are the other rules that write the measurement.
	others []extract.Rule
}

// describe makes a panel's description: which rule, source and
// measurement it shows, what, a series per which tags (none when
// grouped is false), and the other rules whose points it shows too: those
// that write field to the same measurement.
func (ri ruleInfo) describe(what, field string, grouped bool) string {
	s := fmt.Sprintf("Rule %s of source %s, measurement %s: %s", ri.rule.Name, ri.source, ri.measurement, what)
	if grouped && len(ri.tags) > 0 {
		s += ", a series per " + strings.Join(ri.tags, ", ")
	}
	s += "."
	var also []string
	for _, o := range ri.others {
		if slices.ContainsFunc(o.Fields, func(f extract.FieldSpec) bool { return f.Key == field }) ||
			o.Aggregate != nil && ri.rule.Aggregate != nil {
			also = append(also, o.Name)
		}
	}
	if len(also) > 0 {
		s += fmt.Sprintf(" Rule(s) %s write %s to the same measurement: their points are in this panel too.", strings.Join(also, ", "), field)
	}
	return s
}

// alias names a rule's series by its tags, with the column first when a
// query has several.
func (ri ruleInfo) alias(col bool) string { return seriesAlias(ri.rule.Name, col, ri.tags) }

// rule adds the panels of one rule: its rate, then per numeric field a
// time series (a per-line rule) or its stats, sum and histogram (an
// aggregate rule).
func (g *generator) rule(source string, r extract.Rule) {
	ri := ruleInfo{source: source, rule: r, measurement: measurement(r)}
	for _, t := range r.Tags {
		ri.tags = append(ri.tags, t.Key)
	}
	for _, src := range g.cfg.Sources {
		for _, o := range src.Rules {
			if o.Name != r.Name && measurement(o) == ri.measurement {
				ri.others = append(ri.others, o)
			}
		}
	}
	if r.Aggregate != nil {
		g.aggregateRule(ri)
		return
	}
	counted := countedField(ri)
	g.timeSeries(panelSpec{
		title:       r.Name + ": lines/s",
		description: ri.describe(fmt.Sprintf("lines taken per second, counted by their field %s (a line whose %s did not convert is not counted)", counted.Key, counted.Key), counted.Key, true),
		unit:        linesPerSecond,
		query:       target(selectQuery([]string{perSecond("count(" + ident(counted.Key) + ")")}, ri.measurement, ri.tags, "fill(0)"), ri.alias(false)),
	})
	for _, f := range r.Fields {
		if !numeric(f.Type) {
			continue
		}
		g.timeSeries(panelSpec{
			title:       r.Name + ": " + f.Key,
			description: ri.describe(fmt.Sprintf("the mean of field %s over each interval", f.Key), f.Key, true),
			unit:        unitOf(f),
			query:       target(selectQuery([]string{"mean(" + ident(f.Key) + ")"}, ri.measurement, ri.tags, ""), ri.alias(false)),
		})
	}
}

// countedField picks the field whose count stands for a per-line rule's
// lines (InfluxQL counts fields, not points, and a field whose value does
// not convert is left out of its point): one only this rule writes to a
// shared measurement, else the least likely to be missing, a string
// (never fails to convert), then a float or duration, then the rest.
func countedField(ri ruleInfo) extract.FieldSpec {
	others := map[string]bool{}
	for _, o := range ri.others {
		for _, f := range o.Fields {
			others[f.Key] = true
		}
	}
	rank := func(f extract.FieldSpec) int {
		n := 0
		if others[f.Key] {
			n += 10
		}
		switch f.Type {
		case extract.TypeString:
		case extract.TypeFloat, extract.TypeDuration:
			n++
		default:
			n += 2
		}
		return n
	}
	fields := slices.Clone(ri.rule.Fields)
	slices.SortStableFunc(fields, func(a, b extract.FieldSpec) int { return rank(a) - rank(b) })
	return fields[0]
}

// aggregateRule adds the panels of an aggregate rule: lines per second
// from the windows' counts; per numeric field, its stats (min, mean, max
// and percentiles) in one panel, its sum per second, its histogram.
func (g *generator) aggregateRule(ri ruleInfo) {
	a := ri.rule.Aggregate
	window := minInterval(a.Window)
	g.timeSeries(panelSpec{
		title:       ri.rule.Name + ": lines/s",
		description: ri.describe(fmt.Sprintf("lines per second, from the count of each %s window", window), extract.CountKey, true),
		unit:        linesPerSecond,
		interval:    window,
		query:       target(selectQuery([]string{perSecond("sum(" + ident(extract.CountKey) + ")")}, ri.measurement, ri.tags, "fill(0)"), ri.alias(false)),
	})
	for _, f := range ri.rule.Fields {
		if !numeric(f.Type) {
			continue
		}
		var cols, names []string
		hasSum := false
		for _, s := range a.Stats {
			key := ident(extract.StatKey(f.Key, s))
			switch {
			case s == "count":
			case s == "sum":
				hasSum = true
			case s == "min":
				cols, names = append(cols, "min("+key+") AS "+ident(s)), append(names, s)
			case s == "mean":
				cols, names = append(cols, "mean("+key+") AS "+ident(s)), append(names, s)
			default: // max and the percentiles: the worst window of the interval
				cols, names = append(cols, "max("+key+") AS "+ident(s)), append(names, s)
			}
		}
		if len(cols) > 0 {
			g.timeSeries(panelSpec{
				title: ri.rule.Name + ": " + f.Key + " " + strings.Join(names, ", "),
				description: ri.describe(fmt.Sprintf("the %s of field %s in each %s window; over a longer interval, the lowest min, the mean of the means, "+
					"and the highest max and percentile of its windows", strings.Join(names, ", "), f.Key, window), f.Key, true),
				unit:     unitOf(f),
				interval: window,
				query:    target(selectQuery(cols, ri.measurement, ri.tags, ""), ri.alias(true)),
			})
		}
		if hasSum {
			g.timeSeries(panelSpec{
				title:       ri.rule.Name + ": " + f.Key + " per second",
				description: ri.describe(fmt.Sprintf("the sum of field %s per second, from %s", f.Key, extract.StatKey(f.Key, "sum")), f.Key, true),
				unit:        rateUnit(f),
				interval:    window,
				query:       target(selectQuery([]string{perSecond("sum(" + ident(extract.StatKey(f.Key, "sum")) + ")")}, ri.measurement, ri.tags, "fill(0)"), ri.alias(false)),
			})
		}
		if len(a.Buckets) > 0 {
			g.heatmap(panelSpec{
				title: ri.rule.Name + ": " + f.Key + " histogram",
				description: ri.describe(fmt.Sprintf("the histogram of field %s: lines per bucket of upper bound le, from the cumulative fields %s_bucket_le_*, summed over tags",
					f.Key, f.Key), f.Key, false),
				unit:     unitOf(f),
				interval: window,
				query:    target(selectQuery(bucketColumns(f.Key, a.Buckets), ri.measurement, nil, "fill(0)"), "$col"),
			})
		}
	}
}

// minInterval writes a window as a panel's min interval: one whole number
// and unit, because Grafana reads only the first number and unit of it
// (rangeutil.ts describeInterval, and as an integer), so time.Duration's
// "1m30s" would be 1m there and "1.5s" 1s. A window of a fraction of a
// millisecond is rounded up.
func minInterval(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d%u.d == 0 {
			return fmt.Sprintf("%d%s", d/u.d, u.name)
		}
	}
	return fmt.Sprintf("%dms", (d+time.Millisecond-1)/time.Millisecond)
}

// bucketColumns turns cumulative buckets (le) into the lines of each
// bucket alone, which is what a heatmap cell shows: each column is its
// bucket's sum less the one below, named by its upper bound.
func bucketColumns(field string, bounds []float64) []string {
	all := append(slices.Clone(bounds), math.Inf(1))
	cols := make([]string, len(all))
	for i, b := range all {
		name := "+Inf"
		if !math.IsInf(b, 1) {
			name = fmt.Sprint(b)
		}
		c := "sum(" + ident(extract.BucketKey(field, b)) + ")"
		if i > 0 {
			c += " - sum(" + ident(extract.BucketKey(field, all[i-1])) + ")"
		}
		cols[i] = c + " AS " + ident(name)
	}
	return cols
}
