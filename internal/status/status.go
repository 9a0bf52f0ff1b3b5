// Package status shows what a running agent is doing: its counters as
// Prometheus metrics on /metrics, its health on /healthz, and the same
// counters as InfluxDB points (the logmetrics_agent measurement) for a
// Grafana user who sees the agent beside the application.
//
// Nothing here counts anything. Every scrape reads the stages' own
// counters (tailer.Stats, extract.Stats, sink.Stats and the pending
// points), so /metrics, the agent's last log line and `logmetrics test`'s
// table are one set of numbers and cannot drift apart.
package status

import (
	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/sink"
	"github.com/logmetrics/logmetrics/tailer"
)

// Stages are the snapshots of the pipeline the agent runs. Each is called
// on every scrape and must be safe to call at any time.
type Stages struct {
	Tailer  func() tailer.Stats
	Extract func() extract.Stats
	Sink    func() sink.Stats
	// Pending is the points extracted and not yet delivered: queued for
	// the sink, in its batch or being written.
	Pending func() int
	// Writes is the state of writing to InfluxDB; nil when points go to
	// stdout.
	Writes func() sink.WriteState
}
