package dashboard_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/dashboard"
	"github.com/logmetrics/logmetrics/internal/influxtest"
	"github.com/logmetrics/logmetrics/internal/status"
)

// TestAgentPanelsTellAgentsApart: two agents whose tags are node = a and
// node = b (no host tag) write their self-metrics to one database; the
// agent row's rate of lines read shows each agent's own rate, run by the
// real InfluxDB. Grouped by anything but the agents' tags, the two
// counters fold into one series whose max is the bigger agent's.
func TestAgentPanelsTellAgentsApart(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "logs"
	srv.CreateDatabase(t, db)
	// Every 10s for 5 minutes: agent a reads 1 line/s, agent b 100.
	var lp strings.Builder
	for i := range 31 {
		for node, rate := range map[string]int{"a": 1, "b": 100} {
			fmt.Fprintf(&lp, "%s,dc=x,node=%s,source=s source_lines_read_total=%d %d\n", status.Measurement, node, i*10*rate, int64(i)*10e9)
		}
	}
	srv.Write(t, db, lp.String())

	d, err := dashboard.New(extract.Config{Sources: []extract.Source{{Name: "s", Rules: []extract.Rule{{Name: "r",
		Fields: []extract.FieldSpec{{Key: "v", From: "v", Type: extract.TypeFloat}}}}}}},
		dashboard.Options{AgentTags: []string{"node", "dc"}})
	if err != nil {
		t.Fatal(err)
	}
	var q string
	for _, p := range dashboard.List(d) {
		if p.Title == "agent: lines read/s" {
			q = p.Query
		}
	}
	q = strings.NewReplacer(dashboard.TimeFilter, "time >= 0 and time < 400s", dashboard.Interval, "30s").Replace(q)
	got := map[string]float64{}
	for _, s := range srv.Query(t, db, q) {
		for _, row := range s.Values {
			if row[1] == nil {
				continue
			}
			v, err := row[1].(json.Number).Float64()
			if err != nil {
				t.Fatal(err)
			}
			got[s.Tags["node"]] = max(got[s.Tags["node"]], v)
		}
	}
	if want := map[string]float64{"a": 1, "b": 100}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lines read/s by node: %v, want %v, from\n%s", got, want, q)
	}
}
