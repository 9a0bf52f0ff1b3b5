package main

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"os/signal"
	"reflect"
	"sync"
	"syscall"
	"time"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/tailer"
)

// reloadOnHangups reloads the rules file of `run` at each SIGHUP, one at a
// time, until the returned func is called (after the pipeline stopped).
//
// A file with errors is reported as at startup (its diagnostics as text,
// or as records with JSON logs) and changes nothing. A valid one reaches
// the stages in line order: the tailer stops the followers of the sources
// removed, sends a marker line after every line read so far, which swaps
// the rules in extract (unchanged sources and rules keep their state; see
// extract/reload.go), then follows the sources added (tailer/reload.go).
// What only a restart can change (the influxdb and agent blocks but the
// agent's tags) keeps its old value, with a
// warning naming it.
func (p *agentPipeline) reloadOnHangups(e *env, path string, logf logFlags, running *config.Config) (stop func()) {
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-hups:
				p.reload(e, path, logf, running, done)
			case <-done:
				return
			}
		}
	})
	return func() {
		signal.Stop(hups)
		signal.Ignore(syscall.SIGHUP) // not the default action: death
		close(done)
		wg.Wait()
	}
}

// reload reloads the rules file once. It returns when the new rules apply,
// or when they were refused, or when done is closed.
func (p *agentPipeline) reload(e *env, path string, logf logFlags, running *config.Config, done <-chan struct{}) {
	began := time.Now()
	p.log.Info("SIGHUP: reloading the rules file", "file", path)
	cfg, _ := loadConfigLogged(e, "run", path, logf, nil)
	if cfg == nil {
		p.log.Error("reload refused: the rules file has errors (above); the running rules stay", "file", path)
		return
	}
	if changed := restartOnly(running, cfg); len(changed) > 0 {
		p.log.Warn("reload: these settings apply only at a restart; their running values stay", "changed", changed)
	}
	next, err := extract.Compile(cfg.Extract)
	if err != nil {
		p.log.Error("bug: rules passed check but not compile; the running rules stay", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // owned by reload: it ends when reload returns
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := p.tl.Reload(ctx, cfg.Tailer.Sources, pipeline.Line{Rules: next}); err != nil {
		if !errors.Is(err, tailer.ErrNotReading) && !errors.Is(err, context.Canceled) {
			p.log.Error("reload refused; the running rules stay", "err", err)
		}
		return
	}
	select {
	case <-next.Applied():
		p.log.Info("reload: the new rules apply from the next line", "file", path,
			"sources", len(cfg.Tailer.Sources), "took", time.Since(began).Round(time.Microsecond))
	case <-ctx.Done():
	}
}

// restartOnly names the settings of cfg that differ from running's and
// that a reload cannot apply.
func restartOnly(running, cfg *config.Config) []string {
	var out []string
	a, b := running.Agent, cfg.Agent
	a.Tags, b.Tags = nil, nil // merged into the sources' tags: reloaded
	for _, f := range []struct {
		name     string
		old, new any
	}{
		{"agent.state_dir", a.StateDir, b.StateDir},
		{"agent.listen", a.Listen, b.Listen},
		{"agent.log_level", a.LogLevel, b.LogLevel},
		{"agent.log_format", a.LogFormat, b.LogFormat},
		{"agent.self_metrics", a.SelfMetrics, b.SelfMetrics},
		{"agent.unhealthy_after", a.UnhealthyAfter, b.UnhealthyAfter},
	} {
		if !reflect.DeepEqual(f.old, f.new) {
			out = append(out, f.name)
		}
	}
	if !sameInfluxDB(running.InfluxDB, cfg.InfluxDB) {
		out = append(out, "influxdb")
	}
	return out
}

// sameInfluxDB reports whether two influxdb blocks say the same. Not
// reflect.DeepEqual on the whole: the running block's OnWrite is set by
// run (the metrics), and a ca_file's pool holds funcs, which DeepEqual
// never finds equal, so every reload would warn of a change.
func sameInfluxDB(a, b *config.InfluxDB) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.Sink.OnWrite, y.Sink.OnWrite = nil, nil
	x.Sink.TLS, y.Sink.TLS = nil, nil
	return reflect.DeepEqual(x, y) && sameTLS(a.Sink.TLS, b.Sink.TLS)
}

// sameTLS compares TLS settings, the CA pools with their Equal.
func sameTLS(a, b *tls.Config) bool {
	if a == nil || b == nil {
		return a == b
	}
	if !a.RootCAs.Equal(b.RootCAs) {
		return false
	}
	x, y := a.Clone(), b.Clone()
	x.RootCAs, y.RootCAs = nil, nil
	return reflect.DeepEqual(x, y)
}
