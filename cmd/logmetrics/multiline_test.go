package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/influxtest"
	"github.com/logmetrics/logmetrics/tailer"
)

// multilineSamples is the rules file of the multiline samples.
const multilineSamples = "../../testdata/multiline/samples.hcl"

// TestRunMultilineSamplesToInfluxDB runs the agent on the real multiline
// samples (testdata/multiline/samples.hcl) against a real InfluxDB: the
// database must hold exactly the points `logmetrics test` computes from
// the same files (joined by the same joiner), the records per level, and
// points read from multi-line records checked by hand. The last record
// of each file is passed on by its timeout.
func TestRunMultilineSamplesToInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "logs")
	t.Setenv("INFLUX_URL", srv.URL())
	t.Setenv("INFLUX_BUCKET", "logs/autogen")
	t.Setenv("LOGMETRICS_STATE_DIR", t.TempDir())

	cfg, _, diags := config.Load(multilineSamples)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", multilineSamples, diags)
	}
	cfg.InfluxDB.Sink.FlushInterval = 50 * time.Millisecond
	want := expectedDump(t, cfg)

	perLevel := map[string]int{}
	for _, p := range want {
		if m, _, _ := strings.Cut(p, " "); strings.Contains(m, "_events,") || strings.HasPrefix(m, "wpt_lines,") || strings.HasPrefix(m, "laravel_errors,") {
			perLevel[m]++
		}
	}
	wantLevels := map[string]int{
		"kafka_controller_events,level=DEBUG": 428, "kafka_controller_events,level=INFO": 189,
		"kafka_controller_events,level=WARN": 137, "kafka_controller_events,level=TRACE": 49,
		"kafka_server_events,level=INFO": 421, "kafka_server_events,level=ERROR": 3, "kafka_server_events,level=WARN": 2,
		"laravel_errors,level=ERROR": 82,
		"wpt_lines,level=INFO":       2374, "wpt_lines,level=WARNING": 17,
	}
	if diff := cmp.Diff(wantLevels, perLevel); diff != "" {
		t.Errorf("points per level of the dry run (-want +got):\n%s", diff)
	}

	var st tailer.Stats
	offered := map[string]int64{}
	got := runUntilStored(t, cfg, srv, "logs", len(want), func(p *agentPipeline) {
		st = p.tl.Stats()
		// Extraction counts records where the tailer counts lines: each
		// record once by what the rules did with it.
		for _, s := range p.ex.Stats().Sources {
			offered[s.Source] = int64(s.Taken + s.Filtered + s.NotTaken + s.Replayed)
		}
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("InfluxDB contents (-want +got):\n%s", diff)
	}
	// Each file's last record waits for its next line until the timeout.
	records := map[string]int64{}
	for _, s := range st.Sources {
		records[s.Source] = s.Records
		if s.Timeouts != 1 || !s.Multiline {
			t.Errorf("source %s: %+v, want its last record passed on by its timeout", s.Source, s)
		}
	}
	wantRecords := map[string]int64{"kafka_controller": 803, "kafka_server": 426, "laravel": 82, "mysql_slow": 6, "wpt": 2391}
	if diff := cmp.Diff(wantRecords, records); diff != "" {
		t.Errorf("records per source (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(records, offered); diff != "" {
		t.Errorf("records passed on (-) and offered to the rules (+):\n%s", diff)
	}
	// By hand, from the files: the first slow query; the exception of a
	// Kafka WARN record, read from its second line; the last frame of the
	// last Python traceback (its 5th; the traceback before it, in the same
	// millisecond and series, took the millisecond's first nanosecond).
	for _, p := range []string{
		`mysql_slow_queries,schema=owncloud,user=owncloud lock_time=0.011542,query_time=0.011853,rows_examined=268i,rows_sent=268i 1611704757678222000`,
		`kafka_server_exceptions,exception=java.io.IOException,level=WARN reason="Connection to 0 was disconnected before the response was read" 1482180680700000000`,
		`wpt_tracebacks,level=WARNING file="/builds/worker/workspace/build/tests/web-platform/tests/tools/wptrunner/wptrunner/executors/base.py",line=769i 1739491515224000001`,
	} {
		if !slices.Contains(got, p) {
			t.Errorf("InfluxDB lacks %s", p)
		}
	}
}

// TestBackfillMultilineSamples: backfill joins the samples' records as run
// and test do, and says so per source.
func TestBackfillMultilineSamples(t *testing.T) {
	t.Setenv("LOGMETRICS_STATE_DIR", t.TempDir())
	f := runOnce(t, "../../testdata/multiline", "backfill", "-config", "samples.hcl", "-n")
	f.exited(t, exitOK)
	for _, want := range []string{
		"\n3718 points would be written (dry run, -n), 0 dead-lettered, 0 dropped; 3708 lines in ",
		"\nkafka_controller: multiline: 1032 lines joined into 803 records; 0 cut at max_lines, 0 cut at max_line_bytes\n",
		"\nkafka_server: multiline: 456 lines joined into 426 records; 0 cut at max_lines, 0 cut at max_line_bytes\n",
		"\nlaravel: multiline: 1416 lines joined into 82 records; 0 cut at max_lines, 0 cut at max_line_bytes\n",
		"\nmysql_slow: multiline: 43 lines joined into 6 records; 0 cut at max_lines, 0 cut at max_line_bytes\n",
		"\nwpt: multiline: 2455 lines joined into 2391 records; 0 cut at max_lines, 0 cut at max_line_bytes\n",
	} {
		if !strings.Contains(f.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, f.stderr)
		}
	}
}
