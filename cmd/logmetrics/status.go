package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/logging"
	"github.com/logmetrics/logmetrics/internal/status"
	"github.com/logmetrics/logmetrics/sink"
	"github.com/logmetrics/logmetrics/tailer"
)

// agentStatus is what `run` shows of itself: /metrics and /healthz on
// agent.listen, and its counters written to InfluxDB every
// agent.self_metrics. It is made before the pipeline, because the sink
// reports each write request to it (sink.Config.OnWrite), and bound then,
// so that a port in use stops the agent at start rather than being a log
// line later.
type agentStatus struct {
	cfg     *config.Config
	log     *slog.Logger
	stages  status.Stages
	metrics *status.Metrics
	ln      net.Listener // nil when agent.listen is ""
	// p is the pipeline the metrics read, set by serve before anything
	// reads it.
	p *agentPipeline
}

// newAgentStatus makes the metrics, points cfg's sink at them and binds
// agent.listen. The caller closes it.
func newAgentStatus(cfg *config.Config, log *slog.Logger) (*agentStatus, error) {
	st := &agentStatus{cfg: cfg, log: log}
	stages := status.Stages{
		Tailer:  func() tailer.Stats { return st.p.tl.Stats() },
		Extract: func() extract.Stats { return st.p.ex.Stats() },
		Sink:    func() sink.Stats { return st.p.sk.Stats() },
		Pending: func() int { return st.p.budget.Held() },
	}
	if cfg.InfluxDB != nil {
		stages.Writes = func() sink.WriteState { return st.p.sk.WriteState() }
	}
	st.stages, st.metrics = stages, status.NewMetrics(stages)
	if cfg.InfluxDB != nil {
		cfg.InfluxDB.Sink.OnWrite = st.metrics.ObserveWrite
	}
	if cfg.Agent.Listen != "" {
		ln, err := status.Listen(cfg.Agent.Listen)
		if err != nil {
			return nil, fmt.Errorf("%w (set agent.listen to a free host:port, or to \"\" to turn /metrics and /healthz off)", err)
		}
		st.ln = ln
	}
	return st, nil
}

// close releases the address if serve never took it.
func (st *agentStatus) close() {
	if st.ln != nil {
		st.ln.Close()
	}
}

// serve serves the endpoints and writes the self-metrics of p until the
// returned func is called; that func returns once they have stopped.
func (st *agentStatus) serve(p *agentPipeline) (stop func()) {
	st.p = p
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if st.ln != nil {
		srv := status.NewServer(st.stages, st.metrics, st.cfg.Agent.UnhealthyAfter, st.log, logging.Redactor(secrets(st.cfg)))
		ln := st.ln
		st.ln = nil // Serve closes it
		st.log.Info("serving /metrics and /healthz", "listen", ln.Addr().String())
		wg.Go(func() {
			if err := srv.Serve(ctx, ln); err != nil {
				st.log.Error("/metrics and /healthz stopped", "err", err)
			}
		})
	}
	if every := st.cfg.Agent.SelfMetrics; every > 0 {
		if st.cfg.InfluxDB == nil {
			st.log.Warn("agent.self_metrics is set but there is no influxdb block: the agent's own metrics are not written")
		} else if dst, err := sink.NewInfluxDB(st.cfg.InfluxDB.Sink); err != nil {
			st.log.Error("self metrics not written", "err", err)
		} else {
			wg.Go(func() {
				defer dst.Close()
				st.metrics.WriteEvery(ctx, every, dst, st.cfg.Agent.Tags, st.log)
			})
		}
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
