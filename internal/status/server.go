package status

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves /metrics and /healthz.
type Server struct {
	stages  Stages
	metrics *Metrics
	// unhealthyAfter is how long writes may fail before /healthz says
	// 503 (agent.unhealthy_after).
	unhealthyAfter time.Duration
	log            *slog.Logger
	// redact removes secrets from what the server writes (the reasons
	// of /healthz quote write errors).
	redact func(string) string
}

// NewServer makes the endpoints over stages and metrics; /healthz says
// 503 once writes have failed for unhealthyAfter. redact, if not nil, is
// applied to /healthz's text.
func NewServer(stages Stages, metrics *Metrics, unhealthyAfter time.Duration, log *slog.Logger, redact func(string) string) *Server {
	if redact == nil {
		redact = func(s string) string { return s }
	}
	return &Server{stages: stages, metrics: metrics, unhealthyAfter: unhealthyAfter, log: log, redact: redact}
}

// Handler routes /metrics, /healthz and an index at /.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.Registry(), promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn), ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "logmetrics: /metrics (Prometheus), /healthz")
	})
	return mux
}

// Listen binds addr, so that a port in use is an error at start rather
// than a log line later.
func Listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("agent.listen %s: %w", addr, err)
	}
	return l, nil
}

// Serve serves on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() { // owned by Serve: ends when ctx does or Serve returns
		select {
		case <-ctx.Done():
			shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdown)
		case <-done:
		}
	}()
	defer close(done)
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
