package dashboard_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/dashboard"
)

// shown is what TestShapes compares of a panel.
type shown struct {
	Title, Query, Alias, Unit, Interval string
}

// TestShapes: the panels of rule shapes rules.hcl.example lacks.
func TestShapes(t *testing.T) {
	f := func(key string, typ extract.Type) extract.FieldSpec {
		return extract.FieldSpec{Key: key, From: key, Type: typ}
	}
	cases := []struct {
		name  string
		rules []extract.Rule
		want  []shown
	}{
		{
			name: "no tags, a string field only: the rate alone, named by the rule",
			rules: []extract.Rule{{Name: "logins", Measurement: "logins",
				Fields: []extract.FieldSpec{f("user", extract.TypeString)}}},
			want: []shown{{"logins: lines/s", `SELECT count("user") * 1000 / $__interval_ms FROM "logins" WHERE $timeFilter GROUP BY time($__interval) fill(0)`, "logins", "suffix: lines/s", ""}},
		},
		{
			name: "a shared measurement: each rule counts a field of its own",
			rules: []extract.Rule{
				{Name: "one", Measurement: "m", Fields: []extract.FieldSpec{f("shared", extract.TypeString), f("own1", extract.TypeInt)}},
				{Name: "two", Measurement: "m", Fields: []extract.FieldSpec{f("shared", extract.TypeString), f("took", extract.TypeDuration)}},
			},
			want: []shown{
				{"one: lines/s", `SELECT count("own1") * 1000 / $__interval_ms FROM "m" WHERE $timeFilter GROUP BY time($__interval) fill(0)`, "one", "suffix: lines/s", ""},
				{"one: own1", `SELECT mean("own1") FROM "m" WHERE $timeFilter GROUP BY time($__interval)`, "one", "short", ""},
				{"two: lines/s", `SELECT count("took") * 1000 / $__interval_ms FROM "m" WHERE $timeFilter GROUP BY time($__interval) fill(0)`, "two", "suffix: lines/s", ""},
				{"two: took", `SELECT mean("took") FROM "m" WHERE $timeFilter GROUP BY time($__interval)`, "two", "s", ""},
			},
		},
		{
			name: "an aggregate of counts only: the rate from count, by the window",
			rules: []extract.Rule{{Name: "hits", Measurement: "hits", Tags: []extract.TagSpec{{Key: "code", From: "code"}},
				Fields:    []extract.FieldSpec{f("resp_bytes", extract.TypeInt)},
				Aggregate: &extract.Aggregate{Window: time.Minute, Stats: []string{"count"}}}},
			want: []shown{{"hits: lines/s", `SELECT sum("count") * 1000 / $__interval_ms FROM "hits" WHERE $timeFilter GROUP BY time($__interval), "code" fill(0)`, "code=$tag_code", "suffix: lines/s", "1m"}},
		},
		{
			name: "min, mean and a fractional percentile in one panel; a histogram of one bucket",
			rules: []extract.Rule{{Name: "rt", Measurement: "rt",
				Fields:    []extract.FieldSpec{f("latency", extract.TypeFloat), f("ok", extract.TypeBool)},
				Aggregate: &extract.Aggregate{Window: 5 * time.Second, Stats: []string{"min", "mean", "p99.9"}, Buckets: []float64{0.25}}}},
			want: []shown{
				{"rt: lines/s", `SELECT sum("count") * 1000 / $__interval_ms FROM "rt" WHERE $timeFilter GROUP BY time($__interval) fill(0)`, "rt", "suffix: lines/s", "5s"},
				{"rt: latency min, mean, p99.9", `SELECT min("latency_min") AS "min", mean("latency_mean") AS "mean", max("latency_p99_9") AS "p99.9" FROM "rt" WHERE $timeFilter GROUP BY time($__interval)`, "$col", "s", "5s"},
				{"rt: latency histogram", `SELECT sum("latency_bucket_le_0.25") AS "0.25", sum("latency_bucket_le_inf") - sum("latency_bucket_le_0.25") AS "+Inf" FROM "rt" WHERE $timeFilter GROUP BY time($__interval) fill(0)`, "$col", "s", "5s"},
			},
		},
		{
			name: "identifiers with quotes and backslashes are escaped",
			rules: []extract.Rule{{Name: `we"ird`, Measurement: `a\b"c`,
				Fields: []extract.FieldSpec{f(`x"y`, extract.TypeUint)}}},
			want: []shown{
				{`we"ird: lines/s`, `SELECT count("x\"y") * 1000 / $__interval_ms FROM "a\\b\"c" WHERE $timeFilter GROUP BY time($__interval) fill(0)`, `we"ird`, "suffix: lines/s", ""},
				{`we"ird: x"y`, `SELECT mean("x\"y") FROM "a\\b\"c" WHERE $timeFilter GROUP BY time($__interval)`, `we"ird`, "short", ""},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := dashboard.New(extract.Config{Sources: []extract.Source{{Name: "s", Rules: tc.rules}}}, dashboard.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []shown
			for _, p := range d.Panels {
				if p.Panel == nil || strings.HasPrefix(*p.Panel.Title, "agent: ") {
					continue
				}
				q := p.Panel.Targets[0].(dashboard.InfluxQL)
				s := shown{Title: *p.Panel.Title, Query: q.Query, Alias: q.Alias}
				if p.Panel.FieldConfig != nil && p.Panel.FieldConfig.Defaults.Unit != nil {
					s.Unit = *p.Panel.FieldConfig.Defaults.Unit
				}
				if p.Panel.Type == "heatmap" {
					s.Unit = heatmapUnit(t, p.Panel.Options)
				}
				if p.Panel.Interval != nil {
					s.Interval = *p.Panel.Interval
				}
				got = append(got, s)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("panels (-want +got):\n%s", d)
			}
		})
	}
}

// heatmapUnit is the y axis unit of a heatmap panel's options.
func heatmapUnit(t *testing.T, options any) string {
	t.Helper()
	o, ok := options.(*heatmap.Options)
	if !ok || o.YAxis.Unit == nil {
		t.Fatalf("heatmap options %#v without a y axis unit", options)
	}
	return *o.YAxis.Unit
}
