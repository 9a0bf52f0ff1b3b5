package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/influxtest"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/tailer"
)

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
	cfg.InfluxDB.FlushInterval = 50 * time.Millisecond
	want := expectedDump(t, cfg)
	if len(want) < 400 {
		t.Fatalf("only %d expected points: the sample logs or rules changed", len(want))
	}

	var stdout, stderr bytes.Buffer
	log := slog.New(slog.NewTextHandler(&stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := newPipeline(cfg, &env{stdout: &stdout, stderr: &stderr}, log)
	if err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- p.run(context.Background(), sigs) }()

	var got []string
	deadline := time.Now().Add(60 * time.Second)
	for tick := time.NewTicker(100 * time.Millisecond); len(got) < len(want); <-tick.C {
		if time.Now().After(deadline) {
			t.Fatalf("InfluxDB holds %d of %d points after 60s; agent log:\n%s", len(got), len(want), stderr.String())
		}
		got = srv.Dump(t, "logs")
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
	got = srv.Dump(t, "logs")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("InfluxDB contents (-want +got):\n%s", diff)
	}
	if stdout.Len() != 0 {
		t.Errorf("run with an influxdb block wrote to stdout: %q", stdout.String())
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
	var rec pipeline.Record
	for _, src := range cfg.Sources {
		for _, glob := range src.Paths {
			files, err := doublestar.FilepathGlob(glob, doublestar.WithFilesOnly())
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range files {
				f, err := os.Open(name)
				if err != nil {
					t.Fatal(err)
				}
				st, err := f.Stat()
				if err != nil {
					t.Fatal(err)
				}
				_, err = tailer.Scan(context.Background(), f, tailer.Input{Source: src.Name, Path: name, ModTime: st.ModTime()}, func(l pipeline.Line) error {
					ex.Extract(&l, &rec)
					for i := range rec.Points {
						dump = append(dump, influxtest.DumpPoint(&rec.Points[i]))
					}
					return nil
				})
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	slices.Sort(dump)
	return dump
}
