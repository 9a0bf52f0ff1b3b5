package main

import (
	"bufio"
	"fmt"

	"github.com/logmetrics/logmetrics/internal/dashboard"
)

// cmdDashboard prints the Grafana dashboard of a rules file: JSON to
// import or provision, or with -list its panels and queries as text.
func cmdDashboard(e *env, args []string) int {
	fs := flags(e, "dashboard")
	path := configFlag(fs)
	ds := fs.String("datasource", "", "the `NAME` of the InfluxDB data source the dashboard's variable selects at first (default: Grafana's default InfluxDB one)")
	list := fs.Bool("list", false, "print a line per panel instead of JSON: its row, title and InfluxQL query, separated by tabs")
	if code, done := parse(fs, args); done {
		return code
	}
	if !noArgs(e, fs, "") {
		return exitUsage
	}
	cfg := loadConfig(e, "dashboard", *path)
	if cfg == nil {
		return exitUsage
	}
	opts := dashboard.Options{Datasource: *ds, AgentTags: dashboard.TagKeys(cfg.Agent.Tags)}
	if *list {
		d, err := dashboard.New(cfg.Extract, opts)
		if err != nil {
			fmt.Fprintf(e.stderr, "logmetrics dashboard: bug: %v\n", err)
			return exitFailure
		}
		w := bufio.NewWriter(e.stdout)
		for _, p := range dashboard.List(d) {
			fmt.Fprintf(w, "%s\t%s\t%s\n", p.Row, p.Title, p.Query)
		}
		if err := w.Flush(); err != nil {
			fmt.Fprintf(e.stderr, "logmetrics dashboard: write: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	out, err := dashboard.JSON(cfg.Extract, opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "logmetrics dashboard: bug: %v\n", err)
		return exitFailure
	}
	if _, err := e.stdout.Write(out); err != nil {
		fmt.Fprintf(e.stderr, "logmetrics dashboard: write: %v\n", err)
		return exitFailure
	}
	return exitOK
}
