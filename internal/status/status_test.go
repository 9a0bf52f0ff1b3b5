package status

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
	"github.com/logmetrics/logmetrics/tailer"
)

// fake is a pipeline's figures, fixed.
type fake struct {
	tailer  tailer.Stats
	extract extract.Stats
	sink    sink.Stats
	pending int
	writes  sink.WriteState
}

func (f *fake) stages() Stages {
	return Stages{
		Tailer:  func() tailer.Stats { return f.tailer },
		Extract: func() extract.Stats { return f.extract },
		Sink:    func() sink.Stats { return f.sink },
		Pending: func() int { return f.pending },
		Writes:  func() sink.WriteState { return f.writes },
	}
}

func newFake() *fake {
	return &fake{
		tailer: tailer.Stats{
			Files: []tailer.FileStats{{Source: "app", Path: "/var/log/app.log", Counts: tailer.Counts{Lines: 10, TooLong: 1},
				Size: 1000, Committed: 600, LogLag: 1500 * time.Millisecond}},
			Sources: []tailer.SourceStats{{Source: "app", Counts: tailer.Counts{Lines: 25, TooLong: 2}}},
		},
		extract: extract.Stats{
			Sources: []extract.SourceStats{{Source: "app", Lines: 23, Unmatched: 8, Taken: 15, Filtered: 3, NotTaken: 5}},
			Rules: []extract.RuleStats{{Source: "app", Rule: "r", Taken: 15, NotTaken: 6, Filtered: 2, Points: 14,
				TimeErrors: 1, ConversionErrors: 2}},
		},
		sink: sink.Stats{PointsWritten: 9, PointsAltered: 2, Retries: 4, DeadLettered: sink.DeadLettered{Refused: 1},
			Dropped: sink.Dropped{Invalid: 1}, WriteErrors: sink.WriteErrors{Network: 3, Config: 1}},
		pending: 3,
	}
}

// serve runs a Server for f on a free loopback port until the test ends,
// and returns its base URL.
func serve(t *testing.T, f *fake, m *Metrics, redact func(string) string) string {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(f.stages(), m, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)), redact)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Header
}

// series parses a /metrics page and returns its logmetrics_ samples as
// `name{label="value",...}` -> value (a histogram by its _count and _sum).
func series(t *testing.T, page string) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(page))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v\n%s", err, page)
	}
	out := map[string]float64{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "logmetrics_") {
			continue
		}
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
			case m.Histogram != nil:
				out[name+"_count{}"] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum{}"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// TestMetrics reads /metrics over HTTP after known figures and requests:
// every logmetrics_ series with its exact value.
func TestMetrics(t *testing.T) {
	f := newFake()
	m := NewMetrics(f.stages())
	m.ObserveWrite("2xx", 2*time.Millisecond)
	m.ObserveWrite("401", 500*time.Millisecond)
	m.ObserveWrite("2xx", 4*time.Millisecond)
	base := serve(t, f, m, nil)
	code, page, hdr := get(t, base+"/metrics")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", code, hdr.Get("Content-Type"))
	}
	file := `file="/var/log/app.log",source="app"`
	rule := `rule="r",source="app"`
	want := map[string]float64{
		"logmetrics_file_lines_read_total{" + file + "}":                    10,
		"logmetrics_file_lines_too_long_total{" + file + "}":                1,
		"logmetrics_file_truncation_lost_bytes_total{" + file + "}":         0,
		"logmetrics_file_readable{" + file + "}":                            1,
		"logmetrics_file_committed_offset_bytes{" + file + "}":              600,
		"logmetrics_file_size_bytes{" + file + "}":                          1000,
		"logmetrics_file_lag_bytes{" + file + "}":                           400,
		"logmetrics_file_lag_seconds{" + file + "}":                         1.5,
		`logmetrics_source_lines_read_total{source="app"}`:                  25,
		`logmetrics_source_lines_too_long_total{source="app"}`:              2,
		`logmetrics_source_lines_total{result="taken",source="app"}`:        15,
		`logmetrics_source_lines_total{result="filtered",source="app"}`:     3,
		`logmetrics_source_lines_total{result="not_taken",source="app"}`:    5,
		`logmetrics_source_lines_replayed_total{source="app"}`:              0,
		`logmetrics_rule_lines_total{result="taken",` + rule + `}`:          15,
		`logmetrics_rule_lines_total{result="not_taken",` + rule + `}`:      6,
		`logmetrics_rule_lines_total{result="filtered",` + rule + `}`:       2,
		"logmetrics_rule_points_total{" + rule + "}":                        14,
		`logmetrics_rule_errors_total{kind="time",` + rule + `}`:            1,
		`logmetrics_rule_errors_total{kind="conversion",` + rule + `}`:      2,
		`logmetrics_rule_errors_total{kind="missing",` + rule + `}`:         0,
		`logmetrics_rule_errors_total{kind="composite",` + rule + `}`:       0,
		`logmetrics_rule_errors_total{kind="no_fields",` + rule + `}`:       0,
		`logmetrics_rule_errors_total{kind="series_too_long",` + rule + `}`: 0,
		"logmetrics_rule_late_lines_total{" + rule + "}":                    0,
		"logmetrics_rule_folded_lines_total{" + rule + "}":                  0,
		"logmetrics_rule_aggregated_lines_total{" + rule + "}":              0,
		"logmetrics_points_produced_total{}":                                14,
		"logmetrics_points_written_total{}":                                 9,
		"logmetrics_points_altered_total{}":                                 2,
		`logmetrics_points_dead_lettered_total{reason="refused"}`:           1,
		`logmetrics_points_dead_lettered_total{reason="too_large"}`:         0,
		`logmetrics_points_dropped_total{reason="refused"}`:                 0,
		`logmetrics_points_dropped_total{reason="too_large"}`:               0,
		`logmetrics_points_dropped_total{reason="invalid"}`:                 1,
		`logmetrics_points_dropped_total{reason="dead_letter_failed"}`:      0,
		"logmetrics_points_pending{}":                                       3,
		"logmetrics_write_retries_total{}":                                  4,
		`logmetrics_write_errors_total{class="network"}`:                    3,
		`logmetrics_write_errors_total{class="throttled"}`:                  0,
		`logmetrics_write_errors_total{class="server"}`:                     0,
		`logmetrics_write_errors_total{class="refused"}`:                    0,
		`logmetrics_write_errors_total{class="too_large"}`:                  0,
		`logmetrics_write_errors_total{class="config"}`:                     1,
		"logmetrics_write_failing_seconds{}":                                0,
		`logmetrics_write_requests_total{code="2xx"}`:                       2,
		`logmetrics_write_requests_total{code="401"}`:                       1,
		"logmetrics_write_duration_seconds_count{}":                         3,
		"logmetrics_write_duration_seconds_sum{}":                           0.506,
	}
	got := series(t, page)
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return a == b || (a-b)*(a-b) < 1e-18 })); diff != "" {
		t.Errorf("/metrics series (-want +got):\n%s", diff)
	}
	if !strings.Contains(page, "\nprocess_resident_memory_bytes ") || !strings.Contains(page, "\ngo_goroutines ") {
		t.Errorf("/metrics lacks the process and Go metrics:\n%s", page)
	}
	// The points the problems sum to reconcile, as the figures do.
	if got["logmetrics_points_produced_total{}"] != 9+1+1+3 {
		t.Error("the fake's points do not reconcile: fix the test")
	}
}

// TestMetricsLint checks every name and help text with promlint.
func TestMetricsLint(t *testing.T) {
	f := newFake()
	m := NewMetrics(f.stages())
	m.ObserveWrite("2xx", time.Millisecond)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(fams).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	// And every family of ours has a help text and the prefix.
	for _, f := range fams {
		if n := f.GetName(); !strings.HasPrefix(n, "logmetrics_") && !strings.HasPrefix(n, "go_") && !strings.HasPrefix(n, "process_") {
			t.Errorf("%s: neither logmetrics_, go_ nor process_", n)
		}
	}
}

func TestHealthz(t *testing.T) {
	const token = "tok-Zq8pW3"
	now := time.Now()
	tests := []struct {
		name   string
		change func(f *fake)
		code   int
		want   []string // in the body
	}{
		{"nothing written yet", func(f *fake) {}, 200, []string{"ok: 1 files followed, 3 points pending, nothing written yet"}},
		{"writing", func(f *fake) { f.writes.LastSuccess = now.Add(-2 * time.Second) }, 200, []string{"ok: ", "last write 2s ago"}},
		{"failing briefly", func(f *fake) {
			f.writes = sink.WriteState{FailingSince: now.Add(-10 * time.Second), Err: "connection refused"}
		}, 200, []string{"ok: ", "writes failing for 10s (unhealthy after 1m0s)"}},
		{"unreachable past the threshold", func(f *fake) {
			f.writes = sink.WriteState{LastSuccess: now.Add(-5 * time.Minute), FailingSince: now.Add(-2 * time.Minute), Err: "dial tcp: connection refused"}
		}, 503, []string{"writes have failed for 2m0s: dial tcp: connection refused"}},
		{"401", func(f *fake) {
			f.writes = sink.WriteState{FailingSince: now, Status: 401, Err: "influxdb: 401: bad token " + token, Rejected: true}
		}, 503, []string{"InfluxDB refuses the writes with 401 (check the url, token, org and bucket)", "[REDACTED]"}},
		{"403", func(f *fake) {
			f.writes = sink.WriteState{FailingSince: now, Status: 403, Err: "forbidden", Rejected: true}
		}, 503, []string{"with 403"}},
		{"certificate", func(f *fake) {
			f.writes = sink.WriteState{FailingSince: now, Err: "tls: failed to verify certificate: x509: certificate signed by unknown authority", Rejected: true}
		}, 503, []string{"the server's certificate does not verify (check tls.ca_file and tls.server_name)"}},
		{"a file cannot be read", func(f *fake) {
			f.tailer.Files[0].Err = errors.New("read /var/log/app.log: input/output error")
		}, 503, []string{"cannot read /var/log/app.log: read /var/log/app.log: input/output error"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			tc.change(f)
			base := serve(t, f, NewMetrics(f.stages()), func(s string) string { return strings.ReplaceAll(s, token, "[REDACTED]") })
			code, body, _ := get(t, base+"/healthz")
			if code != tc.code || strings.Count(body, "\n") != 1 {
				t.Errorf("/healthz: %d %q, want %d and one line", code, body, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("/healthz %q lacks %q", body, w)
				}
			}
			if strings.Contains(body, token) {
				t.Errorf("/healthz shows the token: %q", body)
			}
			if code, page, _ := get(t, base+"/metrics"); code != 200 || strings.Contains(page, token) {
				t.Errorf("/metrics: %d, or shows the token", code)
			}
		})
	}
}

func TestIndex(t *testing.T) {
	f := newFake()
	base := serve(t, f, NewMetrics(f.stages()), nil)
	if code, body, _ := get(t, base+"/"); code != 200 || !strings.Contains(body, "/metrics") || !strings.Contains(body, "/healthz") {
		t.Errorf("/: %d %q", code, body)
	}
	if code, _, _ := get(t, base+"/nothing"); code != 404 {
		t.Errorf("/nothing: %d, want 404", code)
	}
}

// TestListenInUse: a port in use is an error from Listen, at start.
func TestListenInUse(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := Listen(ln.Addr().String()); err == nil || !strings.Contains(err.Error(), "agent.listen "+ln.Addr().String()) {
		t.Errorf("Listen on a port in use: %v", err)
	}
}

// TestPoints checks the self-metrics points: one per label set, the
// labels and the agent's tags as tags (a label wins over a tag of its
// key), every metric a field without the prefix.
func TestPoints(t *testing.T) {
	f := newFake()
	m := NewMetrics(f.stages())
	m.ObserveWrite("2xx", time.Second)
	now := time.Unix(1700000000, 0)
	pts, err := m.Points(now, []pipeline.Tag{{Key: "host", Value: "h1"}, {Key: "source", Value: "agent-tag"}})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range pts {
		lines = append(lines, strings.TrimSpace(string(sink.AppendPoint(nil, &pts[i]))))
	}
	find := func(prefix string) string {
		i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
		if i < 0 {
			t.Fatalf("no point %s in:\n%s", prefix, strings.Join(lines, "\n"))
		}
		return lines[i]
	}
	global := find("logmetrics_agent,host=h1,source=agent-tag ")
	for _, f := range []string{"points_written_total=9", "points_pending=3", "points_produced_total=14", "write_duration_seconds_count=1", "write_duration_seconds_sum=1"} {
		if !strings.Contains(global, f) {
			t.Errorf("the agent's point lacks %s: %s", f, global)
		}
	}
	if !strings.HasSuffix(global, " 1700000000000000000") {
		t.Errorf("the agent's point is not at now: %s", global)
	}
	taken := find(`logmetrics_agent,host=h1,result=taken,source=app `)
	if !strings.Contains(taken, "source_lines_total=15") {
		t.Errorf("taken lines: %s", taken)
	}
}
