package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
)

// pendingServer is a fake InfluxDB that answers 503 to writes and pings
// until back is called, then 204, keeping every point it accepted.
type pendingServer struct {
	url      string
	up       atomic.Bool
	requests atomic.Int64

	mu       sync.Mutex
	accepted map[string]int // line protocol without its timestamp: how many times
	points   int
}

func startPendingServer(t *testing.T) *pendingServer {
	t.Helper()
	s := &pendingServer{accepted: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ping" {
			if s.up.Load() {
				w.WriteHeader(http.StatusNoContent)
			} else {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		s.requests.Add(1)
		if !s.up.Load() {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		var lines []string
		for sc := bufio.NewScanner(body); sc.Scan(); {
			// "m v=12i 1760000000000000000": the timestamp is the read
			// time, so only measurement and field say which point it is.
			f := strings.Fields(sc.Text())
			if len(f) != 3 {
				http.Error(w, "bad line "+sc.Text(), http.StatusBadRequest)
				return
			}
			lines = append(lines, f[0]+" "+f[1])
		}
		s.mu.Lock()
		for _, l := range lines {
			s.accepted[l]++
		}
		s.points += len(lines)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *pendingServer) acceptedPoints() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.points
}

// TestMaxPendingBoundsPoints: while InfluxDB answers 503 and lines keep
// coming, the points held between extraction and delivery (queued records
// and the sink's batch) never exceed max_pending, counted in points, and
// the tailer stops reading; once InfluxDB is back, every point arrives
// exactly once. Each line makes 3 points, so a bound counted in records
// would let 3 times as many points wait.
func TestMaxPendingBoundsPoints(t *testing.T) {
	const (
		batchSize  = 100
		maxPending = 300
		perLine    = 3
	)
	srv := startPendingServer(t)
	dir := t.TempDir()
	var rules strings.Builder
	fmt.Fprintf(&rules, `
agent {
  state_dir = "state"
  listen    = ""
}
influxdb {
  url            = %q
  bucket         = "db"
  batch_size     = %d
  max_pending    = %d
  flush_interval = "20ms"
}
source "s" {
  paths    = ["app.log"]
  start_at = "beginning"
`, srv.url, batchSize, maxPending)
	for i := range perLine {
		fmt.Fprintf(&rules, "  rule \"m%d\" {\n    logfmt = true\n    fields = { v = \"int\" }\n  }\n", i)
	}
	rules.WriteString("}\n")
	if err := os.WriteFile(filepath.Join(dir, "rules.hcl"), []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "app.log")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, diags := config.Load(filepath.Join(dir, "rules.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var logs strings.Builder // written by run only, read after it returns
	p, err := newPipeline(cfg, &env{stdout: io.Discard, stderr: io.Discard},
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.tl.Close)

	// The writer appends 10 lines every 5 ms until stopWriting is closed,
	// then says how many it wrote.
	stopWriting := make(chan struct{})
	wrote := make(chan int, 1)
	var written atomic.Int64
	go func() {
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			wrote <- 0
			return
		}
		defer f.Close()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		n := 0
		for {
			select {
			case <-stopWriting:
				wrote <- n
				return
			case <-tick.C:
			}
			var b strings.Builder
			for range 10 {
				fmt.Fprintf(&b, "v=%d\n", n)
				n++
			}
			if _, err := f.WriteString(b.String()); err != nil {
				t.Error(err)
				wrote <- n
				return
			}
			written.Store(int64(n))
		}
	}()
	defer func() {
		select {
		case <-stopWriting:
		default:
			close(stopWriting)
			<-wrote
		}
	}()

	linesRead := func() int64 {
		var n int64
		for _, f := range p.tl.Stats().Files {
			n += f.Lines
		}
		return n
	}
	// notDelivered is the points extracted and not delivered: the held
	// ones, and at most one record's that extraction made and waits to
	// send. Delivered is read first, so it is never negative; while
	// nothing is delivered it is exact.
	notDelivered := func() int64 {
		d := p.sk.Delivered().Points
		var made uint64
		for _, r := range p.ex.Stats().Rules {
			made += r.Points
		}
		return int64(made - d)
	}

	sigs := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- p.run(context.Background(), sigs) }()

	// mostHeld is the most points the budget held at any sample, outage
	// and recovery alike.
	var mostHeld int
	sampleHeld := func() {
		if n := p.budget.Held(); n > mostHeld {
			mostHeld = n
		}
	}

	// The outage: sample until the tailer has stopped reading for 500 ms
	// although the file grows.
	var most int64
	deadline := time.Now().Add(20 * time.Second)
	lastRead, since := linesRead(), time.Now()
	for {
		sampleHeld()
		if n := notDelivered(); n > most {
			most = n
		}
		if n := linesRead(); n != lastRead {
			lastRead, since = n, time.Now()
		} else if time.Since(since) >= 500*time.Millisecond && written.Load() > n+100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tailer did not stop reading: %d lines read of %d written, %d points not delivered",
				linesRead(), written.Load(), notDelivered())
		}
		time.Sleep(time.Millisecond)
	}
	if n := notDelivered(); n > most {
		most = n
	}
	if srv.requests.Load() == 0 {
		t.Fatal("no write attempted during the outage")
	}
	if limit := int64(maxPending + perLine); most > limit {
		t.Errorf("%d points held during the outage, want at most max_pending (%d) and the one record extraction waits to send (%d)",
			most, maxPending, perLine)
	}
	t.Logf("outage: %d of %d lines read, at most %d points not delivered (%d held), %d write attempts",
		linesRead(), written.Load(), most, mostHeld, srv.requests.Load())

	// InfluxDB is back: everything written arrives, once.
	close(stopWriting)
	lines := <-wrote
	srv.up.Store(true)
	want := lines * perLine
	deadline = time.Now().Add(30 * time.Second)
	for srv.acceptedPoints() < want {
		sampleHeld()
		if time.Now().After(deadline) {
			t.Fatalf("%d points accepted of %d within 30s after the outage", srv.acceptedPoints(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	sigs <- os.Interrupt
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop within 20s of the signal")
	}
	if mostHeld > maxPending {
		t.Errorf("the budget held %d points, want at most max_pending (%d)", mostHeld, maxPending)
	}
	if n := p.budget.Held(); n != 0 {
		t.Errorf("the budget holds %d points after everything was delivered, want 0", n)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.points != want {
		t.Errorf("%d points accepted, want %d", srv.points, want)
	}
	for i := range lines {
		for m := range perLine {
			if n := srv.accepted[fmt.Sprintf("m%d v=%di", m, i)]; n != 1 {
				t.Errorf("m%d v=%d accepted %d times, want once", m, i, n)
			}
		}
	}
}

// TestMaxPendingSmallerThanARecord: a line whose points outnumber
// max_pending is let through alone once nothing else is held, so extract
// and the sink, wired as run wires them, deliver every point instead of
// waiting on each other.
func TestMaxPendingSmallerThanARecord(t *testing.T) {
	const lines, perLine, maxPending = 20, 3, 2
	var rules []extract.Rule
	for i := range perLine {
		rules = append(rules, extract.Rule{Name: fmt.Sprintf("m%d", i), Mode: extract.Logfmt,
			Fields: []extract.FieldSpec{{Key: "v", From: "v", Type: extract.TypeInt}}})
	}
	ex, err := extract.Compile(extract.Config{Sources: []extract.Source{{Name: "s", Rules: rules}}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sk, err := sink.New(sink.Config{BatchSize: 100, FlushInterval: 10 * time.Millisecond}, sink.NewStream(&out), nil)
	if err != nil {
		t.Fatal(err)
	}
	budget := pipeline.NewBudget(maxPending)
	ex.SetBudget(budget)
	sk.SetBudget(budget)

	in := make(chan pipeline.Line, lines)
	for i := range lines {
		in <- pipeline.Line{Origin: pipeline.Origin{Path: "a.log", Offset: int64(i + 1)}, Source: "s", Text: fmt.Sprintf("v=%d", i)}
	}
	close(in)
	recs := make(chan pipeline.Record, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return ex.Run(gctx, in, recs) })
	g.Go(func() error { return sk.Run(gctx, recs, nil) })
	if err := g.Wait(); err != nil {
		t.Fatalf("stages = %v, want nil: every point delivered", err)
	}
	if got := strings.Count(out.String(), "\n"); got != lines*perLine {
		t.Errorf("%d points delivered, want %d", got, lines*perLine)
	}
	if n := budget.Held(); n != 0 {
		t.Errorf("the budget holds %d points after everything was delivered, want 0", n)
	}
}
