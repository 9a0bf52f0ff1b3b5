package dashboard_test

import (
	"os"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestProvisioningExample reads deploy/grafana/provisioning as Grafana's
// provisioning does (apiVersion 1; datasources, providers; the keys its
// documentation gives) and checks that the two files fit the golden
// dashboard: the data source is the one its variable selects (by name and
// uid), an InfluxQL InfluxDB with a database, and the provider reads the
// folder the README tells users to generate the dashboard into.
func TestProvisioningExample(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			JSONData                     map[string]any `yaml:"jsonData"`
		}
	}
	readYAML(t, "../../deploy/grafana/provisioning/datasources/logmetrics.yaml", &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
		t.Fatalf("datasources file: apiVersion %d, %d data sources; want 1 and 1", ds.APIVersion, len(ds.Datasources))
	}
	d := ds.Datasources[0]
	if d.Name != goldenDatasource || d.UID != goldenDatasource {
		t.Errorf("data source name %q, uid %q; the golden dashboard selects %q", d.Name, d.UID, goldenDatasource)
	}
	if d.Type != "influxdb" || d.Access != "proxy" || d.URL == "" {
		t.Errorf("data source type %q, access %q, url %q; want influxdb, proxy and a url", d.Type, d.Access, d.URL)
	}
	if db, _ := d.JSONData["dbName"].(string); db == "" {
		t.Errorf("jsonData.dbName = %v, want the database", d.JSONData["dbName"])
	}
	if v, ok := d.JSONData["version"]; ok && v != "InfluxQL" {
		t.Errorf("jsonData.version = %v: the dashboard's queries are InfluxQL", v)
	}

	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Folder, Type string
			Options            struct{ Path string }
		}
	}
	readYAML(t, "../../deploy/grafana/provisioning/dashboards/logmetrics.yaml", &dash)
	if dash.APIVersion != 1 || len(dash.Providers) != 1 {
		t.Fatalf("dashboards file: apiVersion %d, %d providers; want 1 and 1", dash.APIVersion, len(dash.Providers))
	}
	p := dash.Providers[0]
	if p.Type != "file" || p.Name == "" || p.Options.Path != "/var/lib/grafana/dashboards/logmetrics" {
		t.Errorf("provider %+v: want a named file provider of /var/lib/grafana/dashboards/logmetrics", p)
	}
}

// readYAML decodes the file at path into v; keys v has no place for are
// ignored, as they are checked only where the test needs them.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
