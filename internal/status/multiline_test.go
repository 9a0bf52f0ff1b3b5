package status

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/logmetrics/logmetrics/tailer"
)

// TestMultilineMetrics: a source with a multiline block shows its records
// and their cuts by reason, lint-clean; a source without one shows none.
func TestMultilineMetrics(t *testing.T) {
	f := newFake()
	f.tailer.Sources = append(f.tailer.Sources, tailer.SourceStats{Source: "java", Multiline: true,
		Counts: tailer.Counts{Lines: 40, Records: 12, CutMaxLines: 2, CutMaxBytes: 1, Timeouts: 3}})
	m := NewMetrics(f.stages())
	m.ObserveWrite("2xx", time.Millisecond)
	base := serve(t, f, m, nil)
	_, page, _ := get(t, base+"/metrics")
	got := series(t, page)
	for key, v := range map[string]float64{
		`logmetrics_source_multiline_records_total{source="java"}`:                12,
		`logmetrics_source_multiline_cut_total{reason="max_lines",source="java"}`: 2,
		`logmetrics_source_multiline_cut_total{reason="max_bytes",source="java"}`: 1,
		`logmetrics_source_multiline_cut_total{reason="timeout",source="java"}`:   3,
	} {
		if g, ok := got[key]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", key, g, ok, v)
		}
	}
	for key := range got {
		if strings.Contains(key, "multiline") && strings.Contains(key, `source="app"`) {
			t.Errorf("%s shown for a source without a multiline block", key)
		}
	}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(fams).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
