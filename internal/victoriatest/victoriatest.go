// Package victoriatest runs a real VictoriaMetrics single node for tests.
//
// The server is the binary `make victoria-metrics` unpacks from Debian's
// package into bin/victoria-metrics (or the one named by
// $LOGMETRICS_VICTORIA). Unlike influxd, which Go builds anywhere, it comes
// from apt, so a machine without it skips the tests that need it; under
// CI=true a missing binary fails them instead, so CI cannot pass by
// accident.
//
// Each Start gives the test its own process on a free loopback port with a
// temporary data folder; t.Cleanup stops it. The process output is shown
// only when the test fails.
package victoriatest

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/logmetrics/logmetrics/internal/childproc"
	"github.com/logmetrics/logmetrics/internal/influxtest"
)

const (
	// startTimeout bounds the wait for /health; a cold start takes well
	// under a second, a busy CI machine with the race detector more.
	startTimeout = 20 * time.Second
	// stopTimeout is how long the server gets after SIGTERM before it is
	// killed.
	stopTimeout = 10 * time.Second
	// startAttempts covers another process taking the port between our
	// probe and the server binding it.
	startAttempts = 3
	// retention keeps every sample the tests write: VictoriaMetrics
	// answers 204 and drops samples older than -retentionPeriod (default
	// one month), and the sample logs are from 2025.
	retention = "100y"
)

// Server is a running victoria-metrics.
type Server struct {
	client *http.Client
	url    string
	cmd    *exec.Cmd
	exited chan struct{}
	out    *childproc.Output
}

// Start runs victoria-metrics and waits until it answers /health. The
// server is stopped, and its data removed, when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := findBinary(t)
	var errs []error
	for range startAttempts {
		s, err := start(t, bin)
		if err == nil {
			return s
		}
		errs = append(errs, err)
	}
	t.Fatalf("victoriatest: start %s: %v", bin, errs)
	return nil
}

// findBinary returns $LOGMETRICS_VICTORIA or bin/victoria-metrics of the
// module that holds the working directory. When the latter is missing it
// skips the test, or fails it under CI=true; a wrong $LOGMETRICS_VICTORIA
// always fails it.
func findBinary(t testing.TB) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if p := os.Getenv("LOGMETRICS_VICTORIA"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("victoriatest: LOGMETRICS_VICTORIA: %v", err)
		}
		return p
	}
	p, err := childproc.ModuleBin("victoria-metrics")
	if err != nil {
		missing("%v", err)
	}
	return p
}

// start makes one attempt. An error means the process has exited (or
// never answered) and been reaped; the caller may retry.
func start(t testing.TB, bin string) (*Server, error) {
	t.Helper()
	addr, err := influxtest.FreeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"-httpListenAddr="+addr,
		"-storageDataPath="+t.TempDir(),
		"-retentionPeriod="+retention,
		"-loggerLevel=WARN",
	)
	s := &Server{
		client: &http.Client{Timeout: 10 * time.Second},
		url:    "http://" + addr,
		cmd:    cmd,
		exited: make(chan struct{}),
		out:    &childproc.Output{},
	}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	childproc.DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(func() error { return waitErr }); err != nil {
		_ = cmd.Process.Kill()
		<-s.exited
		return nil, fmt.Errorf("%w\noutput:\n%s", err, s.out.String())
	}
	// Registered after t.TempDir, so it runs first: the server is gone
	// when its files go.
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("victoria-metrics %s output:\n%s", addr, s.out.String())
		}
	})
	return s, nil
}

func (s *Server) waitReady(exitErr func() error) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := s.client.Get(s.url + "/health"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("victoria-metrics exited before answering /health: %v", exitErr())
		case <-deadline.C:
			return fmt.Errorf("victoria-metrics did not answer /health within %v", startTimeout)
		case <-tick.C:
		}
	}
}

func (s *Server) stop(t testing.TB) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-s.exited:
	case <-timer.C:
		t.Logf("victoriatest: victoria-metrics did not stop within %v after SIGTERM; killing it", stopTimeout)
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// URL is the server's base URL, like "http://127.0.0.1:12345": the url of
// an influxdb block.
func (s *Server) URL() string { return s.url }

// Write posts line protocol to path (with its query, like
// "/write?db=x"), and fails the test unless the server answers 204.
func (s *Server) Write(t testing.TB, path, lp string) {
	t.Helper()
	resp, err := s.client.Post(s.url+path, "text/plain; charset=utf-8", strings.NewReader(lp))
	if err != nil {
		t.Fatalf("victoriatest: write to %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("victoriatest: write to %s: %s: %s", path, resp.Status, body)
	}
}

// Sample is one sample of one series: Series is the metric name and its
// labels, like nginx_requests_bytes{host="a",status="200"}, labels sorted
// by name and values Go-quoted; MS is Unix milliseconds.
type Sample struct {
	Series string
	Value  float64
	MS     int64
}

// String is the sample as Dump and Expect sort it and tests show it:
//
//	nginx_requests_bytes{host="a",status="200"} 111861 1760104537000
//
// with the value in strconv 'g' -1 form.
func (s Sample) String() string {
	return s.Series + " " + strconv.FormatFloat(s.Value, 'g', -1, 64) + " " + strconv.FormatInt(s.MS, 10)
}

// Strings is the String of each sample.
func Strings(samples []Sample) []string {
	out := make([]string, len(samples))
	for i, s := range samples {
		out[i] = s.String()
	}
	return out
}

// ApproxValues compares sample values as VictoriaMetrics keeps them: it
// stores a float that is not a whole number as a decimal of about 12
// significant digits (lib/decimal, conversionPrecision 1e12), so
// 4221.583147380966 comes back as 4221.58314738, a relative error under
// 1e-12. Whole numbers up to 2^53 come back exactly.
var ApproxValues = cmpopts.EquateApprox(approxFraction, 0)

// approxFraction is ApproxValues' relative tolerance: VictoriaMetrics'
// conversion stops once the dropped fraction is under 1e-12 of the value.
const approxFraction = 1e-12

// sortSamples orders by series, then time, then value.
func sortSamples(samples []Sample) {
	slices.SortFunc(samples, func(a, b Sample) int {
		if c := strings.Compare(a.Series, b.Series); c != 0 {
			return c
		}
		if c := cmp.Compare(a.MS, b.MS); c != 0 {
			return c
		}
		return cmp.Compare(a.Value, b.Value)
	})
}

// Dump flushes what the server received to searchable storage (a fresh
// write is otherwise invisible for up to a second) and lists every sample
// of every series from /api/v1/export, sorted. Two samples of one series
// at the same millisecond are two samples. The export asks up to ten
// years ahead: its default end, the present, left out a sample written
// in the last second.
func (s *Server) Dump(t testing.TB) []Sample {
	t.Helper()
	s.get(t, "/internal/force_flush", nil)
	body := s.get(t, "/api/v1/export", url.Values{"match[]": {`{__name__!=""}`}, "end": {strconv.FormatInt(time.Now().Add(10*365*24*time.Hour).Unix(), 10)}})
	var samples []Sample
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var series struct {
			Metric     map[string]string `json:"metric"`
			Values     []float64         `json:"values"`
			Timestamps []int64           `json:"timestamps"`
		}
		if err := json.Unmarshal(sc.Bytes(), &series); err != nil {
			t.Fatalf("victoriatest: export line %q: %v", sc.Bytes(), err)
		}
		if len(series.Values) != len(series.Timestamps) {
			t.Fatalf("victoriatest: export line %q: %d values, %d timestamps", sc.Bytes(), len(series.Values), len(series.Timestamps))
		}
		name := series.Metric["__name__"]
		delete(series.Metric, "__name__")
		id := seriesID(name, series.Metric)
		for i, v := range series.Values {
			samples = append(samples, Sample{id, v, series.Timestamps[i]})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("victoriatest: export: %v", err)
	}
	sortSamples(samples)
	return samples
}

func (s *Server) get(t testing.TB, path string, q url.Values) []byte {
	t.Helper()
	u := s.url + path
	if q != nil {
		u += "?" + q.Encode()
	}
	resp, err := s.client.Get(u)
	if err != nil {
		t.Fatalf("victoriatest: GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("victoriatest: GET %s: %s %v: %s", path, resp.Status, err, body)
	}
	return body
}

// seriesID is the one place that writes Sample.Series.
func seriesID(name string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(name + "{")
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + strconv.Quote(labels[k]))
	}
	b.WriteString("}")
	return b.String()
}

// Expect is what Dump shows once lp (line protocol with nanosecond
// timestamps) was written through /api/v2/write, by VictoriaMetrics'
// documented mapping of InfluxDB data, as 1.79.5 does it (the tests check
// it against the real server):
//
//   - each field is its own series named measurement_field, labelled
//     with the point's tags; no db label, since /api/v2/write reads no db
//     argument and ignores bucket;
//   - every value becomes a float64: integers and unsigned integers past
//     2^53 lose their low bits, true is 1 and false 0, and a string is
//     the number it spells (strconv.ParseFloat here; VictoriaMetrics uses
//     fastfloat.ParseBestEffort) or 0: string fields are not dropped;
//   - times are cut to whole milliseconds (Go division, as the server
//     does), so points a nanosecond apart share a millisecond and are two
//     samples there.
//
// The samples come sorted, as Dump's. Compare them with ApproxValues.
func Expect(lp []byte) ([]Sample, error) {
	var samples []Sample
	dec := lineprotocol.NewDecoderWithBytes(lp)
	for dec.Next() {
		m, err := dec.Measurement()
		if err != nil {
			return nil, err
		}
		measurement := string(m)
		tags := map[string]string{}
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				return nil, err
			}
			if k == nil {
				break
			}
			tags[string(k)] = string(v)
		}
		type field struct {
			key   string
			value float64
		}
		var fields []field
		for {
			k, v, err := dec.NextField()
			if err != nil {
				return nil, err
			}
			if k == nil {
				break
			}
			fields = append(fields, field{string(k), asFloat(v)})
		}
		ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		if err != nil {
			return nil, err
		}
		if ts.IsZero() {
			return nil, fmt.Errorf("point %s without a time", measurement)
		}
		for _, f := range fields {
			samples = append(samples, Sample{seriesID(measurement+"_"+f.key, tags), f.value, ts.UnixNano() / int64(time.Millisecond)})
		}
	}
	sortSamples(samples)
	return samples, nil
}

func asFloat(v lineprotocol.Value) float64 {
	switch v.Kind() {
	case lineprotocol.Float:
		return v.FloatV()
	case lineprotocol.Int:
		return float64(v.IntV())
	case lineprotocol.Uint:
		return float64(v.UintV())
	case lineprotocol.Bool:
		if v.BoolV() {
			return 1
		}
		return 0
	case lineprotocol.String:
		f, err := strconv.ParseFloat(v.StringV(), 64)
		if err != nil {
			return 0
		}
		return f
	}
	panic(fmt.Sprintf("bug: line protocol value of kind %v", v.Kind()))
}
