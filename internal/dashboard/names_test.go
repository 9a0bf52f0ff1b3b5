package dashboard_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/dashboard"
	"github.com/logmetrics/logmetrics/internal/influxtest"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
)

// TestOddNamesOnInfluxDB: measurements, tag keys and field keys with
// quotes, backslashes, spaces, commas, dots, = and non-ASCII letters are
// quoted so that InfluxDB 1.8 runs every panel's query and finds the
// points of the rule's measurement: per-line and aggregate rules, with
// stats and a histogram.
func TestOddNamesOnInfluxDB(t *testing.T) {
	odd := []string{`we"ird`, `back\slash`, `sp ace`, `com,ma`, `dot.ted`, `eq=ual`, `ünï`, `tab\t`}
	srv := influxtest.Start(t)
	const db = "logs"
	srv.CreateDatabase(t, db)
	var rules []extract.Rule
	var lp []byte
	at := time.Unix(1_700_000_000, 0)
	for i, name := range odd {
		tag, field := "t "+name, "f "+name
		base := extract.Rule{Name: fmt.Sprintf("line%d", i), Measurement: "m " + name,
			Tags:   []extract.TagSpec{{Key: tag, From: "x"}},
			Fields: []extract.FieldSpec{{Key: field, From: "y", Type: extract.TypeFloat}}}
		agg := base
		agg.Name, agg.Measurement = fmt.Sprintf("agg%d", i), "a "+name
		agg.Aggregate = &extract.Aggregate{Window: 10 * time.Second, Stats: []string{"count", "sum", "min", "mean", "max", "p99.9"}, Buckets: []float64{0.5, 1e21}}
		rules = append(rules, base, agg)
		for j := range 3 {
			ts := at.Add(time.Duration(j) * 10 * time.Second).UnixNano()
			tags := []pipeline.Tag{{Key: tag, Value: "v " + name}}
			lp = sink.AppendPoint(lp, &pipeline.Point{Measurement: base.Measurement, Tags: tags, Time: ts,
				Fields: []pipeline.Field{{Key: field, Value: pipeline.FloatValue(float64(j + 1))}}})
			fields := []pipeline.Field{{Key: extract.CountKey, Value: pipeline.IntValue(2)}}
			for _, s := range agg.Aggregate.Stats[1:] {
				fields = append(fields, pipeline.Field{Key: extract.StatKey(field, s), Value: pipeline.FloatValue(float64(j + 1))})
			}
			for _, b := range []float64{0.5, 1e21} {
				fields = append(fields, pipeline.Field{Key: extract.BucketKey(field, b), Value: pipeline.IntValue(int64(j))})
			}
			fields = append(fields, pipeline.Field{Key: extract.BucketKey(field, math.Inf(1)), Value: pipeline.IntValue(2)})
			lp = sink.AppendPoint(lp, &pipeline.Point{Measurement: agg.Measurement, Tags: tags, Time: ts, Fields: fields})
		}
	}
	srv.Write(t, db, string(lp))
	d, err := dashboard.New(extract.Config{Sources: []extract.Source{{Name: "s", Rules: rules}}}, dashboard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range dashboard.List(d) {
		if p.Query == "" || strings.HasPrefix(p.Title, "agent: ") {
			continue
		}
		n++
		q := strings.NewReplacer(dashboard.TimeFilter, fmt.Sprintf("time >= %ds and time < %ds", at.Unix(), at.Unix()+30),
			dashboard.IntervalMS, "10000", dashboard.Interval, "10s").Replace(p.Query)
		values := 0
		for _, s := range srv.Query(t, db, q) {
			for _, row := range s.Values {
				for _, v := range row[1:] {
					if v != nil {
						values++
					}
				}
			}
		}
		if values == 0 {
			t.Errorf("%s: no values from\n%s", p.Title, q)
		}
	}
	if want := len(odd) * (2 + 4); n != want {
		t.Errorf("%d panels of the rules, want %d", n, want)
	}
}
