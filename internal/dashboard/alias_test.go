package dashboard_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/dashboard"
)

// grafanaLegend names a series as Grafana's InfluxQL backend does from a
// target's alias (pkg/tsdb/influxdb/influxql/util FormatFrameName): $m,
// $col, $<n> and $tag_<key> or [[...]] of the same, where a $ reference
// ends at the first character outside [@\w-], so that $tag_http.code
// looks up tag "http" and is left as it is.
func grafanaLegend(alias, measurement, column string, tags map[string]string) string {
	re := regexp.MustCompile(`\[\[([\@\/\w-]+)(\.[\@\/\w-]+)*\]\]*|\$([\@\w-]+?)*`)
	segments := strings.Split(measurement, ".")
	return re.ReplaceAllStringFunc(alias, func(in string) string {
		f := strings.Replace(strings.Replace(strings.Replace(in, "[[", "", 1), "]]", "", 1), "$", "", 1)
		switch {
		case f == "m" || f == "measurement":
			return measurement
		case f == "col":
			return column
		}
		if n, err := strconv.Atoi(f); err == nil && len(segments) > n {
			return segments[n]
		}
		if v, ok := tags[strings.TrimPrefix(f, "tag_")]; ok && strings.HasPrefix(f, "tag_") {
			return v
		}
		return in
	})
}

// TestAliasNamesEverySeries: whatever a rule's tag keys, the legend
// Grafana makes of a panel's alias holds every tag value of the series,
// or the alias is empty and Grafana's own name (measurement, column and
// every tag) names it.
func TestAliasNamesEverySeries(t *testing.T) {
	for _, key := range []string{"status", "http.code", "a-b", "a b", "ünï", "x/y", "a..b", "$col", "[[m]]"} {
		rule := extract.Rule{Name: "r", Measurement: "m",
			Tags:      []extract.TagSpec{{Key: "kind", From: "kind"}, {Key: key, From: "k"}},
			Fields:    []extract.FieldSpec{{Key: "v", From: "v", Type: extract.TypeFloat}},
			Aggregate: &extract.Aggregate{Window: 10, Stats: []string{"count", "max", "p99"}}}
		d, err := dashboard.New(extract.Config{Sources: []extract.Source{{Name: "s", Rules: []extract.Rule{rule}}}}, dashboard.Options{})
		if err != nil {
			t.Fatal(err)
		}
		tags := map[string]string{"kind": "V-kind", key: "V-key"}
		for _, p := range d.Panels {
			if p.Panel == nil || !strings.HasPrefix(*p.Panel.Title, "r: ") {
				continue
			}
			q := p.Panel.Targets[0].(dashboard.InfluxQL)
			if q.Alias == "" {
				continue
			}
			got := grafanaLegend(q.Alias, "m", "p99", tags)
			for k, v := range tags {
				if !strings.Contains(got, v) {
					t.Errorf("tag key %q: panel %q's alias %q makes the legend %q, without tag %s's value", key, *p.Panel.Title, q.Alias, got, k)
				}
			}
			if strings.Count(got, "V-") != len(tags) {
				t.Errorf("tag key %q: panel %q's alias %q makes the legend %q: %s", key, *p.Panel.Title, q.Alias, got, fmt.Sprint(tags))
			}
		}
	}
}
