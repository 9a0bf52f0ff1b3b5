package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/logmetrics/logmetrics/internal/influxtest"
	"github.com/logmetrics/logmetrics/tailer"
)

// freeListen returns a loopback host:port free a moment ago.
func freeListen(t *testing.T) string {
	t.Helper()
	addr, err := influxtest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// scrape reads base's /metrics and returns every sample as
// `name{label="value",...}` -> value, labels sorted by name.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// sum adds the samples of name (any labels).
func sum(s map[string]float64, name string) float64 {
	var n float64
	for k, v := range s {
		if strings.HasPrefix(k, name+"{") {
			n += v
		}
	}
	return n
}

func healthz(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// eventually polls cond every 50ms for up to 15s: scrapes and queries cost more than shutdown_test.go's waitUntil's 5ms.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(15 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("no %s within 15s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reconcile checks the two identities of the counters on a quiescent
// agent: lines read = taken + filtered + not taken + over-long, and points
// produced = written + dead-lettered + dropped + pending.
func reconcile(t *testing.T, s map[string]float64) {
	t.Helper()
	read := s[`logmetrics_source_lines_read_total{source="app"}`]
	results := sum(s, "logmetrics_source_lines_total") + s[`logmetrics_source_lines_too_long_total{source="app"}`]
	if read != results {
		t.Errorf("lines read %v != taken + filtered + not taken + over-long %v", read, results)
	}
	produced := s["logmetrics_points_produced_total{}"]
	delivered := s["logmetrics_points_written_total{}"] + sum(s, "logmetrics_points_dead_lettered_total") +
		sum(s, "logmetrics_points_dropped_total") + s["logmetrics_points_pending{}"]
	if produced != delivered {
		t.Errorf("points produced %v != written + dead-lettered + dropped + pending %v", produced, delivered)
	}
}

// TestStatusReconciles runs the agent against the real InfluxDB on lines
// of every kind (taken, filtered, taken by no rule, over-long): /metrics
// has the exact counts and they reconcile; with InfluxDB stopped, the
// points wait as pending, still reconciled, and /healthz turns 503 after
// unhealthy_after; after a restart all is written, /healthz is 200 again,
// and the self-metrics in InfluxDB hold /metrics' figures.
func TestStatusReconciles(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "st")
	dir := t.TempDir()
	listen := freeListen(t)
	base := "http://" + listen
	writeFile(t, filepath.Join(dir, "rules.hcl"), `
agent {
  state_dir       = "state"
  listen          = "`+listen+`"
  unhealthy_after = "1s"
  self_metrics    = "100ms"
  tags            = { host = "statushost" }
}
influxdb {
  url            = "`+srv.URL()+`"
  bucket         = "st/autogen"
  batch_size     = 100
  flush_interval = "20ms"
}
source "app" {
  paths    = ["app.log"]
  start_at = "beginning"
  rule "r" {
    regex = "^(?P<t>\\d+) (?P<kind>\\w+) (?P<v>\\d+)$"
    require "kind" {
      not_equals = "skip"
    }
    time {
      from   = "t"
      layout = "unix"
    }
    fields = { v = "int" }
  }
}
`)
	var log strings.Builder
	put := func(from, n int) {
		for i := from; i < from+n; i++ {
			fmt.Fprintf(&log, "%d ok %d\n", 1700000000+i, i) // taken
		}
		log.WriteString("1700000000 skip 1\n") // filtered
		// Over-long, and not last: the position moves past a skipped
		// line only with the next line's ack.
		log.WriteString(strings.Repeat("x", tailer.DefaultMaxLineBytes+1) + "\n")
		log.WriteString("garbage\n") // not taken
	}
	put(0, 5)
	writeFile(t, filepath.Join(dir, "app.log"), log.String())
	a := startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("serving /metrics and /healthz")
	var s map[string]float64
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent's log:\n%s\nlast scrape: %v", a.logged(), s)
		}
	})

	eventually(t, "5 points written", func() bool {
		s = scrape(t, base)
		return s["logmetrics_points_written_total{}"] == 5 && s[`logmetrics_source_lines_read_total{source="app"}`] == 8
	})
	file := fmt.Sprintf(`file=%q,source="app"`, filepath.Join(dir, "app.log"))
	size := float64(log.Len())
	eventually(t, "the file committed", func() bool {
		s = scrape(t, base)
		return s["logmetrics_file_committed_offset_bytes{"+file+"}"] == size
	})
	want := map[string]float64{
		`logmetrics_source_lines_read_total{source="app"}`:               8,
		`logmetrics_source_lines_too_long_total{source="app"}`:           1,
		`logmetrics_source_lines_total{result="taken",source="app"}`:     5,
		`logmetrics_source_lines_total{result="filtered",source="app"}`:  1,
		`logmetrics_source_lines_total{result="not_taken",source="app"}`: 1,
		"logmetrics_points_produced_total{}":                             5,
		"logmetrics_points_pending{}":                                    0,
		"logmetrics_file_lines_read_total{" + file + "}":                 8,
		"logmetrics_file_size_bytes{" + file + "}":                       size,
		"logmetrics_file_lag_bytes{" + file + "}":                        0,
		"logmetrics_file_lag_seconds{" + file + "}":                      0,
		"logmetrics_file_readable{" + file + "}":                         1,
		`logmetrics_write_requests_total{code="2xx"}`:                    s[`logmetrics_write_requests_total{code="2xx"}`],
	}
	for k, v := range want {
		if s[k] != v {
			t.Errorf("%s = %v, want %v", k, s[k], v)
		}
	}
	if s[`logmetrics_write_requests_total{code="2xx"}`] < 1 {
		t.Error("no successful write request counted")
	}
	reconcile(t, s)
	if code, body := healthz(t, base); code != 200 || !strings.HasPrefix(body, "ok: 1 files followed, 0 points pending, last write") {
		t.Errorf("/healthz: %d %q", code, body)
	}

	// InfluxDB down: new points wait, counted as pending.
	srv.Stop(t)
	before := log.Len()
	put(5, 3)
	f, err := os.OpenFile(filepath.Join(dir, "app.log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(log.String()[before:]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	eventually(t, "3 points pending", func() bool {
		s = scrape(t, base)
		return s["logmetrics_points_pending{}"] == 3 && s[`logmetrics_source_lines_read_total{source="app"}`] == 14
	})
	reconcile(t, s)
	if s["logmetrics_points_written_total{}"] != 5 {
		t.Errorf("written while InfluxDB was down: %v", s["logmetrics_points_written_total{}"])
	}
	if s["logmetrics_file_lag_bytes{"+file+"}"] != float64(log.Len()-before) || s["logmetrics_file_lag_seconds{"+file+"}"] != 3 {
		t.Errorf("lag while InfluxDB is down: %v bytes, %v s; want the %d appended and 3 (lines up to 1700000007 read, to 1700000004 delivered)",
			s["logmetrics_file_lag_bytes{"+file+"}"], s["logmetrics_file_lag_seconds{"+file+"}"], log.Len()-before)
	}
	eventually(t, "/healthz 503", func() bool {
		code, _ := healthz(t, base)
		return code == 503
	})
	if _, body := healthz(t, base); !strings.HasPrefix(body, "writes have failed for ") {
		t.Errorf("/healthz reason: %q", body)
	}
	if sum(scrape(t, base), "logmetrics_write_failing_seconds") < 1 {
		t.Error("logmetrics_write_failing_seconds below unhealthy_after while unhealthy")
	}

	srv.Restart(t)
	eventually(t, "all 8 points written", func() bool {
		s = scrape(t, base)
		return s["logmetrics_points_written_total{}"] == 8 && s["logmetrics_points_pending{}"] == 0
	})
	reconcile(t, s)
	eventually(t, "/healthz 200", func() bool {
		code, _ := healthz(t, base)
		return code == 200
	})
	// The self-metrics, written every 100ms, reach the same figures.
	eventually(t, "self-metrics with 8 points written", func() bool {
		rows := srv.Query(t, "st", `SELECT last("points_written_total") FROM "logmetrics_agent" WHERE "host" = 'statushost'`)
		return len(rows) == 1 && len(rows[0].Values) == 1 && fmt.Sprint(rows[0].Values[0][1]) == "8"
	})
	rows := srv.Query(t, "st", `SELECT last("source_lines_total") FROM "logmetrics_agent" WHERE "result" = 'taken' AND "source" = 'app'`)
	if len(rows) != 1 || fmt.Sprint(rows[0].Values[0][1]) != "8" {
		t.Errorf("self-metrics taken lines: %+v, want 8", rows)
	}
	if _, err := a.stop(os.Interrupt); err != nil {
		t.Errorf("run: %v\n%s", err, a.logged())
	}
}

// TestStatusRefused: InfluxDB answering 401 (a proxy that quotes the
// request, token included) makes /healthz 503 at once, and neither it nor
// /metrics shows the token.
func TestStatusRefused(t *testing.T) {
	t.Parallel()
	echo401 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"code":"unauthorized","message":"authorization failed for %q"}`, r.Header.Get("Authorization"))
	}))
	defer echo401.Close()
	dir := t.TempDir()
	listen := freeListen(t)
	base := "http://" + listen
	writeFile(t, filepath.Join(dir, "app.log"), "1700000000 ok 1\n")
	writeFile(t, filepath.Join(dir, "rules.hcl"), fmt.Sprintf(`
agent {
  state_dir = "state"
  listen    = %q
}
influxdb {
  url            = %q
  bucket         = "db/rp"
  token          = %q
  flush_interval = "20ms"
}
source "app" {
  paths    = ["app.log"]
  start_at = "beginning"
  rule "r" {
    regex = "^(?P<t>\\d+) (?P<kind>\\w+) (?P<v>\\d+)$"
    time {
      from   = "t"
      layout = "unix"
    }
    fields = { v = "int" }
  }
}
`, listen, echo401.URL, secretToken))
	a := startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("serving /metrics and /healthz")
	var code int
	var body string
	eventually(t, "/healthz 503", func() bool {
		code, body = healthz(t, base)
		return code == 503
	})
	if !strings.Contains(body, "InfluxDB refuses the writes with 401") || !strings.Contains(body, "[REDACTED]") {
		t.Errorf("/healthz: %q, want the 401 and the echoed token redacted", body)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for what, out := range map[string]string{"/healthz": body, "/metrics": string(page)} {
		if strings.Contains(out, secretToken) {
			t.Errorf("%s shows the token:\n%s", what, out)
		}
	}
	if !strings.Contains(string(page), `logmetrics_write_requests_total{code="401"}`) {
		t.Errorf("/metrics lacks the 401 requests")
	}
	a.stop(syscall.SIGKILL)
}

// TestStatusUnreadable: a followed file the agent may not open makes
// /healthz 503, naming it. As root, whose capabilities would read it
// anyway, the agent runs without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
// (setpriv), as root does under systemd's CapabilityBoundingSet.
func TestStatusUnreadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	listen := freeListen(t)
	base := "http://" + listen
	writeFile(t, filepath.Join(dir, "a.log"), "1700000000 ok 1\n")
	secret := filepath.Join(dir, "b.log")
	writeFile(t, secret, "1700000000 ok 2\n")
	if err := os.Chmod(secret, 0); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "rules.hcl"), fmt.Sprintf(`
agent {
  state_dir = "state"
  listen    = %q
}
source "app" {
  paths    = ["*.log"]
  start_at = "beginning"
  rule "r" {
    regex  = "^(?P<t>\\d+) (?P<kind>\\w+) (?P<v>\\d+)$"
    fields = { v = "int" }
  }
}
`, listen))
	bin, err := exec.LookPath("logmetrics")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{bin, "run", "-config", "rules.hcl"}
	if os.Geteuid() == 0 {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Fatalf("as root, this test needs setpriv (util-linux): %v", err)
		}
		args = append([]string{setpriv, "--bounding-set", "-dac_override,-dac_read_search"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GORACE="+gorace())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var code int
	var body string
	eventually(t, "/healthz 503", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			if _, ok := err.(net.Error); ok || strings.Contains(err.Error(), "refused") {
				return false // not listening yet
			}
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		code, body = resp.StatusCode, string(b)
		return code == 503
	})
	if !strings.Contains(body, "cannot read "+secret) || !strings.Contains(body, "permission denied") {
		t.Errorf("/healthz: %q, want b.log named\nstderr:\n%s", body, stderr.String())
	}
	s := scrape(t, base)
	if s[fmt.Sprintf(`logmetrics_file_readable{file=%q,source="app"}`, secret)] != 0 ||
		s[fmt.Sprintf(`logmetrics_file_readable{file=%q,source="app"}`, filepath.Join(dir, "a.log"))] != 1 {
		t.Errorf("logmetrics_file_readable: %v", s)
	}
}

// TestRunListenInUse: a port in use stops run at start with exit 2 and a
// message that names agent.listen.
func TestRunListenInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.log"), "")
	writeFile(t, filepath.Join(dir, "rules.hcl"), fmt.Sprintf(`
agent {
  state_dir = "state"
  listen    = %q
}
source "app" {
  paths = ["app.log"]
  rule "r" {
    regex  = "^(?P<v>\\d+)$"
    fields = { v = "int" }
  }
}
`, l.Addr().String()))
	a := startAgent(t, dir, "run", "-config", "rules.hcl")
	err = a.exit()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("run: %v, want exit 2", err)
	}
	if want := "logmetrics run: agent.listen " + l.Addr().String() + ": "; !strings.Contains(a.logged(), want) || !strings.Contains(a.logged(), "address already in use") {
		t.Errorf("stderr lacks %q and the cause:\n%s", want, a.logged())
	}
}
