package extract_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/influxtest"
	"github.com/logmetrics/logmetrics/internal/loggen"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
)

// itemPath is the path of one item, /api/items/N.
var itemPath = regexp.MustCompile(`^/api/items/[0-9]+$`)

// TestRewriteCollapsesSeriesInInfluxDB writes generated nginx lines to a
// real InfluxDB twice, the path as a tag as it is (raw) and rewritten
// (routed): every /api/items/N is one series in routed, routed has far
// fewer series than raw, and no point is lost to the collapse (points of
// one route in one second are told apart, not overwritten).
func TestRewriteCollapsesSeriesInInfluxDB(t *testing.T) {
	const rules = `
source "nginx" {
  paths = ["access.log"]
  rule "raw" {
    regex = "\"[A-Z]+ (?P<path>\\S+) [^\"]*\" \\d{3} \\S+ .* (?P<request_time>[\\d.]+)$"
    tags   = { route = "path" }
    fields = { request_time = "float" }
  }
  rule "routed" {
    regex = "\"[A-Z]+ (?P<path>\\S+) [^\"]*\" \\d{3} \\S+ .* (?P<request_time>[\\d.]+)$"
    tags   = { route = "path" }
    fields = { request_time = "float" }
    rewrite "path" {
      regex   = "\\?.*$"
      replace = ""
    }
    rewrite "path" {
      regex   = "/[0-9]+"
      replace = "/:id"
    }
  }
}
`
	cfg, _, diags := config.LoadBytes("rules.hcl", []byte(rules))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ex, err := extract.Compile(cfg.Extract)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := loggen.Nginx(&log, 3000, 1, time.Date(2025, 10, 10, 13, 55, 36, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	var lp []byte
	points := map[string]int{}
	items := map[string]bool{} // the /api/items/N paths of raw
	readAt := time.Date(2025, 10, 10, 14, 0, 0, 0, time.UTC)
	sc := bufio.NewScanner(&log)
	var rec pipeline.Record
	for sc.Scan() {
		ex.Extract(&pipeline.Line{Source: "nginx", Text: sc.Text(), ReadAt: readAt}, &rec)
		for i := range rec.Points {
			p := &rec.Points[i]
			points[p.Measurement]++
			if v := p.Tags[0].Value; p.Measurement == "raw" && itemPath.MatchString(v) {
				items[v] = true
			}
			lp = sink.AppendPoint(lp, p)
		}
	}
	if points["raw"] < 2500 || points["raw"] != points["routed"] || len(items) < 100 {
		t.Fatalf("the input is not what the test needs: %v points, %d /api/items paths", points, len(items))
	}

	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "logs")
	srv.Write(t, "logs", string(lp))

	series := func(q string) int {
		n := 0
		for _, s := range srv.Query(t, "logs", q) {
			n += len(s.Values)
		}
		return n
	}
	raw, routed := series("SHOW SERIES FROM raw"), series("SHOW SERIES FROM routed")
	rawItems := series(`SHOW SERIES FROM raw WHERE route =~ /^\/api\/items\/[0-9]+$/`)
	routedItems := series(`SHOW SERIES FROM routed WHERE route =~ /^\/api\/items\/[^\/]+$/`)
	t.Logf("series: raw %d (/api/items/N: %d), routed %d (/api/items/:id: %d)", raw, rawItems, routed, routedItems)
	if rawItems != len(items) || rawItems < 100 || routedItems != 1 {
		t.Errorf("/api/items/N series: raw %d, routed %d; want %d and 1", rawItems, routedItems, len(items))
	}
	if one := series(`SHOW SERIES FROM routed WHERE route = '/api/items/:id'`); one != 1 {
		t.Errorf("routed has %d series of /api/items/:id, want 1", one)
	}
	if routed*4 > raw {
		t.Errorf("routed has %d series, raw %d: the rewrites should fold most", routed, raw)
	}
	for _, m := range []string{"raw", "routed"} {
		got := srv.Query(t, "logs", "SELECT count(request_time) FROM "+m)
		if len(got) != 1 || len(got[0].Values) != 1 {
			t.Fatalf("count of %s: %+v", m, got)
		}
		n, err := got[0].Values[0][1].(json.Number).Int64()
		if err != nil || int(n) != points[m] {
			t.Errorf("InfluxDB holds %v points of %s, want %d (%v)", got[0].Values[0][1], m, points[m], err)
		}
	}
}
