package status

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is the agent's Prometheus registry: the stages' counters read at
// each scrape (collector), the write requests and their latency observed
// as they happen (ObserveWrite), and Go's runtime and process metrics.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  prometheus.Histogram
}

// NewMetrics registers the collectors over stages.
func NewMetrics(stages Stages) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logmetrics_write_requests_total",
			Help: `Write requests to InfluxDB by outcome: "2xx", the HTTP status of a failure, or "none" when no response came.`,
		}, []string{"code"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "logmetrics_write_duration_seconds",
			Help: "How long write requests to InfluxDB took, failed ones included.",
			// From a loopback write of a small batch (~1 ms) to the
			// default timeout (10 s).
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, &collector{stages: stages},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveWrite counts a write request and its duration: sink.Config's
// OnWrite.
func (m *Metrics) ObserveWrite(code string, took time.Duration) {
	m.requests.WithLabelValues(code).Inc()
	m.latency.Observe(took.Seconds())
}

// Registry is what /metrics serves and self-metrics write.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// desc is one metric the collector makes from the stages' counters.
type desc struct {
	*prometheus.Desc
	kind prometheus.ValueType
}

func newDesc(name, help string, kind prometheus.ValueType, labels ...string) desc {
	return desc{prometheus.NewDesc(name, help, labels, nil), kind}
}

var (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue

	fileLines     = newDesc("logmetrics_file_lines_read_total", "Lines read from a followed file, over-long ones included.", counter, "source", "file")
	fileTooLong   = newDesc("logmetrics_file_lines_too_long_total", "Lines of a file skipped because they exceed max_line_bytes; in lines read.", counter, "source", "file")
	fileTruncated = newDesc("logmetrics_file_truncation_lost_bytes_total", "Bytes of a file lost because it was truncated before they were read and no rotated copy held them.", counter, "source", "file")
	fileCommitted = newDesc("logmetrics_file_committed_offset_bytes", "Offset up to which a file's lines are delivered and their position saved.", gauge, "source", "file")
	fileSize      = newDesc("logmetrics_file_size_bytes", "A followed file's size when last read.", gauge, "source", "file")
	fileLagBytes  = newDesc("logmetrics_file_lag_bytes", "Bytes of a file not yet delivered: its size minus the committed offset.", gauge, "source", "file")
	fileLagSecs   = newDesc("logmetrics_file_lag_seconds", "Log time between the newest line extracted from a file and the newest delivered (before the first delivery, the first extracted): 0 when caught up.", gauge, "source", "file")
	fileUp        = newDesc("logmetrics_file_readable", "1 while a followed file can be read, 0 once reading it failed.", gauge, "source", "file")

	sourceRead      = newDesc("logmetrics_source_lines_read_total", "Lines read from the files of a source, those let go after a rotation included, over-long and replayed ones too.", counter, "source")
	sourceTooLong   = newDesc("logmetrics_source_lines_too_long_total", "Lines of a source's files skipped because they exceed max_line_bytes.", counter, "source")
	sourceRecords   = newDesc("logmetrics_source_multiline_records_total", "Records a source with a multiline block passed on, each its first line and continuation lines joined (one-line records included); shown for such sources only.", counter, "source")
	sourceCut       = newDesc("logmetrics_source_multiline_cut_total", `Records of a multiline source passed on before their end was seen, by reason: "max_lines" (full, and the next line continued it), "max_bytes" (the next line would have taken it past max_line_bytes) or "timeout" (no next line within the timeout); in the records.`, counter, "source", "reason")
	sourceResult    = newDesc("logmetrics_source_lines_total", `Lines of a source offered to its rules (records, for a source with a multiline block), each once by what they did: "taken" by at least one rule, else "filtered" by a require block of at least one, else "not_taken".`, counter, "source", "result")
	sourceReplayed  = newDesc("logmetrics_source_lines_replayed_total", "Lines read again after a restart to rebuild state; in no other line counter.", counter, "source")
	ruleLines       = newDesc("logmetrics_rule_lines_total", `Lines offered to a rule by result: "taken", "not_taken" (the pattern did not match) or "filtered" (a require block refused it).`, counter, "source", "rule", "result")
	rulePoints      = newDesc("logmetrics_rule_points_total", "Points a rule produced (an aggregate rule: one per window and tag set).", counter, "source", "rule")
	ruleErrors      = newDesc("logmetrics_rule_errors_total", `Per-line problems of a rule by kind: "time" (the point is dropped), "conversion", "missing", "composite" (a field or tag left out), "no_fields" and "series_too_long" (the point is dropped).`, counter, "source", "rule", "kind")
	ruleLate        = newDesc("logmetrics_rule_late_lines_total", "Lines of an aggregate rule dropped because their window was already written.", counter, "source", "rule")
	ruleFolded      = newDesc("logmetrics_rule_folded_lines_total", `Lines of an aggregate rule folded into the tag set "other" because max_series tag sets were open.`, counter, "source", "rule")
	ruleAggregated  = newDesc("logmetrics_rule_aggregated_lines_total", "Lines an aggregate rule folded into its windows.", counter, "source", "rule")
	pointsProduced  = newDesc("logmetrics_points_produced_total", "Points the rules produced: written, dead-lettered, dropped or pending.", counter)
	pointsWritten   = newDesc("logmetrics_points_written_total", "Points InfluxDB stored.", counter)
	pointsAltered   = newDesc("logmetrics_points_altered_total", "Points encoded with bytes line protocol cannot carry (control characters, invalid UTF-8) replaced by U+FFFD.", counter)
	pointsDead      = newDesc("logmetrics_points_dead_lettered_total", "Points set aside in the dead-letter file, by reason.", counter, "reason")
	pointsDropped   = newDesc("logmetrics_points_dropped_total", "Points neither written nor set aside, by reason.", counter, "reason")
	pointsPending   = newDesc("logmetrics_points_pending", "Points extracted and not yet delivered.", gauge)
	writeRetries    = newDesc("logmetrics_write_retries_total", "Write requests repeated after a failure.", counter)
	writeErrors     = newDesc("logmetrics_write_errors_total", "Failed write requests by class.", counter, "class")
	writeFailingFor = newDesc("logmetrics_write_failing_seconds", "How long writes have been failing; 0 while the last write succeeded.", gauge)
)

// collector reads the stages' counters at each scrape.
type collector struct{ stages Stages }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []desc{fileLines, fileTooLong, fileTruncated, fileCommitted, fileSize, fileLagBytes, fileLagSecs, fileUp,
		sourceRead, sourceTooLong, sourceRecords, sourceCut, sourceResult, sourceReplayed, ruleLines, rulePoints, ruleErrors, ruleLate, ruleFolded, ruleAggregated,
		pointsProduced, pointsWritten, pointsAltered, pointsDead, pointsDropped, pointsPending, writeRetries, writeErrors, writeFailingFor} {
		ch <- d.Desc
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	emit := func(d desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d.Desc, d.kind, v, labels...)
	}
	ts := c.stages.Tailer()
	for _, s := range ts.Sources {
		emit(sourceRead, float64(s.Lines), s.Source)
		emit(sourceTooLong, float64(s.TooLong), s.Source)
		if s.Multiline {
			emit(sourceRecords, float64(s.Records), s.Source)
			emit(sourceCut, float64(s.CutMaxLines), s.Source, "max_lines")
			emit(sourceCut, float64(s.CutMaxBytes), s.Source, "max_bytes")
			emit(sourceCut, float64(s.Timeouts), s.Source, "timeout")
		}
	}
	for _, f := range ts.Files {
		emit(fileLines, float64(f.Lines), f.Source, f.Path)
		emit(fileTooLong, float64(f.TooLong), f.Source, f.Path)
		emit(fileTruncated, float64(f.LostToTruncation), f.Source, f.Path)
		up := 1.0
		if f.Err != nil {
			up = 0
		}
		emit(fileUp, up, f.Source, f.Path)
		emit(fileCommitted, float64(f.Committed), f.Source, f.Path)
		emit(fileSize, float64(f.Size), f.Source, f.Path)
		emit(fileLagBytes, float64(max(0, f.Size-f.Committed)), f.Source, f.Path)
		emit(fileLagSecs, f.LogLag.Seconds(), f.Source, f.Path)
	}
	es := c.stages.Extract()
	for _, s := range es.Sources {
		emit(sourceResult, float64(s.Taken), s.Source, "taken")
		emit(sourceResult, float64(s.Filtered), s.Source, "filtered")
		emit(sourceResult, float64(s.NotTaken), s.Source, "not_taken")
		emit(sourceReplayed, float64(s.Replayed), s.Source)
	}
	var produced uint64
	for _, r := range es.Rules {
		produced += r.Points
		emit(ruleLines, float64(r.Taken), r.Source, r.Rule, "taken")
		emit(ruleLines, float64(r.NotTaken), r.Source, r.Rule, "not_taken")
		emit(ruleLines, float64(r.Filtered), r.Source, r.Rule, "filtered")
		emit(rulePoints, float64(r.Points), r.Source, r.Rule)
		for kind, n := range map[string]uint64{"time": r.TimeErrors, "conversion": r.ConversionErrors, "missing": r.Missing,
			"composite": r.CompositeValues, "no_fields": r.NoFields, "series_too_long": r.SeriesTooLong} {
			emit(ruleErrors, float64(n), r.Source, r.Rule, kind)
		}
		emit(ruleLate, float64(r.Late), r.Source, r.Rule)
		emit(ruleFolded, float64(r.Folded), r.Source, r.Rule)
		emit(ruleAggregated, float64(r.Aggregated), r.Source, r.Rule)
	}
	ss := c.stages.Sink()
	emit(pointsProduced, float64(produced))
	emit(pointsWritten, float64(ss.PointsWritten))
	emit(pointsAltered, float64(ss.PointsAltered))
	emit(pointsDead, float64(ss.DeadLettered.Refused), "refused")
	emit(pointsDead, float64(ss.DeadLettered.TooLarge), "too_large")
	emit(pointsDropped, float64(ss.Dropped.Refused), "refused")
	emit(pointsDropped, float64(ss.Dropped.TooLarge), "too_large")
	emit(pointsDropped, float64(ss.Dropped.Invalid), "invalid")
	emit(pointsDropped, float64(ss.Dropped.DeadLetterFailed), "dead_letter_failed")
	emit(pointsPending, float64(c.stages.Pending()))
	emit(writeRetries, float64(ss.Retries))
	for class, n := range map[string]uint64{"network": ss.WriteErrors.Network, "throttled": ss.WriteErrors.Throttled,
		"server": ss.WriteErrors.Server, "refused": ss.WriteErrors.Refused, "too_large": ss.WriteErrors.TooLarge, "config": ss.WriteErrors.Config} {
		emit(writeErrors, float64(n), class)
	}
	if c.stages.Writes != nil {
		failing := 0.0
		if ws := c.stages.Writes(); !ws.FailingSince.IsZero() {
			failing = time.Since(ws.FailingSince).Seconds()
		}
		emit(writeFailingFor, failing)
	}
}
