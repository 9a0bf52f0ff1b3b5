package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
	"github.com/logmetrics/logmetrics/tailer"
)

// shutdownGrace is how long a signalled agent keeps delivering what it has
// read before it gives up on a write that keeps failing.
const shutdownGrace = 15 * time.Second

// The channel between the tailer and extract holds whole lines, so its
// capacity is bounded in bytes as well as lines, counted at the longest
// line the tailer passes on: 1,024 lines of the default 4 MiB limit would
// be 4 GiB. A smaller buffer costs nothing measurable, extract being the
// slower side (BenchmarkPipeline, 16 lines against 1,024).
const (
	lineBuffer      = 1024
	lineBufferBytes = 64 << 20
)

// recordBuffer caps the records channel between extract and the sink, in
// records (80 bytes each without their points: 640 KiB). Its capacity is
// not what bounds memory, the budget of max_pending points is
// (pipeline.Budget); it is more than a default batch, so that extract
// fills the next batch while the sink writes one.
const recordBuffer = 8192

// lineBufferFor is the capacity of the lines channel for lines of at most
// maxLineBytes (zero: the tailer's default).
func lineBufferFor(maxLineBytes int) int {
	if maxLineBytes <= 0 {
		maxLineBytes = tailer.DefaultMaxLineBytes
	}
	return max(1, min(lineBuffer, lineBufferBytes/maxLineBytes))
}

func cmdRun(e *env, args []string) int {
	fs := flags(e, "run")
	path := configFlag(fs)
	logf := addLogFlags(fs, "info")
	if code, done := parse(fs, args); done {
		return code
	}
	// A file named here would otherwise be silently ignored.
	if !noArgs(e, fs, "the files to follow are the paths of the rules file's source blocks") {
		return exitUsage
	}
	cfg, log := loadConfigLogged(e, "run", *path, logf, nil)
	if cfg == nil {
		return exitUsage
	}
	st, err := newAgentStatus(cfg, log) // before the sink, which reports to it
	if err != nil {
		fmt.Fprintf(e.stderr, "logmetrics run: %v\n", err)
		return exitUsage
	}
	defer st.close()
	p, err := newPipeline(cfg, e, log)
	if err != nil {
		fmt.Fprintf(e.stderr, "logmetrics run: %v\n", err)
		if errors.Is(err, tailer.ErrState) {
			return exitFailure // the state folder, not the rules
		}
		return exitUsage
	}
	defer p.tl.Close()
	defer st.serve(p)()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	defer p.reloadOnHangups(e, *path, logf, cfg)()
	if err := p.run(context.Background(), sigs); err != nil {
		return exitFailure // run has logged why
	}
	return exitOK
}

// agentPipeline is the three stages of `run`, joined by channels:
//
//	tailer --lines--> extract --records--> sink --acks--> (positions, next)
type agentPipeline struct {
	tl     *tailer.Tailer
	ex     *extract.Extractor
	sk     *sink.Sink
	log    *slog.Logger
	recCap int
	// budget holds max_pending points: extract takes a record's points
	// before sending it, the sink gives them back once delivered.
	budget *pipeline.Budget
	// lineCap is the capacity of the lines channel (lineBufferFor).
	lineCap int
	grace   time.Duration // shutdownGrace; tests shorten it
}

func newPipeline(cfg *config.Config, e *env, log *slog.Logger) (*agentPipeline, error) {
	st, err := newStages(cfg, log, stageOptions{stdout: e.stdout})
	if err != nil {
		return nil, err
	}
	// Followed files: quiet sources get their last windows after
	// window+lateness of wall time, and windows open at a stop are
	// completed after the restart from their held lines.
	st.ex.SetFeed(extract.FeedFollowed)
	// Last, as it locks the state folder: the caller Closes it.
	tl, err := tailer.New(cfg.Tailer, log)
	if err != nil {
		return nil, err
	}
	return &agentPipeline{tl: tl, ex: st.ex, sk: st.sk, log: log, recCap: st.recCap, budget: st.budget,
		lineCap: lineBufferFor(cfg.Tailer.MaxLineBytes), grace: shutdownGrace}, nil
}

// stages are extract and the sink, what run and backfill share: records
// flow from one to the other within max_pending points.
type stages struct {
	ex     *extract.Extractor
	sk     *sink.Sink
	recCap int
	budget *pipeline.Budget
}

// stageOptions say where the sink writes: InfluxDB when the rules file
// has an influxdb block, else stdout as line protocol; nowhere for a dry
// run. deadLetters, when set, replaces the dead-letter file's path.
type stageOptions struct {
	stdout      io.Writer
	discard     bool
	deadLetters string
	inFlight    int // write requests at once; 0 is the sink's default
}

func newStages(cfg *config.Config, log *slog.Logger, opt stageOptions) (*stages, error) {
	ex, err := extract.Compile(cfg.Extract)
	if err != nil {
		return nil, fmt.Errorf("bug: rules passed check but not compile: %w", err)
	}
	ex.SetLogger(log)
	var scfg sink.Config
	maxPending := config.DefaultMaxPending
	var dst sink.Destination = sink.NewStream(opt.stdout)
	if cfg.InfluxDB != nil {
		scfg, maxPending = cfg.InfluxDB.Sink, cfg.InfluxDB.MaxPending
		if opt.deadLetters != "" {
			scfg.DeadLetterPath = opt.deadLetters
		}
		scfg.InFlight = opt.inFlight
		if !opt.discard {
			idb, err := sink.NewInfluxDB(scfg)
			if err != nil {
				return nil, err
			}
			dst = idb
		}
	}
	if opt.discard {
		dst = sink.NewStream(io.Discard)
	}
	sk, err := sink.New(scfg, dst, log)
	if err != nil {
		return nil, err
	}
	// The queued records and the sink's batch hold at most max_pending
	// points (a single larger record goes alone).
	budget := pipeline.NewBudget(maxPending)
	ex.SetBudget(budget)
	sk.SetBudget(budget)
	recCap := min(maxPending, recordBuffer)
	// Enough free point slices to refill the records channel's worth that
	// the sink drains in one batch.
	rc := pipeline.NewRecycler(max(64, min(recCap, sink.DefaultBatchSize)))
	ex.SetRecycler(rc)
	sk.SetRecycler(rc)
	return &stages{ex: ex, sk: sk, recCap: recCap, budget: budget}, nil
}

// run runs the stages until the tailer stops or a stage fails. The first
// signal stops reading; what was read is then extracted and delivered. When
// shutdownGrace runs out the stages are cancelled, and the sink makes one
// last attempt bounded by its write timeout. A second signal returns at
// once, leaving the stages to die with the process. Its last log line says
// how much of what was read was not delivered (see shortfall).
func (p *agentPipeline) run(parent context.Context, sigs <-chan os.Signal) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	readCtx, stopReading := context.WithCancel(gctx)
	defer stopReading()

	stopped := make(chan struct{}) // closed when run returns
	defer close(stopped)
	now := make(chan struct{}) // closed on a second signal
	go func() {                // owned by run: it ends when run returns
		select {
		case sig := <-sigs:
			p.log.Info("stopping: delivering what was read", "signal", sig.String(), "grace", p.grace)
			stopReading()
		case <-stopped:
			return
		}
		grace := time.NewTimer(p.grace)
		defer grace.Stop()
		select {
		case sig := <-sigs:
			p.log.Warn("second signal: stopping at once", "signal", sig.String())
			close(now)
		case <-grace.C:
			p.log.Warn("shutdown grace ran out: one last write, then stop", "grace", p.grace)
			cancel()
			select { // the last write is bounded, but a signal cuts it short
			case sig := <-sigs:
				p.log.Warn("second signal: stopping at once", "signal", sig.String())
				close(now)
			case <-stopped:
			}
			return
		case <-stopped:
			return
		}
		cancel()
	}()

	lines := make(chan pipeline.Line, p.lineCap)
	recs := make(chan pipeline.Record, p.recCap)
	acks := make(chan pipeline.Ack, 64)
	g.Go(func() error { return p.tl.Run(readCtx, lines, acks) })                             // closes lines; commits acks
	g.Go(func() error { return p.ex.RunParallel(gctx, lines, recs, runtime.GOMAXPROCS(0)) }) // closes recs; extraction on every core, records in line order
	g.Go(func() error { return p.sk.Run(gctx, recs, acks) })                                 // closes acks
	waited := make(chan error, 1)
	go func() { waited <- g.Wait() }() // owned by run, or by the exit after a second signal
	var err error
	select {
	case err = <-waited:
		if errors.Is(err, context.Canceled) && parent.Err() == nil {
			err = errors.New("stopped before everything read was delivered")
		}
	case <-now:
		// The stages still run: the figures are those of this moment.
		err = errors.New("stopped at once by a second signal")
	}
	attrs := p.shortfall(lines).attrs()
	if err != nil {
		p.log.Error("stopped", append(attrs, "err", err)...)
	} else {
		p.log.Info("stopped", attrs...)
	}
	return err
}

// shortfall is what the agent read and did not deliver, for its last log
// line. A line is read once the tailer has handed it to extraction (a line
// dropped as too long is counted by the tailer instead), and delivered once
// the sink has finished its record's batch: written, or set aside as
// refused (counted by the sink). A point is delivered once written or set
// aside.
type shortfall struct {
	read         uint64 // lines read
	lines        uint64 // lines read and not delivered
	points       uint64 // points extracted and not delivered
	notExtracted uint64 // lines not delivered and not extracted either: their points are unknown, so not in points
}

// shortfall counts from the stages' counters and the lines still queued
// for extraction. After the stages stop it is exact. While they run it is
// a snapshot, read downstream first so that no figure can come out
// negative.
func (p *agentPipeline) shortfall(lines <-chan pipeline.Line) shortfall {
	done := p.sk.Delivered()
	// Read and not extracted: queued for extraction, or taken by it and
	// not yet placed in line order.
	queued := uint64(len(lines)) + p.ex.InFlight()
	es := p.ex.Stats()
	extracted := es.UnknownSource // lines from a source without rules still make a record
	for _, s := range es.Sources {
		extracted += s.Lines
	}
	var points uint64
	for _, r := range es.Rules {
		points += r.Points
	}
	read := extracted + queued
	// Records that carry no line (the windows an idle source's
	// aggregation emits) are delivered too: never count below zero.
	return shortfall{
		read:         read,
		lines:        read - min(read, done.Records),
		points:       points - min(points, done.Points),
		notExtracted: queued,
	}
}

func (s shortfall) attrs() []any {
	return []any{
		"lines_read", s.read,
		"lines_not_delivered", s.lines,
		"points_not_delivered", s.points,
		"lines_not_extracted", s.notExtracted,
	}
}
