//go:build unix

package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/victoriatest"
)

// TestBackfillExampleToVictoriaMetrics: the second engine. `logmetrics
// test` prints the points of rules.hcl.example on the sample logs;
// `logmetrics backfill` with the same rules, its influxdb block pointed at
// a real VictoriaMetrics single node (url only: bucket and org are sent
// and ignored), writes them there; /api/v1/export then holds exactly
// VictoriaMetrics' mapping of those points (victoriatest.Expect): every
// field of every point a sample of the series measurement_field with the
// point's tags, its value as a float64 (strings as 0, the sample logs
// hold no number in a string field) and its time cut to milliseconds;
// nothing more, nothing less. A second backfill stores every sample again.
func TestBackfillExampleToVictoriaMetrics(t *testing.T) {
	srv := victoriatest.Start(t)
	rules, err := filepath.Abs("../../rules.hcl.example")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("INFLUX_URL", srv.URL())
	t.Setenv("INFLUX_BUCKET", "logs")
	t.Setenv("INFLUX_TOKEN", "")
	t.Setenv("LOGMETRICS_STATE_DIR", t.TempDir())

	cfg, _, diags := config.Load(rules)
	if diags.HasErrors() {
		t.Fatalf("rules.hcl.example: %v", diags)
	}
	var files []string
	for _, src := range cfg.Tailer.Sources {
		for _, glob := range src.Paths {
			matched, err := doublestar.FilepathGlob(glob, doublestar.WithFilesOnly())
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, matched...)
		}
	}
	tested := runOnce(t, ".", append([]string{"test", "-config", rules}, files...)...)
	tested.exited(t, exitOK)
	want, err := victoriatest.Expect(tested.stdout)
	if err != nil {
		t.Fatalf("test printed what is not line protocol: %v", err)
	}
	if len(want) < 2000 {
		t.Fatalf("only %d expected samples: the sample logs or rules changed", len(want))
	}

	runOnce(t, ".", "backfill", "-config", rules).exited(t, exitOK)
	samples := srv.Dump(t)
	if diff := cmp.Diff(want, samples, victoriatest.ApproxValues); diff != "" {
		t.Errorf("VictoriaMetrics export (-want +got):\n%s", firstLines(diff, 60))
	}
	if len(samples) == len(want) {
		inexact, worst := 0, 0.0
		for i, s := range samples {
			if s.Value != want[i].Value {
				inexact++
				worst = max(worst, math.Abs(s.Value-want[i].Value)/math.Abs(want[i].Value))
			}
		}
		t.Logf("%d samples, %d of them not the exact float64 sent, the worst %.2g away", len(want), inexact, worst)
	}
	got := victoriatest.Strings(samples)

	// A few samples worked out by hand from the first lines of
	// testdata/logs/nginx/access.log and testdata/logs/syslog/auth.log, and
	// the first record of the kafka sample (a WARN and its stack trace).
	// The two requests 1 ns apart in InfluxDB are two samples of one
	// series at one millisecond here; a string field is a series of zeros.
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	q := strconv.Quote
	nginx := `{host=` + q(host) + `,method="GET",service="shop",status="200"}`
	for _, s := range []string{
		`nginx_requests_bytes` + nginx + ` 111861 1760104537000`,
		`nginx_requests_bytes` + nginx + ` 38674 1760104537000`,
		`nginx_requests_request_time` + nginx + ` 19.799 1760104537000`,
		`ssh_logins_port{host="db01",method="password",result="Failed"} 52974 1767225480000`,
		`ssh_logins_user{host="db01",method="password",result="Failed"} 0 1767225480000`,
		`kafka_exceptions_reason{exception="java.io.IOException",host=` + q(host) + `,level="WARN",service="kafka"} 0 1482180680700`,
	} {
		if !slices.Contains(got, s) {
			t.Errorf("VictoriaMetrics lacks %s", s)
		}
	}
	for _, s := range got {
		if strings.Contains(s, `db="`) {
			t.Fatalf("a db label, which /api/v2/write should not add: %s", s)
		}
	}

	// InfluxDB overwrites a point written again; VictoriaMetrics stores
	// it again. A second backfill doubles every sample, as the README
	// warns.
	runOnce(t, ".", "backfill", "-config", rules).exited(t, exitOK)
	twice := victoriatest.Strings(srv.Dump(t))
	var wantTwice []string
	for _, s := range got {
		wantTwice = append(wantTwice, s, s)
	}
	if diff := cmp.Diff(wantTwice, twice); diff != "" {
		t.Errorf("after a second backfill (-every sample twice +got):\n%s", firstLines(diff, 40))
	}
}
