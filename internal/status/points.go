package status

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
)

// Measurement is where the agent's own counters go in InfluxDB.
const Measurement = "logmetrics_agent"

// Points turns the registry's logmetrics_ metrics, and the process's CPU
// and memory, into points of Measurement at now: one point per label set,
// the labels its tags (with tags, the agent's), each metric a field named
// without the logmetrics_ prefix. A histogram gives its _count and _sum.
// So the series of /metrics and of InfluxDB are the same numbers.
func (m *Metrics) Points(now time.Time, tags []pipeline.Tag) ([]pipeline.Point, error) {
	families, err := m.reg.Gather()
	if err != nil && len(families) == 0 {
		return nil, err
	}
	byLabels := map[string]*pipeline.Point{}
	var order []string
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, "logmetrics_") && name != "process_cpu_seconds_total" && name != "process_resident_memory_bytes" {
			continue
		}
		name = strings.TrimPrefix(name, "logmetrics_")
		for _, mt := range f.GetMetric() {
			// The metric's labels first, so that an agent tag of the
			// same key gives way (the sort is stable, Compact keeps
			// the first).
			var pt []pipeline.Tag
			for _, l := range mt.GetLabel() {
				pt = append(pt, pipeline.Tag{Key: l.GetName(), Value: l.GetValue()})
			}
			pt = append(pt, tags...)
			slices.SortStableFunc(pt, func(a, b pipeline.Tag) int { return strings.Compare(a.Key, b.Key) })
			pt = slices.CompactFunc(pt, func(a, b pipeline.Tag) bool { return a.Key == b.Key })
			var key strings.Builder
			for _, t := range pt {
				key.WriteString(t.Key + "\x00" + t.Value + "\x00")
			}
			p, ok := byLabels[key.String()]
			if !ok {
				p = &pipeline.Point{Measurement: Measurement, Tags: pt, Time: now.UnixNano()}
				byLabels[key.String()] = p
				order = append(order, key.String())
			}
			p.Fields = append(p.Fields, fields(name, f.GetType(), mt)...)
		}
	}
	out := make([]pipeline.Point, 0, len(order))
	for _, k := range order {
		p := byLabels[k]
		slices.SortFunc(p.Fields, func(a, b pipeline.Field) int { return strings.Compare(a.Key, b.Key) })
		out = append(out, *p)
	}
	return out, err
}

func fields(name string, typ dto.MetricType, m *dto.Metric) []pipeline.Field {
	switch typ {
	case dto.MetricType_COUNTER:
		return []pipeline.Field{{Key: name, Value: pipeline.FloatValue(m.GetCounter().GetValue())}}
	case dto.MetricType_GAUGE:
		return []pipeline.Field{{Key: name, Value: pipeline.FloatValue(m.GetGauge().GetValue())}}
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		return []pipeline.Field{
			{Key: name + "_count", Value: pipeline.FloatValue(float64(h.GetSampleCount()))},
			{Key: name + "_sum", Value: pipeline.FloatValue(h.GetSampleSum())},
		}
	}
	return nil
}

// WriteEvery writes Points to dst every interval until ctx ends. These
// points skip the pipeline: they are not the logs' data, need no
// position, and must not wait behind a backlog they are there to show. A
// failed write is logged and counted (logmetrics_self_metrics_errors_total);
// the next interval writes fresh figures.
func (m *Metrics) WriteEvery(ctx context.Context, interval time.Duration, dst sink.Destination, tags []pipeline.Tag, log *slog.Logger) {
	errs := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "logmetrics_self_metrics_errors_total",
		Help: "Failed writes of the agent's own metrics to InfluxDB (agent.self_metrics).",
	})
	if err := m.reg.Register(errs); err != nil {
		log.Error("self metrics: cannot register their error counter", "err", err)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var buf []byte
	for n := uint64(1); ; {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			points, err := m.Points(now, tags)
			buf = buf[:0]
			for i := range points {
				buf = sink.AppendPoint(buf, &points[i])
			}
			if err == nil && len(buf) > 0 {
				wctx, cancel := context.WithTimeout(ctx, interval)
				err = dst.WriteBatch(wctx, buf)
				cancel()
			}
			if err != nil && ctx.Err() == nil {
				errs.Inc()
				if pipeline.Sampled(n) {
					log.Warn("self metrics: write failed", "err", err, "occurrence", n)
				}
				n++
			}
		}
	}
}
