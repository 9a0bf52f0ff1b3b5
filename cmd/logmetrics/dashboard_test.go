package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/dashboard"
	"github.com/logmetrics/logmetrics/internal/influxtest"
	"github.com/logmetrics/logmetrics/internal/status"
)

// demoLogs are the files scripts/demo.sh ships with rules.hcl.example.
var demoLogs = []string{"testdata/logs/nginx/access.log", "testdata/logs/app/app.jsonl", "testdata/logs/app/app.logfmt", "testdata/logs/syslog/auth.log", "testdata/logs/samples/elastic-examples/kafka1/server.log.2016-12-19-20"}

// TestDashboardQueries runs the agent on `make demo`'s data with
// rules.hcl.example (self-metrics every 200ms, by the variable
// LOGMETRICS_SELF_METRICS demo.sh sets too) into a real InfluxDB, then
// every query of the generated dashboard with Grafana's macros replaced,
// and wants rows with values from each. Not parallel: it sets the
// environment rules.hcl.example reads.
func TestDashboardQueries(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "logs"
	srv.CreateDatabase(t, db)
	dir := t.TempDir()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// The example's paths are relative to the rules file. A copy, since
	// the second half of growing is written while the agent runs.
	if err := os.CopyFS(filepath.Join(dir, "testdata"), os.DirFS(filepath.Join(repo, "testdata"))); err != nil {
		t.Fatal(err)
	}
	grown, err := os.ReadFile(filepath.Join(dir, growing))
	if err != nil {
		t.Fatal(err)
	}
	firstHalf := bytes.Count(grown, []byte("\n")) / 2
	cut := 0
	for range firstHalf {
		cut += bytes.IndexByte(grown[cut:], '\n') + 1
	}
	writeFile(t, filepath.Join(dir, growing), string(grown[:cut]))
	example, err := os.ReadFile(filepath.Join(repo, "rules.hcl.example"))
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(dir, "rules.hcl")
	writeFile(t, rules, string(example))
	t.Setenv("LOGMETRICS_SELF_METRICS", "200ms")
	t.Setenv("LOGMETRICS_STATE_DIR", filepath.Join(dir, "state"))
	t.Setenv("LOGMETRICS_LISTEN", "")
	t.Setenv("INFLUX_URL", srv.URL())
	t.Setenv("INFLUX_BUCKET", db+"/autogen")
	t.Setenv("INFLUX_TOKEN", "")

	// The points the dry run makes of the files, as demo.sh counts them.
	var lp, stderr bytes.Buffer
	args := append([]string{"test", "-config", rules}, demoLogs...)
	for i, f := range demoLogs {
		args[3+i] = filepath.Join(repo, f) // growing is cut in dir
	}
	if code := dispatch(&env{stdin: strings.NewReader(""), stdout: &lp, stderr: &stderr}, args); code != exitOK {
		t.Fatalf("logmetrics test: exit %d\n%s", code, &stderr)
	}
	want := bytes.Count(lp.Bytes(), []byte("\n"))

	started := time.Now()
	// An aggregate rule's last windows close once their source has been
	// quiet for window+lateness (15s) of wall time.
	a := startAgentFor(t, time.Minute, dir, "run", "-config", "rules.hcl")
	count := func(where string) int {
		n := 0
		for _, s := range srv.Query(t, db, "SELECT * FROM /.*/ "+where) {
			if s.Name != status.Measurement {
				n += len(s.Values)
			}
		}
		return n
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent's log:\n%s", a.logged())
		}
	})
	// The agent row's rates need lines read between two self-metrics
	// points in different intervals (1s below): the second half of
	// growing comes once points over a second have counted the first,
	// and the agent stops once one has counted both.
	linesRead := func() (n int, over time.Duration) {
		var since int64
		for _, s := range srv.Query(t, db, fmt.Sprintf(`SELECT "source_lines_read_total" FROM %q WHERE "source" = '%s'`, status.Measurement, growingSource)) {
			for _, row := range s.Values {
				at, _ := row[0].(json.Number).Int64()
				f, _ := row[1].(json.Number).Float64()
				if int(f) != n {
					n, since = int(f), at
				}
				over = time.Duration(at - since)
			}
		}
		return n, over
	}
	waitLinesRead := func(want int, over time.Duration) {
		t.Helper()
		for end := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			n, d := linesRead()
			if n == want && d >= over {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("the self-metrics count %d lines read from source %s for %v after 30s, want %d for %v", n, growingSource, d, want, over)
			}
		}
	}
	waitLinesRead(firstHalf, time.Second)
	appendFile(t, filepath.Join(dir, growing), string(grown[cut:]))
	waitLinesRead(bytes.Count(grown, []byte("\n")), 0)
	for end := time.Now().Add(45 * time.Second); count("") != want; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("InfluxDB holds %d points of the logs after 45s, want %d", count(""), want)
		}
	}
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("agent: %v\n%s", err, a.logged())
	}
	stopped := time.Now()
	if got := count(""); got != want {
		t.Fatalf("InfluxDB holds %d points of the logs, want %d", got, want)
	}

	cfg, _, diags := config.Load(rules)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	d, err := dashboard.New(cfg.Extract, dashboard.Options{AgentTags: dashboard.TagKeys(cfg.Agent.Tags)})
	if err != nil {
		t.Fatal(err)
	}
	from := regexp.MustCompile(`FROM "([^"]+)"`)
	moved, checked := 0, map[string]int{}
	for _, p := range dashboard.List(d) {
		if p.Query == "" {
			continue // a row
		}
		m := from.FindStringSubmatch(p.Query)
		if m == nil {
			t.Errorf("%s / %s: no measurement in %q", p.Row, p.Title, p.Query)
			continue
		}
		// The range a user would look at: the measurement's points, by
		// 10s (an aggregate rule's window) for the logs and 1s for the
		// self-metrics written every 200ms.
		begin, end, interval := started, stopped, time.Second
		if m[1] != status.Measurement {
			begin, end = timeRange(t, srv, db, m[1])
			interval = 10 * time.Second
		}
		q := grafanaMacros(p.Query, begin.Add(-time.Minute), end.Add(time.Minute), interval)
		series := srv.Query(t, db, q)
		// The logs' panels must show some of them: a value other than
		// 0; so must the agent's rates of what it did (with growing
		// read in two halves), while the others may be all 0 (no
		// errors, nothing dropped).
		rows, values, top, at := 0, 0, 0.0, ""
		for _, s := range series {
			rows += len(s.Values)
			for _, row := range s.Values {
				for _, v := range row[1:] {
					if v == nil {
						continue
					}
					values++
					if f, err := v.(json.Number).Float64(); err == nil && (at == "" || f > top) {
						top, at = f, fmt.Sprintf("%v %v", s.Tags, row)
					}
				}
			}
		}
		if agentMoves[p.Title] {
			moved++
		}
		if values == 0 || (m[1] != status.Measurement || agentMoves[p.Title]) && top == 0 {
			t.Errorf("%s / %s: %d rows, %d values, the highest %v, from\n%s", p.Row, p.Title, rows, values, top, q)
			continue
		}
		checked[p.Row]++
		t.Logf("%s / %s: %d series, %d rows, %d values; the highest: %s", p.Row, p.Title, len(series), rows, values, at)
	}
	// Every source's row, and the agent's, has panels that showed data:
	// demoLogs holds a file of every source.
	for _, src := range cfg.Extract.Sources {
		if checked["source "+src.Name] == 0 {
			t.Errorf("no panel of row %q showed data", "source "+src.Name)
		}
	}
	if checked["agent"] == 0 {
		t.Error("no panel of the agent row showed data")
	}

	if moved != len(agentMoves) {
		t.Errorf("%d of the agent panels %v checked, want all", moved, agentMoves)
	}

	// `logmetrics dashboard` of rules.hcl.example prints the dashboard
	// checked above.
	var buf bytes.Buffer
	if code := dispatch(&env{stdout: &buf, stderr: &stderr}, []string{"dashboard", "-config", filepath.Join(repo, "rules.hcl.example")}); code != exitOK {
		t.Fatalf("dashboard: exit %d\n%s", code, &stderr)
	}
	got, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var a1, a2 any
	if err := json.Unmarshal(buf.Bytes(), &a1); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &a2); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(a1) != fmt.Sprint(a2) {
		t.Error("logmetrics dashboard of rules.hcl.example differs from the dashboard checked")
	}
}

// growing is the demo log TestDashboardQueries writes in two halves, of
// source growingSource.
const (
	growing       = "testdata/logs/app/app.logfmt"
	growingSource = "app_logfmt"
)

// agentMoves are the agent panels that must show a rate above 0 once
// lines are read between two self-metrics points.
var agentMoves = map[string]bool{
	"agent: lines read/s":                  true,
	"agent: lines by result/s":             true,
	"agent: points produced and written/s": true,
}

// timeRange is the time of the first and last point of measurement m.
func timeRange(t *testing.T, srv *influxtest.Server, db, m string) (first, last time.Time) {
	t.Helper()
	at := func(order string) time.Time {
		s := srv.Query(t, db, fmt.Sprintf("SELECT * FROM %s ORDER BY time %s LIMIT 1", influxtest.QuoteIdent(m), order))
		if len(s) == 0 || len(s[0].Values) == 0 {
			t.Fatalf("no points in %s", m)
		}
		ns, err := s[0].Values[0][0].(json.Number).Int64()
		if err != nil {
			t.Fatal(err)
		}
		return time.Unix(0, ns)
	}
	return at("ASC"), at("DESC")
}

// grafanaMacros replaces the macros of Grafana's InfluxDB data source as
// Grafana does for a time range and interval.
func grafanaMacros(q string, from, to time.Time, interval time.Duration) string {
	return strings.NewReplacer(
		dashboard.TimeFilter, fmt.Sprintf("time >= %dms and time <= %dms", from.UnixMilli(), to.UnixMilli()),
		dashboard.IntervalMS, fmt.Sprint(interval.Milliseconds()),
		dashboard.Interval, interval.String(),
	).Replace(q)
}
