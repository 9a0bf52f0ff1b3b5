// Package influxtest runs a real InfluxDB OSS 1.8 server for tests.
//
// The server is the binary the Makefile builds into bin/influxd (or the one
// named by $LOGMETRICS_INFLUXD). A missing binary fails the test instead of
// skipping it, so a CI run without the server cannot pass by accident.
//
// Each Start gives the test its own process on free loopback ports with a
// temporary data folder; t.Cleanup stops it. The process output is shown only
// when the test fails.
package influxtest

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/childproc"
	"github.com/logmetrics/logmetrics/internal/pipeline"
)

const (
	// startTimeout bounds how long we wait for /ping to answer. A cold
	// start on a busy CI machine (race detector on) takes a few seconds.
	startTimeout = 20 * time.Second
	// stopTimeout is how long influxd gets to shut down after SIGTERM
	// before it is killed.
	stopTimeout = 10 * time.Second
	// startAttempts covers the small window in which another process can
	// take a port between our probe and influxd binding it.
	startAttempts = 3
)

// Server is a running influxd.
type Server struct {
	client *http.Client
	bin    string
	dir    string // the data folder, kept across Stop and Restart

	// tls holds the server's certificate and key files when it serves
	// HTTPS (StartTLS); nil for plain HTTP.
	tls *certFiles

	mu       sync.Mutex
	url      string
	httpAddr string
	rpcAddr  string
	proc     *process // nil while stopped
}

// process is one run of influxd.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait has returned
	out    *childproc.Output
}

// Series is one series of an InfluxQL result. Numbers are json.Number, so
// they keep the exact text the server sent; times are Unix nanoseconds.
type Series struct {
	Name    string
	Tags    map[string]string
	Columns []string
	Values  [][]any
}

// Start runs influxd and waits until it answers /ping. The server is
// stopped, and its data removed, when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return startServer(t, false)
}

// StartTLS is Start with the server answering HTTPS only, with a
// certificate for 127.0.0.1 generated for the test and signed by a CA of
// its own (CAFile). The Server's own requests trust that CA.
func StartTLS(t testing.TB) *Server {
	t.Helper()
	return startServer(t, true)
}

func startServer(t testing.TB, withTLS bool) *Server {
	t.Helper()
	bin := findInfluxd(t)
	var lastErr error
	for range startAttempts {
		s, err := start(t, bin, withTLS)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("influxtest: start %s: %v", bin, lastErr)
	return nil
}

// findInfluxd returns $LOGMETRICS_INFLUXD or bin/influxd of the module
// that holds the working directory.
func findInfluxd(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("LOGMETRICS_INFLUXD"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("influxtest: LOGMETRICS_INFLUXD: %v", err)
		}
		return p
	}
	p, err := childproc.ModuleBin("influxd")
	if err != nil {
		t.Fatalf("%v", err)
	}
	return p
}

// start makes one attempt to run influxd. An error means the process
// exited (or never answered) and has been cleaned up; the caller may retry.
func start(t testing.TB, bin string, withTLS bool) (*Server, error) {
	t.Helper()
	httpAddr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	rpcAddr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	s := &Server{
		client:   &http.Client{Timeout: 10 * time.Second},
		bin:      bin,
		dir:      t.TempDir(),
		url:      "http://" + httpAddr,
		httpAddr: httpAddr,
		rpcAddr:  rpcAddr,
	}
	if withTLS {
		certs, err := writeCerts(s.dir)
		if err != nil {
			return nil, err
		}
		s.tls, s.url = certs, "https://"+httpAddr
		s.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.pool}}
	}
	// Registered before waiting for /ping, so that a failed wait still
	// stops the process. Cleanups run last-in first-out: this one runs
	// before t.TempDir's removal, so influxd is gone when its files go.
	t.Cleanup(func() {
		s.mu.Lock()
		p, addr := s.proc, s.httpAddr
		s.proc = nil
		s.mu.Unlock()
		if p == nil {
			return
		}
		stop(t, p)
		if t.Failed() {
			t.Logf("influxd %s output:\n%s", addr, p.out.String())
		}
	})
	if err := s.run(); err != nil {
		return nil, err
	}
	return s, nil
}

// run starts influxd on the server's addresses and data folder and waits
// for /ping. On error the process has exited.
func (s *Server) run() error {
	s.mu.Lock()
	httpAddr, rpcAddr, dir := s.httpAddr, s.rpcAddr, s.dir
	s.mu.Unlock()
	cmd := Command(s.bin, httpAddr, rpcAddr, dir)
	if s.tls != nil {
		cmd.Env = append(cmd.Env, "INFLUXDB_HTTP_HTTPS_ENABLED=true",
			"INFLUXDB_HTTP_HTTPS_CERTIFICATE="+s.tls.cert, "INFLUXDB_HTTP_HTTPS_PRIVATE_KEY="+s.tls.key)
	}
	out := &childproc.Output{}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	p := &process{cmd: cmd, exited: exited, out: out}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	if err := s.waitReady(exited, func() error { return waitErr }); err != nil {
		s.mu.Lock()
		s.proc = nil
		s.mu.Unlock()
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("%w\noutput:\n%s", err, out.String())
	}
	return nil
}

// Stop shuts influxd down (SIGTERM, as an operator would) and waits for
// it to exit, keeping its data folder for Restart. Meanwhile requests to
// URL fail to connect.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		t.Fatal("influxtest: Stop: the server is not running")
	}
	stop(t, p)
}

// Restart starts influxd again on the data folder of the stopped server,
// on the same address when it can. If another process took the port
// meanwhile, the server comes up on a new one: read URL again after
// Restart.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	running := s.proc != nil
	s.mu.Unlock()
	if running {
		t.Fatal("influxtest: Restart: the server is running")
	}
	var errs []error
	for i := range restartAttempts {
		s.mu.Lock()
		addr := s.httpAddr
		s.mu.Unlock()
		// A port taken by a listener that never answers would keep /ping
		// waiting: move at once.
		if i == restartAttempts-1 || !portFree(addr) {
			// The port is taken: move to new ones.
			httpAddr, err1 := FreeAddr()
			rpcAddr, err2 := FreeAddr()
			if err := errors.Join(err1, err2); err != nil {
				t.Fatalf("influxtest: restart: %v", err)
			}
			s.mu.Lock()
			scheme := "http://"
			if s.tls != nil {
				scheme = "https://"
			}
			s.httpAddr, s.rpcAddr, s.url = httpAddr, rpcAddr, scheme+httpAddr
			s.mu.Unlock()
		}
		err := s.run()
		if err == nil {
			return
		}
		errs = append(errs, err)
		time.Sleep(100 * time.Millisecond) // a port in TIME_WAIT or briefly taken
	}
	t.Fatalf("influxtest: restart: %v", errors.Join(errs...))
}

// restartAttempts bounds Restart's tries; the last one moves to new ports.
const restartAttempts = 4

// portFree reports whether addr can be listened on now.
func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// Command is influxd (the binary bin) configured to serve HTTP on httpAddr
// and its RPC on rpcAddr, keep its data in dir, and log little: the
// environment, not a config file, configures it. Tests (Start) and the
// benchmark suite run it so.
func Command(bin, httpAddr, rpcAddr, dir string) *exec.Cmd {
	cmd := exec.Command(bin, "run", "-config", os.DevNull)
	cmd.Env = append(environWithoutInfluxDB(),
		"INFLUXDB_HTTP_BIND_ADDRESS="+httpAddr,
		"INFLUXDB_BIND_ADDRESS="+rpcAddr,
		"INFLUXDB_META_DIR="+filepath.Join(dir, "meta"),
		"INFLUXDB_DATA_DIR="+filepath.Join(dir, "data"),
		"INFLUXDB_DATA_WAL_DIR="+filepath.Join(dir, "wal"),
		"INFLUXDB_REPORTING_DISABLED=true",
		"INFLUXDB_HTTP_LOG_ENABLED=false",
		"INFLUXDB_DATA_QUERY_LOG_ENABLED=false",
		"INFLUXDB_MONITOR_STORE_ENABLED=false",
		"INFLUXDB_LOGGING_LEVEL=warn",
		"INFLUXDB_LOGGING_SUPPRESS_LOGO=true",
	)
	childproc.DieWithParent(cmd)
	return cmd
}

// environWithoutInfluxDB drops INFLUXDB_* variables (and the config path)
// of the caller's environment so that only ours configure the server.
func environWithoutInfluxDB() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INFLUXDB_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReady polls /ping until it answers 204, the process exits or the
// start timeout passes.
func (s *Server) waitReady(exited <-chan struct{}, exitErr func() error) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.ping() {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("influxd exited before answering /ping: %v", exitErr())
		case <-deadline.C:
			return fmt.Errorf("influxd did not answer /ping within %v", startTimeout)
		case <-tick.C:
		}
	}
}

func (s *Server) ping() bool {
	resp, err := s.client.Get(s.URL() + "/ping")
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusNoContent
}

// stop sends SIGTERM, kills the process if it is still running after
// stopTimeout, and waits for it either way.
func stop(t testing.TB, p *process) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		t.Logf("influxtest: influxd did not stop within %v after SIGTERM; killing it", stopTimeout)
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// URL is the server's base URL, like "http://127.0.0.1:12345". It
// changes only when Restart had to move to another port.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// CreateDatabase creates the database name (with its autogen retention
// policy).
func (s *Server) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	form := url.Values{"q": {"CREATE DATABASE " + QuoteIdent(name)}}
	resp, err := s.client.PostForm(s.URL()+"/query", form)
	if err != nil {
		t.Fatalf("influxtest: create database %s: %v", name, err)
	}
	if _, err := decodeResults(resp); err != nil {
		t.Fatalf("influxtest: create database %s: %v", name, err)
	}
}

// Write posts line protocol to the 1.x /write endpoint with nanosecond
// precision and fails the test unless the server answers 204.
func (s *Server) Write(t testing.TB, db, lp string) {
	t.Helper()
	u := s.URL() + "/write?" + url.Values{"db": {db}, "precision": {"ns"}}.Encode()
	resp, err := s.client.Post(u, "text/plain; charset=utf-8", strings.NewReader(lp))
	if err != nil {
		t.Fatalf("influxtest: write to %s: %v", db, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("influxtest: write to %s: %s: %s", db, resp.Status, body)
	}
}

// Query runs one InfluxQL statement against db and returns its series.
// Times are Unix nanoseconds and numbers are json.Number, so an integer
// never turns into a float on the way.
func (s *Server) Query(t testing.TB, db, influxql string) []Series {
	t.Helper()
	q := url.Values{"db": {db}, "q": {influxql}, "epoch": {"ns"}}
	resp, err := s.client.Get(s.URL() + "/query?" + q.Encode())
	if err != nil {
		t.Fatalf("influxtest: query %q: %v", influxql, err)
	}
	series, err := decodeResults(resp)
	if err != nil {
		t.Fatalf("influxtest: query %q: %v", influxql, err)
	}
	return series
}

// decodeResults reads a /query response and closes its body. It returns
// the series of every statement, or the first error the server reported.
func decodeResults(resp *http.Response) ([]Series, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Results []struct {
			Series []Series `json:"series"`
			Error  string   `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: decode %q: %v", resp.Status, body, err)
	}
	if r.Error != "" {
		return nil, fmt.Errorf("%s: %s", resp.Status, r.Error)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, body)
	}
	var all []Series
	for _, res := range r.Results {
		if res.Error != "" {
			return nil, errors.New(res.Error)
		}
		all = append(all, res.Series...)
	}
	return all, nil
}

// Dump lists every point of every measurement in db, sorted, one string
// per field set, in a line-protocol-like form meant for exact comparison:
//
//	measurement,tag=value field=1.5,count=3i,ok=true,msg="text" 1700000000000000000
//
// Measurement and tag names and values and field keys are written as
// stored; strings are Go-quoted (strconv.Quote) so control characters and
// invalid UTF-8 show. Floats use strconv 'g' -1 formatting, integers end in
// i and unsigned integers in u, as in line protocol: the type comes from
// SHOW FIELD KEYS, because JSON writes the float 1 as 1. Tags are told from
// fields with GROUP BY *; tags appear sorted by key, fields sorted by key.
func (s *Server) Dump(t testing.TB, db string) []string {
	t.Helper()
	var lines []string
	for _, m := range s.Query(t, db, "SHOW MEASUREMENTS") {
		for _, row := range m.Values {
			name, ok := row[0].(string)
			if !ok {
				t.Fatalf("influxtest: SHOW MEASUREMENTS: unexpected row %v", row)
			}
			lines = append(lines, s.dumpMeasurement(t, db, name)...)
		}
	}
	slices.Sort(lines)
	return lines
}

func (s *Server) dumpMeasurement(t testing.TB, db, name string) []string {
	t.Helper()
	from := " FROM " + QuoteIdent(name)
	types := map[string]string{}
	for _, sr := range s.Query(t, db, "SHOW FIELD KEYS"+from) {
		for _, row := range sr.Values {
			key, _ := row[0].(string)
			typ, _ := row[1].(string)
			types[key] = typ
		}
	}
	var lines []string
	for _, sr := range s.Query(t, db, "SELECT *"+from+" GROUP BY *") {
		var tags []keyValue
		for k, v := range sr.Tags {
			// GROUP BY * reports every tag key of the measurement;
			// a series without a tag has it empty.
			if v != "" {
				tags = append(tags, keyValue{k, v})
			}
		}
		for _, row := range sr.Values {
			var fields []keyValue
			for i, col := range sr.Columns {
				if col == "time" || row[i] == nil {
					continue // SELECT * reports every field of the measurement
				}
				fields = append(fields, keyValue{col, formatValue(t, types[col], row[i])})
			}
			lines = append(lines, dumpLine(sr.Name, tags, fields, fmt.Sprint(row[0])))
		}
	}
	return lines
}

// DumpPoint renders p the way Dump renders what the server holds, so a
// test can compare the two exactly. It renders p as given: pass the values
// the server is expected to hold.
func DumpPoint(p *pipeline.Point) string {
	tags := make([]keyValue, len(p.Tags))
	for i, tag := range p.Tags {
		tags[i] = keyValue{tag.Key, tag.Value}
	}
	fields := make([]keyValue, len(p.Fields))
	for i, f := range p.Fields {
		var v string
		switch f.Value.Kind {
		case pipeline.Float:
			v = strconv.FormatFloat(f.Value.Float(), 'g', -1, 64)
		case pipeline.Int:
			v = strconv.FormatInt(f.Value.Int(), 10) + "i"
		case pipeline.Uint:
			v = strconv.FormatUint(f.Value.Uint(), 10) + "u"
		case pipeline.Bool:
			v = strconv.FormatBool(f.Value.Bool())
		case pipeline.String:
			v = strconv.Quote(f.Value.Str())
		}
		fields[i] = keyValue{f.Key, v}
	}
	return dumpLine(p.Measurement, tags, fields, strconv.FormatInt(p.Time, 10))
}

type keyValue struct{ key, value string }

// dumpLine is the one place that writes Dump's format. It sorts tags and
// fields by key.
func dumpLine(name string, tags, fields []keyValue, time string) string {
	byKey := func(a, b keyValue) int { return strings.Compare(a.key, b.key) }
	slices.SortFunc(tags, byKey)
	slices.SortFunc(fields, byKey)
	var b strings.Builder
	b.WriteString(name)
	for _, tag := range tags {
		fmt.Fprintf(&b, ",%s=%s", tag.key, tag.value)
	}
	for i, f := range fields {
		sep := ","
		if i == 0 {
			sep = " "
		}
		fmt.Fprintf(&b, "%s%s=%s", sep, f.key, f.value)
	}
	b.WriteString(" " + time)
	return b.String()
}

func formatValue(t testing.TB, typ string, v any) string {
	t.Helper()
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		switch typ {
		case "integer":
			return v.String() + "i"
		case "unsigned":
			return v.String() + "u"
		case "float":
			f, err := v.Float64()
			if err != nil {
				t.Fatalf("influxtest: float %s: %v", v, err)
			}
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
	}
	t.Fatalf("influxtest: value %#v of field type %q", v, typ)
	return ""
}

// QuoteIdent quotes an InfluxQL identifier: double quotes, with backslash,
// double quote and newline escaped as the InfluxQL scanner expects.
func QuoteIdent(s string) string {
	return `"` + identReplacer.Replace(s) + `"`
}

var identReplacer = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
