package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// fault is what faultProxy does to the requests it gets.
type fault int

const (
	pass      fault = iota // forward to InfluxDB
	tooMany                // 429 with Retry-After: 1
	unavail                // 503
	internal               // 500
	tooLarge               // 413 for a body over 16 KiB of line protocol
	overLimit              // 413 for a body over 64 KiB of line protocol
	stall                  // hold every request (pings too) until the phase ends, then forward it
	cut                    // close the connection mid-request: before forwarding, or after (written, no answer)
	numFaults
)

var faultNames = [...]string{"pass", "429", "503", "500", "413", "413 over 64 KiB", "stall", "cut"}

func (f fault) String() string { return faultNames[f] }

// The proxy's body limits in its 413 phases: a batch over 64 KiB is split
// by the sink (overLimit); one of 64 KiB or less is retried until the
// phase ends (tooLarge).
const (
	tooLargeAbove  = 16 << 10
	overLimitAbove = 64 << 10
)

// faultProxy is an HTTP proxy on loopback in front of the real InfluxDB
// that injects the fault of the current phase into write requests.
type faultProxy struct {
	t      *testing.T
	target string
	client *http.Client

	mode     atomic.Int32
	phaseEnd chan struct{} // closed when a stall phase ends

	mu       sync.Mutex
	answered map[string]int // by fault and outcome
	largest  int            // line protocol bytes of the largest write seen
	cuts     int
}

func startFaultProxy(t *testing.T, target string) (*faultProxy, *httptest.Server) {
	p := &faultProxy{
		t:        t,
		target:   target,
		client:   &http.Client{Timeout: 30 * time.Second},
		phaseEnd: make(chan struct{}),
		answered: map[string]int{},
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		p.set(pass) // let stalled requests go
		srv.CloseClientConnections()
		srv.Close()
	})
	return p, srv
}

// set starts a phase.
func (p *faultProxy) set(f fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if fault(p.mode.Load()) == stall {
		close(p.phaseEnd)
		p.phaseEnd = make(chan struct{})
	}
	p.mode.Store(int32(f))
}

func (p *faultProxy) count(what string) {
	p.mu.Lock()
	p.answered[what]++
	p.mu.Unlock()
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	write := strings.Contains(r.URL.Path, "write")
	p.mu.Lock() // the mode and its phaseEnd together
	f, end := fault(p.mode.Load()), p.phaseEnd
	p.mu.Unlock()
	if f == stall {
		<-end // the client may have given up meanwhile: InfluxDB still gets it late
		if write {
			p.count("stalled")
		}
		p.forward(w, r, body)
		return
	}
	if !write { // /ping answers unless the server stalls
		p.forward(w, r, body)
		return
	}
	switch f {
	case tooMany:
		p.count("429")
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"code":"too many requests"}`, http.StatusTooManyRequests)
	case unavail:
		p.count("503")
		http.Error(w, `{"code":"unavailable"}`, http.StatusServiceUnavailable)
	case internal:
		p.count("500")
		http.Error(w, `{"code":"internal error"}`, http.StatusInternalServerError)
	case tooLarge, overLimit:
		limit := tooLargeAbove
		if f == overLimit {
			limit = overLimitAbove
		}
		if n := lpBytes(p.t, r, body); n > limit {
			p.count(f.String())
			http.Error(w, "413 Request Entity Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		p.forward(w, r, body)
	case cut:
		p.mu.Lock()
		p.cuts++
		after := p.cuts%2 == 0
		p.mu.Unlock()
		if after { // InfluxDB wrote it; the agent never hears
			resp, err := p.send(r, body)
			if err == nil {
				resp.Body.Close()
			}
			p.count("cut after writing")
		} else {
			p.count("cut before writing")
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			p.t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	default:
		p.forward(w, r, body)
	}
}

// lpBytes is the size of a write's line protocol, gunzipped.
func lpBytes(t *testing.T, r *http.Request, body []byte) int {
	if r.Header.Get("Content-Encoding") != "gzip" {
		return len(body)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Errorf("gzip body: %v", err)
		return len(body)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		t.Errorf("gzip body: %v", err)
	}
	return int(n)
}

// send passes the request on to InfluxDB, on a context of its own: a
// stalled request reaches the server even when its client gave up.
func (p *faultProxy) send(r *http.Request, body []byte) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "write") {
		n := lpBytes(p.t, r, body)
		p.mu.Lock()
		p.largest = max(p.largest, n)
		p.mu.Unlock()
	}
	req, err := http.NewRequestWithContext(context.Background(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for _, h := range []string{"Content-Type", "Content-Encoding", "Authorization", "Accept"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	return p.client.Do(req)
}

func (p *faultProxy) forward(w http.ResponseWriter, r *http.Request, body []byte) {
	resp, err := p.send(r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	if strings.Contains(r.URL.Path, "write") {
		p.count(fmt.Sprintf("forwarded %d", resp.StatusCode))
	}
}

// TestFaults: `logmetrics run` writes through a proxy that, phase after
// phase while the application keeps writing, answers 429 with
// Retry-After, 503, 500, stalls every request (longer than the agent's
// write timeout; the stalled writes reach InfluxDB late all the same),
// answers 413 to bodies over 64 KiB (after the stall's backlog: the sink
// splits the batch) and then over 16 KiB (retried until lifted), and cuts
// connections mid-request, before or after InfluxDB wrote the batch. One
// line in 1,000 makes n a float: real InfluxDB answers a partial write
// (400, field type conflict). In the end every line is either a point in
// InfluxDB or a dead letter with reason refused, none twice, and together
// they are exactly the clean pass's points.
func TestFaults(t *testing.T) {
	t.Parallel()
	const rate = 1000
	stallFor := scaled(3*time.Second, 20*time.Second)
	phase := scaled(500*time.Millisecond, 5*time.Second)
	rounds := scaled(1, 3)

	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "faults")
	px, front := startFaultProxy(t, srv.URL())
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.hcl")
	writeFile(t, rules, e2eRules(front.URL, "faults", `["app.log"]`,
		"  batch_size = 2000\n  flush_interval = \"100ms\"\n  timeout = \"2s\"\n"))
	w := newLogWriter(t, filepath.Join(dir, "app.log"), filepath.Join(t.TempDir(), "segments"))
	w.poison = 1000
	a := startAgentFor(t, scaled(30*time.Second, 15*time.Minute), dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")

	var wg sync.WaitGroup
	stopWriting := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stopWriting:
				return
			default:
				w.write(50, rate)
			}
		}
	})
	defer func() {
		select {
		case <-stopWriting:
		default:
			close(stopWriting)
		}
		wg.Wait()
	}()

	// Phases end when their fault was applied to enough writes (or
	// after maxPhase); between them the proxy passes writes until one
	// more got through, which ends the sink's backoff.
	maxPhase := scaled(10*time.Second, time.Minute)
	times := scaled(1, 3)
	answered := func(what string) int {
		px.mu.Lock()
		defer px.mu.Unlock()
		return px.answered[what]
	}
	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(maxPhase)
		for !cond() {
			if time.Now().After(deadline) {
				t.Errorf("%s: not within %v", what, maxPhase)
				return
			}
			time.Sleep(20 * time.Millisecond) // polling the proxy's counters
		}
	}
	atLeast := func(what string, n int) func() bool {
		base := answered(what)
		return func() bool { return answered(what) >= base+n }
	}
	through := func() {
		px.set(pass)
		until("a write through after the fault", atLeast("forwarded 204", 1))
	}
	start := time.Now()
	until("first writes", atLeast("forwarded 204", 3))
	for range rounds {
		for _, f := range []fault{tooMany, unavail, internal} {
			px.set(f)
			until(f.String(), atLeast(f.String(), times))
			through()
		}
		// The stall makes a backlog, so that the batch after the one
		// it held is full (2,000 points, over 64 KiB): the sink splits
		// it under the proxy's 64 KiB limit. Then a limit of 16 KiB that
		// splitting cannot meet: retried until it is lifted.
		px.set(stall)
		time.Sleep(stallFor)
		px.set(overLimit)
		until(overLimit.String(), atLeast(overLimit.String(), 1))
		through()
		px.set(tooLarge)
		until(tooLarge.String(), atLeast(tooLarge.String(), times))
		through()
		px.set(cut)
		before, after := atLeast("cut before writing", times), atLeast("cut after writing", times)
		until("cut", func() bool { return before() && after() })
		through()
	}
	time.Sleep(phase)
	close(stopWriting)
	wg.Wait()
	lines := w.written()
	state := filepath.Join(dir, "state")
	dead := func() int { p, _ := deadLetters(t, state); return len(p) }
	took := waitStored(t, srv, "faults", lines, scaled(20*time.Second, 5*time.Minute), dead)
	t.Logf("%d lines (%d with a field type conflict) written in %v under faults; all in %v after the faults ended",
		lines, w.poisoned, time.Since(start).Round(time.Millisecond)-took, took.Round(time.Millisecond))
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Errorf("run after SIGTERM: %v", err)
	}
	px.mu.Lock()
	t.Logf("proxy: %v; largest write %d bytes of line protocol", px.answered, px.largest)
	for _, what := range []string{"429", "503", "500", "413", "413 over 64 KiB", "stalled", "cut before writing", "cut after writing", "forwarded 400"} {
		if px.answered[what] == 0 {
			t.Errorf("the proxy never answered %q: the fault was not exercised", what)
		}
	}
	px.mu.Unlock()

	points, comments := deadLetters(t, state)
	for _, c := range comments {
		if !strings.Contains(c, " reason=refused status=400 ") || !strings.Contains(c, "field type conflict") {
			t.Errorf("dead letter for another reason than the field type conflict: %s", c)
		}
	}
	if len(points) != w.poisoned || len(comments) != w.poisoned {
		t.Errorf("%d dead letters (%d comments), want the %d conflicting lines", len(points), len(comments), w.poisoned)
	}
	checkExact(t, srv, "faults", w.cleanPass(t, rules), points, lines)
	if t.Failed() {
		t.Logf("agent stderr:\n%s", firstLines(a.logged(), 80))
	}
}
