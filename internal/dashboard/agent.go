package dashboard

import (
	"slices"

	"github.com/logmetrics/logmetrics/internal/status"
)

// agentPanel is a panel of the agent row: fields of the self-metrics
// measurement (status.Points: the /metrics names without logmetrics_),
// each a series per agent (Options.AgentTags) and the metric's labels.
type agentPanel struct {
	title, description, unit string
	// counter fields are shown per second (non_negative_derivative, so a
	// restart of the agent, which zeroes them, is no negative spike);
	// gauges as their maximum over each interval.
	counter bool
	fields  []string // field keys; the column names are aliases[i]
	aliases []string
	labels  []string // GROUP BY these tags besides the agent's
}

var agentPanels = []agentPanel{
	{
		title: "agent: lines read/s", unit: linesPerSecond, counter: true,
		description: "Lines the agent read per second, by source (source_lines_read_total).",
		fields:      []string{"source_lines_read_total"}, aliases: []string{"read"}, labels: []string{"source"},
	},
	{
		title: "agent: lines by result/s", unit: linesPerSecond, counter: true,
		description: `Lines per second by what the rules did with them: taken by a rule, filtered by a require block, or taken by none (source_lines_total).`,
		fields:      []string{"source_lines_total"}, aliases: []string{"lines"}, labels: []string{"source", "result"},
	},
	{
		title: "agent: points produced and written/s", unit: "suffix: points/s", counter: true,
		description: "Points the rules produced and points InfluxDB stored, per second (points_produced_total, points_written_total).",
		fields:      []string{"points_produced_total", "points_written_total"}, aliases: []string{"produced", "written"},
	},
	{
		title: "agent: points pending", unit: "short",
		description: "Points extracted and not yet delivered, the highest in each interval (points_pending): it grows while InfluxDB is slow or down.",
		fields:      []string{"points_pending"}, aliases: []string{"pending"},
	},
	{
		title: "agent: points dropped and dead-lettered/s", unit: "suffix: points/s", counter: true,
		description: "Points neither written nor set aside, and points set aside in the dead-letter file, per second, by reason (points_dropped_total, points_dead_lettered_total).",
		fields:      []string{"points_dropped_total", "points_dead_lettered_total"}, aliases: []string{"dropped", "dead-lettered"}, labels: []string{"reason"},
	},
	{
		title: "agent: write errors/s", unit: "suffix: errors/s", counter: true,
		description: "Failed write requests to InfluxDB per second, by class: network, throttled, server, refused, too_large, config (write_errors_total).",
		fields:      []string{"write_errors_total"}, aliases: []string{"errors"}, labels: []string{"class"},
	},
	{
		title: "agent: lag (log time)", unit: "s",
		description: "Per file, the log time between the newest line extracted and the newest delivered, the highest in each interval (file_lag_seconds): 0 when caught up.",
		fields:      []string{"file_lag_seconds"}, aliases: []string{"lag"}, labels: []string{"source", "file"},
	},
	{
		title: "agent: lag (bytes)", unit: "decbytes",
		description: "Per file, the bytes not yet delivered: its size less the committed offset (file_lag_bytes).",
		fields:      []string{"file_lag_bytes"}, aliases: []string{"behind"}, labels: []string{"source", "file"},
	},
	{
		title: "agent: rule problems/s", unit: "suffix: lines/s", counter: true,
		description: "Per-line problems of each rule per second, by kind: time, conversion, missing, composite, no_fields, series_too_long (rule_errors_total).",
		fields:      []string{"rule_errors_total"}, aliases: []string{"problems"}, labels: []string{"rule", "kind"},
	},
}

// agent adds the agent row's panels. They show data when the agent
// writes its self-metrics (agent.self_metrics).
func (g *generator) agent() {
	for _, p := range agentPanels {
		cols := make([]string, len(p.fields))
		for i, f := range p.fields {
			if p.counter {
				cols[i] = "non_negative_derivative(max(" + ident(f) + "), 1s) AS " + ident(p.aliases[i])
			} else {
				cols[i] = "max(" + ident(f) + ") AS " + ident(p.aliases[i])
			}
		}
		// A metric's label wins over an agent tag of the same key
		// (status.Points), so that key is grouped by once.
		var tags []string
		for _, t := range g.agentTags {
			if !slices.Contains(p.labels, t) {
				tags = append(tags, t)
			}
		}
		tags = append(tags, p.labels...)
		g.timeSeries(panelSpec{
			title:       p.title,
			description: p.description + " Measurement " + status.Measurement + ", written when agent.self_metrics is set.",
			unit:        p.unit,
			query:       target(selectQuery(cols, status.Measurement, tags, ""), seriesAlias("", true, tags)),
		})
	}
}
