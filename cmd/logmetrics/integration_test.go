package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/influxtest"
	"github.com/logmetrics/logmetrics/internal/loggen"
	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// runUntilStored runs the agent's pipeline on cfg in this process until
// InfluxDB's database db holds n points (failing after 60s), calls full,
// if not nil, with the pipeline still running, then stops it with SIGINT
// and returns what db holds after it stopped. run, with an influxdb
// block, must write nothing to stdout.
func runUntilStored(t *testing.T, cfg *config.Config, srv *influxtest.Server, db string, n int, full func(*agentPipeline)) []string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	log := slog.New(slog.NewTextHandler(&stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := newPipeline(cfg, &env{stdout: &stdout, stderr: &stderr}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.tl.Close)
	sigs := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- p.run(context.Background(), sigs) }()

	var got []string
	deadline := time.Now().Add(60 * time.Second)
	for tick := time.NewTicker(100 * time.Millisecond); len(got) < n; <-tick.C {
		if time.Now().After(deadline) {
			t.Fatalf("InfluxDB holds %d of %d points after 60s; agent log:\n%s", len(got), n, stderr.String())
		}
		got = srv.Dump(t, db)
	}
	if full != nil {
		full(p)
	}
	sigs <- os.Interrupt
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after SIGINT: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30s of SIGINT")
	}
	if stdout.Len() != 0 {
		t.Errorf("run with an influxdb block wrote to stdout: %q", stdout.String())
	}
	return srv.Dump(t, db)
}

// TestRunShipsExampleToInfluxDB runs the agent's pipeline on
// rules.hcl.example against a real InfluxDB, stops it with a signal, and
// reads everything back: the database must hold exactly the points a dry
// run computes from the same files, with their types and timestamps, and a
// few points are checked against values worked out by hand.
func TestRunShipsExampleToInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "logs")
	t.Setenv("INFLUX_URL", srv.URL())
	t.Setenv("INFLUX_BUCKET", "logs/autogen")
	t.Setenv("INFLUX_TOKEN", "")
	t.Setenv("LOGMETRICS_STATE_DIR", t.TempDir())

	cfg, _, diags := config.Load("../../rules.hcl.example")
	if diags.HasErrors() {
		t.Fatalf("rules.hcl.example: %v", diags)
	}
	cfg.InfluxDB.Sink.FlushInterval = 50 * time.Millisecond
	want := expectedDump(t, cfg)
	if len(want) < 400 {
		t.Fatalf("only %d expected points: the sample logs or rules changed", len(want))
	}

	got := runUntilStored(t, cfg, srv, "logs", len(want), nil)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("InfluxDB contents (-want +got):\n%s", diff)
	}

	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	// The first lines of testdata/logs/nginx/access.log, by hand: two
	// requests in the same second of one series are 1 ns apart.
	for _, p := range []string{
		`nginx_requests,host=` + host + `,method=GET,service=shop,status=200 bytes=111861i,request_time=0.005 1760104537000000000`,
		`nginx_requests,host=` + host + `,method=GET,service=shop,status=200 bytes=38674i,request_time=19.799 1760104537000000001`,
	} {
		if !slices.Contains(got, p) {
			t.Errorf("InfluxDB lacks %s", p)
		}
	}
}

// expectedDump is what a dry run of the sources' files gives, in the form
// influxtest.Dump reads InfluxDB.
func expectedDump(t *testing.T, cfg *config.Config) []string {
	t.Helper()
	ex, err := extract.Compile(cfg.Extract)
	if err != nil {
		t.Fatal(err)
	}
	var dump []string
	d := dryRun{ex: ex, now: time.Now(), tailer: cfg.Tailer, emit: func(p *pipeline.Point) error {
		dump = append(dump, influxtest.DumpPoint(p))
		return nil
	}}
	for _, src := range cfg.Tailer.Sources {
		for _, glob := range src.Paths {
			files, err := doublestar.FilepathGlob(glob, doublestar.WithFilesOnly())
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range files {
				if err := d.file(name, pickSources(cfg.Tailer, "", name), nil); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	slices.Sort(dump)
	return dump
}

// TestRunKeepsCollidingPoints ships generated nginx lines, many sharing a
// second and a series, into a real InfluxDB: every line must be a point
// there. Written as they are, InfluxDB would keep one point per series and
// second and silently drop the rest.
func TestRunKeepsCollidingPoints(t *testing.T) {
	const lines = 100_000
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := loggen.Nginx(f, lines, 7, time.Date(2025, 10, 10, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "logs")
	rules := `
agent {
  state_dir = "state"
  listen    = ""
}
influxdb {
  url            = "` + srv.URL() + `"
  bucket         = "logs/autogen"
  flush_interval = "100ms"
}
source "nginx" {
  paths    = ["access.log"]
  start_at = "beginning"
  rule "nginx_requests" {
    regex = <<-EOT
      ^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<request_time>[\d.]+)$
    EOT
    time {
      from   = "time"
      layout = "02/Jan/2006:15:04:05 -0700"
    }
    tags   = ["method", "status"]
    fields = { bytes = "int", request_time = "float" }
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "rules.hcl"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, diags := config.Load(filepath.Join(dir, "rules.hcl"))
	if diags.HasErrors() {
		t.Fatalf("rules: %v", diags)
	}
	var stderr bytes.Buffer
	p, err := newPipeline(cfg, &env{stdout: io.Discard, stderr: &stderr}, slog.New(slog.NewTextHandler(&stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.tl.Close)
	sigs := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- p.run(context.Background(), sigs) }()

	count := func() int64 {
		res := srv.Query(t, "logs", "SELECT count(request_time) FROM nginx_requests")
		if len(res) == 0 {
			return 0
		}
		n, err := res[0].Values[0][1].(json.Number).Int64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(90 * time.Second)
	var n int64
	for tick := time.NewTicker(200 * time.Millisecond); n < lines; <-tick.C {
		if time.Now().After(deadline) {
			break
		}
		n = count()
	}
	sigs <- os.Interrupt
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if n = count(); n != lines {
		t.Fatalf("InfluxDB holds %d points for %d lines; agent log:\n%s", n, lines, stderr.String())
	}
	// Without separation InfluxDB would keep one point per series and
	// second; the test means something only if that is far fewer points.
	data, err := os.ReadFile(filepath.Join(dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\[([^\]]+)\] "([A-Z]+) [^"]*" (\d{3}) `)
	pairs := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		pairs[m[1]+" "+m[2]+" "+m[3]] = true
	}
	seconds := len(pairs)
	if seconds > lines*3/4 {
		t.Errorf("only %d of %d lines share a series and second with another: the input does not test collisions", lines-seconds, lines)
	}
	t.Logf("%d lines, %d points in InfluxDB; %d (series, second) pairs", lines, n, seconds)
}
