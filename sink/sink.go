// Package sink turns Records into line protocol, writes it in batches to a
// Destination (InfluxDB, or a stream such as stdout) and acks what was
// delivered:
//
//	Record --encode--> batch --Destination 2xx--> Ack
//
// Wiring:
//
//	dst, err := sink.NewInfluxDB(cfg) // or sink.NewStream(os.Stdout)
//	sk, err := sink.New(cfg, dst, log)
//	err = sk.Run(ctx, records, acks) // closes acks
package sink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// Defaults for the zero values of Config.
const (
	DefaultBatchSize     = 5000
	DefaultFlushInterval = time.Second
	DefaultTimeout       = 10 * time.Second
	DefaultMaxRetryDelay = 30 * time.Second
	DefaultInFlight      = 1
	// DefaultDeadLetterMaxBytes bounds the dead-letter file; with the one
	// previous file kept, the dead letters take at most twice this.
	DefaultDeadLetterMaxBytes = 64 << 20
)

// maxInFlight bounds Config.InFlight: two writes in flight already keep
// the server busy while the next batch is encoded and sent; more would
// mostly hold more points in memory.
const maxInFlight = 4

// retryBaseDelay is the backoff before jitter after the first failure; it
// doubles with each further failure of the same batch.
const retryBaseDelay = time.Second

// retryAfterSpread: up to 1/retryAfterSpread of a server's Retry-After is
// added to it at random, so that agents told the same wait do not all come
// back at the same moment.
const retryAfterSpread = 5

// pingInterval is how often a backoff after a network error or a 5xx
// asks the server's /ping whether it is back, and how long one probe may
// take: delivery resumes within about this much of the server's return,
// instead of when a backoff of up to MaxRetryDelay runs out.
const pingInterval = time.Second

// gatherDelay is how long Run leaves records to queue up once it has
// taken all those waiting for a batch that is not full: read one at a
// time as extract sends them, each record would wake the sink, at the
// cost of two system calls and a context switch, more than encoding it.
// Records wait that much longer at most, far less than FlushInterval; at
// a million records a second the queue holds the records of the delay
// (recordBuffer in cmd/logmetrics is 8,192).
const gatherDelay = 2 * time.Millisecond

// splitAboveBytes is the size of line protocol above which a batch refused
// with 413 is split in halves, or a single point dropped. A 413 for a
// smaller batch says more about a proxy's limit, or a server in trouble,
// than about the data, so that batch is retried with backoff like a 5xx:
// splitting it would only multiply the requests and drop points for good.
const splitAboveBytes = 64 << 10

// Config is the sink's part of the rules file. The zero value of each field
// means its default.
type Config struct {
	// URL is the InfluxDB base URL, like "http://127.0.0.1:8086". It is
	// only needed by NewInfluxDB.
	URL string
	// Token is sent as "Authorization: Token <Token>" when not empty.
	// InfluxDB 1.8 takes "user:password", or nothing when auth is off.
	// It is never logged.
	Token string
	// TLS configures https connections; nil takes Go's defaults (the
	// system's roots, certificate checks on).
	TLS *tls.Config
	// OnWrite, when set, is called after each write request with its
	// outcome, "2xx", the HTTP status ("503") or "none" when no response
	// came, and how long it took: the agent's request counts and latency
	// histogram.
	OnWrite func(code string, took time.Duration)
	// Org is the InfluxDB 2 organization. InfluxDB 1.8 ignores it; 2.x
	// refuses a write without it with 400, which the sink counts as
	// refused data, so set it for 2.x.
	Org string
	// Bucket is the InfluxDB 2 bucket, or on 1.8 "db/retention_policy" or
	// "db" (the default retention policy).
	Bucket string
	// BatchSize is how many points make a batch; a batch is written once
	// it has at least that many. Records are never split, so a batch can
	// exceed it by the points of one record.
	BatchSize int
	// FlushInterval is the longest a record waits in a batch that is not
	// full.
	FlushInterval time.Duration
	// Timeout bounds one write, and also the final flush at shutdown.
	Timeout time.Duration
	// MaxRetryDelay caps the wait between retries of a failed write. A
	// server's Retry-After of more is cut to it (less up to a fifth, as
	// jitter): points wait no longer than MaxRetryDelay, at the cost of a
	// retry that may come before the server is ready.
	MaxRetryDelay time.Duration
	// DeadLetterPath is the file where the points the server refused
	// (400, 422) or found too large (413, alone over 64 KiB) are set
	// aside as line protocol, each after a comment line that says why and
	// where it came from. "" keeps no file: such points are then only
	// counted (Stats().Dropped) and logged.
	DeadLetterPath string
	// DeadLetterMaxBytes bounds the dead-letter file. An entry that would
	// take it past the bound first moves it to DeadLetterPath+".1",
	// replacing the one there.
	DeadLetterMaxBytes int64
	// InFlight is how many batches may be written at once (default 1).
	// With more, a batch is encoded and sent while the previous one is
	// still being written; acks are still sent in batch order, so a
	// file's position never passes a line whose batch is not finished.
	// While one batch retries a failed write, the others make no attempt
	// until it is finished (see Sink.hold). At most 4. A *Stream is
	// written one batch at a time whatever InFlight says, so that its
	// output keeps batch order. The budget (SetBudget) counts the points
	// of every batch in flight: give it more than InFlight batches.
	InFlight int
}

// Validate reports every problem with c, joined.
func (c Config) Validate() error {
	var errs []error
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("url: %w", err))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("url %q: scheme must be http or https", c.URL))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("url %q: no host", c.URL))
		}
		if c.Bucket == "" {
			errs = append(errs, errors.New("bucket is required with a url"))
		}
	}
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("batch size %d: must not be negative", c.BatchSize))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"flush interval", c.FlushInterval},
		{"timeout", c.Timeout},
		{"max retry delay", c.MaxRetryDelay},
	} {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("%s %v: must not be negative", d.name, d.d))
		}
	}
	if c.DeadLetterMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("dead letter max bytes %d: must not be negative", c.DeadLetterMaxBytes))
	}
	if c.InFlight < 0 || c.InFlight > maxInFlight {
		errs = append(errs, fmt.Errorf("in flight %d: must be 1 to %d (0 means %d)", c.InFlight, maxInFlight, DefaultInFlight))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxRetryDelay == 0 {
		c.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if c.DeadLetterMaxBytes == 0 {
		c.DeadLetterMaxBytes = DefaultDeadLetterMaxBytes
	}
	if c.InFlight == 0 {
		c.InFlight = DefaultInFlight
	}
	return c
}

// LogValue keeps the token out of logs.
func (c Config) LogValue() slog.Value {
	token := ""
	if c.Token != "" {
		token = "******"
	}
	return slog.GroupValue(
		slog.String("url", c.URL),
		slog.String("token", token),
		slog.String("org", c.Org),
		slog.String("bucket", c.Bucket),
		slog.Int("batch_size", c.BatchSize),
		slog.Duration("flush_interval", c.FlushInterval),
		slog.Duration("timeout", c.Timeout),
		slog.Duration("max_retry_delay", c.MaxRetryDelay),
		slog.String("dead_letter_path", c.DeadLetterPath),
		slog.Int64("dead_letter_max_bytes", c.DeadLetterMaxBytes),
		slog.Int("in_flight", c.InFlight),
	)
}

// Destination is where batches go: *InfluxDB and *Stream. WriteBatch gets
// whole lines of line protocol and must not keep batch after it returns.
// An error that is a *WriteError is handled by its status code; any other
// error is retried like a network error. With Config.InFlight above 1,
// WriteBatch is called by several goroutines at once.
type Destination interface {
	WriteBatch(ctx context.Context, batch []byte) error
}

// Stats are the sink's counters since New.
type Stats struct {
	// PointsWritten counts the points of successful writes and the
	// points a partial write stored (see Dropped.Refused).
	PointsWritten uint64
	// PointsAltered counts the points encoded with a byte line protocol
	// cannot carry replaced by U+FFFD (a control character such as a
	// multiline record's newline in a tag value, invalid UTF-8; see
	// AppendPoint). They are written, altered; each is logged (sampled).
	PointsAltered  uint64
	BatchesWritten uint64 // successful writes; a split batch counts each part
	Retries        uint64
	WriteErrors    WriteErrors
	// DeadLettered counts the points set aside in the dead-letter file.
	DeadLettered DeadLettered
	// Dropped counts the points neither written nor set aside. Each point
	// refused or too large is counted once: in DeadLettered, or in
	// Dropped by its reason when there is no dead-letter file, or in
	// Dropped.DeadLetterFailed when the file could not take it.
	Dropped Dropped
}

// WriteErrors counts failed writes by class.
type WriteErrors struct {
	Network   uint64 // no response, or a Stream write error
	Throttled uint64 // 429
	Server    uint64 // 5xx, 408 and 425
	Refused   uint64 // 400 and 422: the data was refused, in whole or in part; each resent part counts
	TooLarge  uint64 // 413, whether the batch was then split, dropped or retried
	Config    uint64 // 401, 403, 404, redirects (3xx) and any other status
}

// DeadLettered counts points set aside in the dead-letter file, by
// reason. Their records are acked all the same, so the files move on.
type DeadLettered struct {
	// Refused counts the points the server refused (400, 422). A refused
	// batch is resent in halves until each refused point is alone in a
	// request the server refused, or in one it said it refused whole
	// (a partial write's "dropped=N" with N its size), so none of the
	// points it stored is counted here.
	Refused uint64
	// TooLarge counts single points over splitAboveBytes of line
	// protocol that the server refused with 413.
	TooLarge uint64
}

// Dropped counts points that are neither in InfluxDB nor in the
// dead-letter file, by reason; each is logged (sampled). Their records are
// acked all the same, so the files move on.
type Dropped struct {
	// Refused and TooLarge are as in DeadLettered, when Config has no
	// DeadLetterPath.
	Refused  uint64
	TooLarge uint64
	Invalid  uint64 // no writable field (only NaN or ±Inf): a bug upstream
	// DeadLetterFailed counts refused or too large points that could not
	// be written to the dead-letter file (a full disk, a read-only state
	// folder): the agent does not stall a file for its dead letters.
	DeadLetterFailed uint64
}

type counters struct {
	pointsWritten, batchesWritten, retries, pointsAltered                   atomic.Uint64
	errNetwork, errThrottled, errServer, errRefused, errTooLarge, errConfig atomic.Uint64
	droppedRefused, droppedTooLarge, droppedInvalid, deadLetterFailed       atomic.Uint64
	deadRefused, deadTooLarge                                               atomic.Uint64
}

// Sink batches records and writes them to its Destination.
type Sink struct {
	cfg Config
	dst Destination
	log *slog.Logger

	// wait sleeps for a retry delay unless ctx ends first, and jitter
	// returns a random duration in [0, d). Tests replace them. Batch age
	// uses the time package directly: tests control it with
	// testing/synctest.
	wait   func(ctx context.Context, d time.Duration) error
	jitter func(d time.Duration) time.Duration

	stats   counters
	recycle *pipeline.Recycler
	// budget gets back the points of each finished batch.
	budget *pipeline.Budget

	// cur is the batch being filled, flying the batches started and not
	// yet acked, oldest first (at most InFlight), and spare finished
	// ones kept for their buffers. Run owns them; a started batch
	// survives a cancelled write so that the final flush can finish it.
	cur    *batch
	flying []*batch
	spare  []*batch
	// retrying is held by the batch that is retrying a failed write; see
	// hold.
	retrying chan struct{}

	// stateMu guards state, written after each write request.
	stateMu sync.Mutex
	state   WriteState

	// deadMu serializes setAside's use of dead among the writers.
	deadMu sync.Mutex
	dead   deadLetters
	// refusals and setAsides count events, for sampled logs.
	refusals, setAsides, deadFailures atomic.Uint64

	tally tally // for Delivered
	// lastAttempt makes send give up after one failed write: set by
	// finalFlush, whose one attempt must not wait for backoffs, while
	// no writer runs.
	lastAttempt bool
}

// New makes a Sink that writes to dst. A nil log discards.
func New(cfg Config, dst Destination, log *slog.Logger) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dst == nil {
		return nil, errors.New("sink: no destination")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if _, ok := dst.(*Stream); ok {
		// Its output must keep batch order, and its retry resumes the
		// one batch it tore.
		cfg.InFlight = 1
	}
	return &Sink{
		cfg:      cfg,
		dst:      dst,
		log:      log,
		wait:     sleep,
		jitter:   jitter,
		cur:      &batch{},
		retrying: make(chan struct{}, 1),
		dead:     deadLetters{path: cfg.DeadLetterPath, max: cfg.DeadLetterMaxBytes, now: time.Now},
	}, nil
}

// jitter returns a random duration in [0, d), or 0 if d is not positive.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// SetRecycler sets where Run gives back the point slices of the records it
// has encoded.
func (s *Sink) SetRecycler(r *pipeline.Recycler) { s.recycle = r }

// SetBudget sets where Run gives back the points of each record, as
// extract acquired them, once the record's batch is finished: written, set
// aside or dropped.
func (s *Sink) SetBudget(b *pipeline.Budget) { s.budget = b }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the counters. It is safe to call while Run runs.
func (s *Sink) Stats() Stats {
	c := &s.stats
	return Stats{
		PointsWritten:  c.pointsWritten.Load(),
		BatchesWritten: c.batchesWritten.Load(),
		Retries:        c.retries.Load(),
		PointsAltered:  c.pointsAltered.Load(),
		WriteErrors: WriteErrors{
			Network:   c.errNetwork.Load(),
			Throttled: c.errThrottled.Load(),
			Server:    c.errServer.Load(),
			Refused:   c.errRefused.Load(),
			TooLarge:  c.errTooLarge.Load(),
			Config:    c.errConfig.Load(),
		},
		DeadLettered: DeadLettered{
			Refused:  c.deadRefused.Load(),
			TooLarge: c.deadTooLarge.Load(),
		},
		Dropped: Dropped{
			Refused:          c.droppedRefused.Load(),
			TooLarge:         c.droppedTooLarge.Load(),
			Invalid:          c.droppedInvalid.Load(),
			DeadLetterFailed: c.deadLetterFailed.Load(),
		},
	}
}

// Run reads records from in until it is closed, writes their points in
// batches, up to InFlight writes at a time, and acks each batch once it is
// written, in batch order.
//
// A batch is written when it holds BatchSize points or when its first
// record has waited FlushInterval. Records without points (checkpoints)
// join the batch like any other, so they are acked once everything before
// them is delivered, without a write if the batch has no points. A batch
// yields one Ack per file, carrying the Origin of that file's last record
// in the batch, in order of the files' first records; with a single file
// that is exactly the Origin of the batch's last record. A write the
// server refused (400, 422) or a point over splitAboveBytes it found too
// large (413) is acked too, and counted in Stats().Dropped. Any other
// failed write is retried until it succeeds or ctx ends, and nothing after
// it is acked before: a batch that fails with 401, 403, 404 or a redirect
// waits for the configuration (or the server) to be fixed. While InFlight
// batches are being written, Run reads no record: the full window is the
// backpressure.
//
// acks may be nil. Otherwise Run is its only sender and closes it when it
// returns (the caller makes the channel, the sink owns its sending end),
// so the reader should range over acks until it is closed to receive the
// final acks.
//
// When ctx ends, Run stops reading and makes one attempt to write each
// batch it holds, without retries, under a fresh context bounded by
// Timeout; it returns ctx.Err() joined with any failure of that final
// flush. It returns nil when in was closed and everything was delivered.
// It returns after every write it started has returned.
func (s *Sink) Run(ctx context.Context, in <-chan pipeline.Record, acks chan<- pipeline.Ack) error {
	if acks != nil {
		defer close(acks)
	}
	defer s.closeDeadLetters()
	var timer, gather *time.Timer
	var due <-chan time.Time    // nil while nothing is pending
	var resume <-chan time.Time // not nil while gathering
	var lastRead time.Time      // when a record was last read
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		if gather != nil {
			gather.Stop()
		}
	}()
	for {
		input, flush := in, due
		if resume != nil {
			input = nil
		}
		if len(s.flying) == s.cfg.InFlight {
			input, flush = nil, nil
		}
		select {
		case <-ctx.Done():
			return s.finalFlush(ctx, acks)
		case <-s.oldest():
			if err := s.finish(ctx, acks); err != nil {
				return s.finalFlush(ctx, acks)
			}
		case rec, ok := <-input:
			if !ok {
				if err := s.drain(ctx, acks); err != nil {
					return s.finalFlush(ctx, acks)
				}
				return nil
			}
			s.add(rec)
			// Take what is queued already without a select each; the
			// only reader, so a record counted by len is there.
			for len(in) > 0 && len(s.cur.ends) < s.cfg.BatchSize {
				s.add(<-in)
			}
			if len(s.cur.ends) >= s.cfg.BatchSize {
				s.start(ctx)
				due, resume = nil, nil
				continue
			}
			if due == nil {
				if timer == nil {
					timer = time.NewTimer(s.cfg.FlushInterval)
				} else {
					timer.Reset(s.cfg.FlushInterval)
				}
				due = timer.C
			}
			// Records that come one at a time, seconds apart, are
			// taken as they come; a gathering starts only once one comes
			// within gatherDelay of the last.
			now := time.Now()
			if now.Sub(lastRead) < gatherDelay {
				if gather == nil {
					gather = time.NewTimer(gatherDelay)
				} else {
					gather.Reset(gatherDelay)
				}
				resume = gather.C
			}
			lastRead = now
		case <-resume:
			resume = nil
		case <-flush:
			due, resume = nil, nil
			s.start(ctx)
		}
	}
}

// add encodes the points of rec into the pending batch and notes its
// origin.
func (s *Sink) add(rec pipeline.Record) {
	b := s.cur
	b.records++
	// A record without an origin is no line's (an idle source's
	// aggregation windows): Delivered counts lines.
	ofLine := rec.Origin != (pipeline.Origin{})
	if ofLine {
		b.ofLines++
	}
	b.held += len(rec.Points)
	for i := range rec.Points {
		n := len(b.buf)
		var altered bool
		b.buf, altered = appendPoint(b.buf, &rec.Points[i])
		if altered {
			if k := s.stats.pointsAltered.Add(1); pipeline.Sampled(k) {
				s.log.Warn("bytes line protocol cannot carry written as U+FFFD (control characters, invalid UTF-8)",
					"measurement", rec.Points[i].Measurement, "file", rec.Path, "offset", rec.Offset, "count", k)
			}
		}
		if len(b.buf) == n {
			s.stats.droppedInvalid.Add(1)
			s.log.Error("bug: point without a writable field dropped",
				"measurement", rec.Points[i].Measurement, "file", rec.Path, "offset", rec.Offset)
			continue
		}
		b.ends = append(b.ends, len(b.buf))
		b.from = append(b.from, lineOrigin{path: rec.Path, offset: rec.Offset})
	}
	s.recycle.Put(rec.Points) // encoded: the points are no longer needed
	if !ofLine {
		return // no file's position to move
	}
	for i := range b.origins {
		// One file is one identity; after a rotation, the file now at a
		// path is another one, with its own position.
		if o := &b.origins[i]; o.File == rec.File && o.Path == rec.Path {
			// The latest record's origin, and the greatest log time:
			// lines need not come in time order.
			*o = pipeline.Ack{Origin: rec.Origin, Hold: rec.Hold, LogTime: max(o.LogTime, rec.LogTime)}
			return
		}
	}
	b.origins = append(b.origins, pipeline.Ack{Origin: rec.Origin, Hold: rec.Hold, LogTime: rec.LogTime})
}

// finalFlush makes one attempt to write each batch Run holds, under a
// fresh context because ctx has ended, and returns why Run stops. It never
// retries: the agent is stopping after its grace, and more attempts would
// only hold up the exit, so its worst case is Timeout (a server that does
// not answer) while a refused connection ends it at once. The attempts run
// at once, up to InFlight, and their acks go out in batch order up to the
// first batch not written.
func (s *Sink) finalFlush(ctx context.Context, acks chan<- pipeline.Ack) error {
	s.waitWriters() // they end with ctx
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Timeout)
	defer cancel()
	s.lastAttempt = true
	for _, b := range s.flying {
		if b.err != nil {
			s.launch(fctx, b)
		}
	}
	err := s.drain(fctx, acks)
	s.waitWriters()
	if err != nil {
		status := 0 // no answer
		if we := (*WriteError)(nil); errors.As(err, &we) {
			status = we.StatusCode
		}
		s.log.Error("last write failed: points not written",
			"status", status, "points", s.unwritten(), "err", err)
		return errors.Join(ctx.Err(), fmt.Errorf("final flush: %w", err))
	}
	return ctx.Err()
}

// class is what a failed write calls for.
type class int

const (
	classNetwork class = iota
	classThrottled
	classServer
	classRefused
	classTooLarge
	classRedirect
	classConfig
	classUnexpected
)

// classify says what a failed write's status calls for. The README's
// table of statuses says the same.
func classify(status int) class {
	switch {
	case status == 0:
		return classNetwork
	case status == http.StatusTooManyRequests:
		return classThrottled
	// 408 Request Timeout and 425 Too Early ask for the same request
	// again later, as a 503 does.
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusTooEarly:
		return classServer
	case status == http.StatusBadRequest, status == http.StatusUnprocessableEntity:
		return classRefused
	case status == http.StatusRequestEntityTooLarge:
		return classTooLarge
	// The destination does not follow redirects: the url is out of date.
	case status >= 300 && status < 400:
		return classRedirect
	case status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusNotFound:
		return classConfig
	}
	// 409 Conflict and anything else: no InfluxDB answers a write with
	// them, so they come from something in between whose meaning we
	// cannot know. Retrying cannot lose data; dropping on a guess could.
	return classUnexpected
}

// WriteState is how writing goes: what the agent's health check reads.
type WriteState struct {
	// LastSuccess is when a write last succeeded; zero before the first.
	LastSuccess time.Time
	// FailingSince is when the writes that have failed since then began
	// to fail; zero while the last write succeeded.
	FailingSince time.Time
	// Status is the HTTP status of the last failed write, 0 when no
	// response came; Err is its error (never holding the token).
	Status int
	Err    string
	// Rejected says the last failure is one that retrying cannot mend:
	// InfluxDB refused the credentials or the address (401, 403, 404), or
	// the server's certificate failed verification.
	Rejected bool
}

// WriteState returns the state of writing; it is safe to call at any time.
func (s *Sink) WriteState() WriteState {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.state
}

// wrote records the outcome of a write request that started at start.
func (s *Sink) wrote(err error, start time.Time) {
	now := time.Now()
	code := "2xx"
	s.stateMu.Lock()
	if err == nil {
		s.state = WriteState{LastSuccess: now}
	} else {
		status := 0
		var we *WriteError
		if errors.As(err, &we) {
			status = we.StatusCode
		}
		code = "none"
		if status != 0 {
			code = strconv.Itoa(status)
		}
		if s.state.FailingSince.IsZero() {
			s.state.FailingSince = start
		}
		var cert *tls.CertificateVerificationError
		s.state.Status, s.state.Err = status, err.Error()
		s.state.Rejected = status == http.StatusUnauthorized || status == http.StatusForbidden ||
			status == http.StatusNotFound || errors.As(err, &cert)
	}
	s.stateMu.Unlock()
	if s.cfg.OnWrite != nil {
		s.cfg.OnWrite(code, now.Sub(start))
	}
}

// send writes lines [lo, hi) of b until they are written or dropped, and
// then moves b.done to hi. It returns an error only when ctx ends first,
// or when the last attempt fails.
func (s *Sink) send(ctx context.Context, b *batch, lo, hi int) error {
	body := b.lines(lo, hi)
	points := hi - lo
	for attempt := 0; ; attempt++ {
		if err := s.turn(ctx, b); err != nil {
			return err
		}
		start := time.Now()
		err := s.dst.WriteBatch(ctx, body)
		s.wrote(err, start)
		if err == nil {
			s.stats.pointsWritten.Add(uint64(points))
			s.stats.batchesWritten.Add(1)
			if attempt > 0 {
				s.log.Info("write succeeded after retries", "points", points, "attempts", attempt+1)
			}
			b.done = hi
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s.lastAttempt {
			return err
		}
		var status, refused int
		var retryAfter time.Duration
		var we *WriteError
		if errors.As(err, &we) {
			status, retryAfter, refused = we.StatusCode, we.RetryAfter, we.Refused
		}
		// err carries the status and the start of the body, never the
		// token.
		class := classify(status)
		switch class {
		case classRefused:
			s.stats.errRefused.Add(1)
			return s.isolate(ctx, b, lo, hi, status, refused, err)
		case classTooLarge:
			n := s.stats.errTooLarge.Add(1)
			switch {
			case len(body) <= splitAboveBytes:
				// Retried below, like a 5xx.
			case points == 1:
				s.setAside(b, lo, hi, reasonTooLarge, status, err)
				return nil
			default:
				if pipeline.Sampled(n) {
					s.log.Warn("batch too large: splitting", "status", status, "points", points, "bytes", len(body), "occurrence", n)
				}
				mid := lo + points/2
				if err := s.send(ctx, b, lo, mid); err != nil {
					return err
				}
				return s.send(ctx, b, mid, hi)
			}
		}
		delay := s.retryDelay(attempt, retryAfter)
		attrs := []any{"status", status, "points", points, "attempt", attempt + 1, "retry_in", delay, "err", err}
		switch class {
		case classNetwork:
			s.stats.errNetwork.Add(1)
			s.log.Warn("write failed: retrying", attrs...)
		case classThrottled:
			s.stats.errThrottled.Add(1)
			s.log.Warn("write throttled: retrying", attrs...)
		case classServer:
			s.stats.errServer.Add(1)
			s.log.Warn("write failed: retrying", attrs...)
		case classTooLarge:
			s.log.Warn("batch too large for the server although small: retrying", attrs...)
		case classRedirect:
			s.stats.errConfig.Add(1)
			s.log.Error("write redirected: set the url to the new location; retrying", attrs...)
		case classConfig:
			s.stats.errConfig.Add(1)
			s.log.Error("write rejected: check the url, token, org and bucket; retrying", attrs...)
		default:
			s.stats.errConfig.Add(1)
			s.log.Error("write failed with an unexpected status: retrying", attrs...)
		}
		s.stats.retries.Add(1)
		if err := s.hold(ctx, b); err != nil {
			return err
		}
		probe := retryAfter == 0 && (class == classNetwork || class == classServer)
		// A write that got no answer at all says the server is down
		// (or the way to it is): the first good ping ends the wait. A
		// 5xx says the server is up; only a failed ping makes it down.
		if err := s.pause(ctx, delay, probe, class == classNetwork); err != nil {
			return err
		}
	}
}

// pinger is a Destination that can tell whether its server answers
// without writing: *InfluxDB.
type pinger interface {
	Ping(ctx context.Context) error
}

// errServerBack ends a backoff early: the server answers again.
var errServerBack = errors.New("server answers again")

// pause waits delay before a retry, or less: with probe set and a
// Destination that pings, it pings every pingInterval meanwhile and ends
// the wait at the first successful ping after the server was seen down
// (a failed ping, or, with down, the failed write got no answer at all:
// refused, cut or timed out; a slow server's timed-out writes are still
// spaced by the write timeout). A server that answers pings all along while its writes fail
// (a 500 of its own) gets the whole backoff. A wait for a Retry-After,
// and after statuses that say the server is up (429, 4xx, 3xx), has no
// probes: the caller leaves probe unset. It returns an error only when ctx
// ends.
func (s *Sink) pause(ctx context.Context, delay time.Duration, probe, down bool) error {
	p, ok := s.dst.(pinger)
	if !probe || !ok || delay <= pingInterval {
		return s.wait(ctx, delay)
	}
	wctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	start := time.Now()
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		s.probe(wctx, p, start.Add(delay), down, stop)
	}()
	err := s.wait(wctx, delay)
	stop(nil)
	<-probed
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(context.Cause(wctx), errServerBack) {
		s.log.Info("server answers again: retrying now", "waited", time.Since(start).Round(time.Millisecond), "backoff", delay)
		return nil
	}
	return err
}

// probe pings every pingInterval before end, and calls back once a ping
// succeeds after the server was down. It returns when ctx ends, or when
// the next ping would not come before end, when the retry is due anyway.
func (s *Sink) probe(ctx context.Context, p pinger, end time.Time, down bool, back context.CancelCauseFunc) {
	t := time.NewTimer(pingInterval)
	defer t.Stop()
	for {
		if !time.Now().Add(pingInterval).Before(end) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, pingInterval)
		err := p.Ping(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			down = true
		case down:
			back(errServerBack)
			return
		}
		t.Reset(pingInterval)
	}
}

// isolate handles lines [lo, hi) that the server refused (400, 422),
// saying it refused refused of them (0: it did not say). A write is
// idempotent (the same points at the same times), so the lines are resent
// in halves until each refused point is alone in a refused request, and
// only those are set aside: never a point the server stored, and never a
// file held up by a poison line. A request the server said it refused
// whole (a partial write's dropped=N with N its size, as InfluxDB says for
// field type conflicts and points beyond the retention policy) is set aside
// without splitting it further. So a batch of n points with k refused
// costs at most about 2k·log2(n/k) requests, never more than 2n-1, one at a
// time per batch; the README's design notes say more.
func (s *Sink) isolate(ctx context.Context, b *batch, lo, hi, status, refused int, err error) error {
	points := hi - lo
	if points == 1 || refused == points {
		s.setAside(b, lo, hi, reasonRefused, status, err)
		return nil
	}
	if n := s.refusals.Add(1); pipeline.Sampled(n) {
		s.log.Warn("write refused: resending in halves to find the refused points",
			"status", status, "points", points, "refused", refused, "occurrence", n, "err", err)
	}
	mid := lo + points/2
	if err := s.send(ctx, b, lo, mid); err != nil {
		return err
	}
	return s.send(ctx, b, mid, hi)
}

// retryDelay is how long to wait after failed attempt number attempt
// (from 0). With a Retry-After, it is what the server asked plus up to a
// fifth more at random; else exponential backoff from retryBaseDelay with
// equal jitter. Either way agents restarted together spread out, and none
// waits more than MaxRetryDelay: a Retry-After of that much or more gives
// MaxRetryDelay less up to a fifth of it.
func (s *Sink) retryDelay(attempt int, retryAfter time.Duration) time.Duration {
	limit := s.cfg.MaxRetryDelay
	if retryAfter > 0 {
		if retryAfter >= limit {
			return limit - s.jitter(limit/retryAfterSpread)
		}
		return min(retryAfter+s.jitter(retryAfter/retryAfterSpread), limit)
	}
	d := limit
	// Shifting by 32 or more would overflow; by then d is at the limit.
	if attempt < 32 && retryBaseDelay<<attempt < limit {
		d = retryBaseDelay << attempt
	}
	half := d / 2
	return half + s.jitter(d-half)
}
