package dashboard

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Listed is one panel of a dashboard, for people and tests to read
// without Grafana.
type Listed struct {
	Row, Title, Query string
}

// List returns the panels of d in order, each with its row's title (""
// before the first row) and its first InfluxQL query ("" if it has none).
func List(d dashboard.Dashboard) []Listed {
	var out []Listed
	row := ""
	add := func(p dashboard.Panel) {
		l := Listed{Row: row}
		if p.Title != nil {
			l.Title = *p.Title
		}
		for _, t := range p.Targets {
			if q, ok := t.(InfluxQL); ok {
				l.Query = q.Query
				break
			}
		}
		out = append(out, l)
	}
	for _, p := range d.Panels {
		switch {
		case p.RowPanel != nil:
			row = ""
			if p.RowPanel.Title != nil {
				row = *p.RowPanel.Title
			}
			// A collapsed row holds its panels.
			for _, rp := range p.RowPanel.Panels {
				add(rp)
			}
		case p.Panel != nil:
			add(*p.Panel)
		}
	}
	return out
}
