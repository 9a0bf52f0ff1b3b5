package dashboard_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/dashboard"
	"github.com/logmetrics/logmetrics/internal/status"
)

var update = flag.Bool("update", false, "rewrite the golden dashboard")

// golden is the dashboard of rules.hcl.example, which is also the one the
// provisioning example loads.
const (
	golden           = "../../deploy/grafana/dashboards/logmetrics.json"
	goldenDatasource = "logmetrics" // the name in deploy/grafana/provisioning/datasources
)

// loadExample reads rules.hcl.example into its rules and the dashboard
// options of its agent tags, with datasource ds.
func loadExample(t *testing.T, ds string) (extract.Config, dashboard.Options) {
	t.Helper()
	cfg, _, diags := config.Load("../../rules.hcl.example")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return cfg.Extract, dashboard.Options{Datasource: ds, AgentTags: dashboard.TagKeys(cfg.Agent.Tags)}
}

// TestGolden compares the dashboard of rules.hcl.example with the golden
// file; `go test ./internal/dashboard -update` rewrites it: review that
// diff like code.
func TestGolden(t *testing.T) {
	got, err := dashboard.JSON(loadExample(t, goldenDatasource))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("dashboard of rules.hcl.example differs from %s (-want +got); go test -update rewrites it:\n%s", filepath.Base(golden), d)
	}
}

// panelJSON is what the structure checks read of a panel.
type panelJSON struct {
	Type        string `json:"type"`
	ID          int    `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  struct {
		Type, UID string
	} `json:"datasource"`
	Targets []struct {
		Query        string `json:"query"`
		RawQuery     bool   `json:"rawQuery"`
		ResultFormat string `json:"resultFormat"`
		Datasource   struct {
			Type, UID string
		} `json:"datasource"`
	} `json:"targets"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
}

type dashboardJSON struct {
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	SchemaVersion int         `json:"schemaVersion"`
	Panels        []panelJSON `json:"panels"`
	Templating    struct {
		List []struct {
			Type, Name, Query string
			Current           struct{ Text, Value string }
		} `json:"list"`
	} `json:"templating"`
}

// TestShape reads the JSON back as Grafana would and checks what the
// dashboard promises: the datasource variable, a row per source then the
// agent row, a rate panel per rule, a panel per numeric field, a heatmap
// per histogram, every panel on the variable's data source with one raw
// InfluxQL query, ids unique and panels not overlapping.
func TestShape(t *testing.T) {
	cfg, opts := loadExample(t, "Influx prod")
	out, err := dashboard.JSON(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboardJSON
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	if d.SchemaVersion != 39 || d.UID == "" || d.Title == "" {
		t.Errorf("schemaVersion %d uid %q title %q, want 39 and both set", d.SchemaVersion, d.UID, d.Title)
	}
	if len(d.Templating.List) != 1 {
		t.Fatalf("variables: %+v, want the datasource one", d.Templating.List)
	}
	v := d.Templating.List[0]
	if v.Type != "datasource" || v.Name != "datasource" || v.Query != "influxdb" || v.Current.Value != "Influx prod" || v.Current.Text != "Influx prod" {
		t.Errorf("variable %+v, want type datasource, name datasource, query influxdb, current Influx prod", v)
	}

	var rows []string
	byRow := map[string][]panelJSON{}
	ids := map[int]bool{}
	type cell struct{ x, y int }
	used := map[cell]string{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		for x := p.GridPos.X; x < p.GridPos.X+p.GridPos.W; x++ {
			for y := p.GridPos.Y; y < p.GridPos.Y+p.GridPos.H; y++ {
				if o, ok := used[cell{x, y}]; ok {
					t.Errorf("panels %q and %q overlap at %d,%d", o, p.Title, x, y)
				}
				used[cell{x, y}] = p.Title
			}
		}
		if p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q: gridPos %+v off the 24 columns or empty", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			rows = append(rows, p.Title)
			continue
		}
		if len(rows) == 0 {
			t.Fatalf("panel %q before the first row", p.Title)
		}
		byRow[rows[len(rows)-1]] = append(byRow[rows[len(rows)-1]], p)
		if p.Datasource.Type != "influxdb" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want the variable", p.Title, p.Datasource)
		}
		if len(p.Targets) != 1 {
			t.Errorf("panel %q: %d targets, want 1", p.Title, len(p.Targets))
			continue
		}
		q := p.Targets[0]
		if !q.RawQuery || q.ResultFormat != "time_series" || q.Datasource.UID != "${datasource}" ||
			!strings.HasPrefix(q.Query, "SELECT ") || !strings.Contains(q.Query, "WHERE $timeFilter GROUP BY time($__interval)") {
			t.Errorf("panel %q: target %+v, want a raw InfluxQL time series query over $timeFilter by $__interval", p.Title, q)
		}
		if p.Description == "" {
			t.Errorf("panel %q has no description", p.Title)
		}
	}

	var wantRows []string
	for _, s := range cfg.Sources {
		wantRows = append(wantRows, "source "+s.Name)
	}
	wantRows = append(wantRows, "agent")
	if d := cmp.Diff(wantRows, rows); d != "" {
		t.Errorf("rows (-want +got):\n%s", d)
	}

	for _, s := range cfg.Sources {
		panels := byRow["source "+s.Name]
		for _, r := range s.Rules {
			var titles []string
			for _, p := range panels {
				if strings.HasPrefix(p.Title, r.Name+": ") {
					titles = append(titles, strings.TrimPrefix(p.Title, r.Name+": "))
					if !strings.HasPrefix(p.Description, fmt.Sprintf("Rule %s of source %s, measurement %s:", r.Name, s.Name, r.Measurement)) {
						t.Errorf("panel %q: description %q does not say which rule it shows", p.Title, p.Description)
					}
					if !strings.Contains(p.Targets[0].Query, `FROM "`+r.Measurement+`"`) {
						t.Errorf("panel %q: query %q does not read measurement %s", p.Title, p.Targets[0].Query, r.Measurement)
					}
				}
			}
			want := []string{"lines/s"}
			for _, f := range r.Fields {
				if f.Type == extract.TypeString || f.Type == extract.TypeBool {
					continue
				}
				switch {
				case r.Aggregate == nil:
					want = append(want, f.Key)
				default:
					// rules.hcl.example's aggregate lists max and
					// percentiles, sum, and buckets.
					want = append(want, f.Key+" max, p50, p99", f.Key+" per second", f.Key+" histogram")
				}
			}
			if d := cmp.Diff(want, titles); d != "" {
				t.Errorf("rule %s: panels (-want +got):\n%s", r.Name, d)
			}
			for _, p := range panels {
				if strings.HasSuffix(p.Title, " histogram") != (p.Type == "heatmap") {
					t.Errorf("panel %q is a %s", p.Title, p.Type)
				}
			}
		}
	}

	agent := byRow["agent"]
	if len(agent) < 5 {
		t.Errorf("agent row has %d panels, want lines read, points written, pending, dropped, write errors, lag...", len(agent))
	}
	var agentFields []string
	for _, p := range agent {
		if !strings.Contains(p.Targets[0].Query, `FROM "`+status.Measurement+`"`) {
			t.Errorf("agent panel %q reads %q, not %s", p.Title, p.Targets[0].Query, status.Measurement)
		}
		agentFields = append(agentFields, p.Targets[0].Query)
	}
	all := strings.Join(agentFields, "\n")
	for _, f := range []string{"source_lines_read_total", "points_written_total", "points_pending", "points_dropped_total", "write_errors_total", "file_lag_seconds"} {
		if !strings.Contains(all, `"`+f+`"`) {
			t.Errorf("no agent panel shows %s", f)
		}
	}
}

// TestDatasourceDefault: without a name, the variable has no current
// value, so Grafana takes its default InfluxDB data source.
func TestDatasourceDefault(t *testing.T) {
	d, err := dashboard.New(extract.Config{}, dashboard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := d.Templating.List[0]
	if v.Current != nil {
		t.Errorf("current = %+v, want none", v.Current)
	}
	var rows []string
	for _, l := range dashboard.List(d) {
		rows = append(rows, l.Row)
	}
	if rows = slices.Compact(rows); len(rows) != 1 || rows[0] != "agent" {
		t.Errorf("rows of an empty config: %q, want the agent row alone", rows)
	}
}
