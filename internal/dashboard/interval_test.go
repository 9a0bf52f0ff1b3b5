package dashboard_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/dashboard"
)

// grafanaInterval reads a panel's min interval as Grafana's describeInterval
// does (packages/grafana-data/src/datetime/rangeutil.ts): the first number
// and unit only, the number cut to an integer. So "1m30s" is 1m and "1.5s"
// is 1s there.
func grafanaInterval(t *testing.T, s string) time.Duration {
	t.Helper()
	m := regexp.MustCompile(`^(-?\d+(?:\.\d+)?)(ms|[Mwdhmsy])`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("Grafana rejects interval %q", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
		"d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "M": 30 * 24 * time.Hour, "y": 365 * 24 * time.Hour}[m[2]]
	return time.Duration(int64(n)) * unit
}

// TestMinIntervalIsTheWindow: an aggregate rule's panels have its window
// as min interval, written so that Grafana reads the whole window.
func TestMinIntervalIsTheWindow(t *testing.T) {
	for _, w := range []time.Duration{10 * time.Second, time.Minute, 90 * time.Second, 1500 * time.Millisecond,
		90 * time.Minute, 2 * time.Hour, 36 * time.Hour, 250 * time.Millisecond} {
		rule := extract.Rule{Name: "r", Fields: []extract.FieldSpec{{Key: "v", From: "v", Type: extract.TypeFloat}},
			Aggregate: &extract.Aggregate{Window: w, Stats: []string{"count", "sum", "max"}, Buckets: []float64{1}}}
		d, err := dashboard.New(extract.Config{Sources: []extract.Source{{Name: "s", Rules: []extract.Rule{rule}}}}, dashboard.Options{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range d.Panels {
			if p.Panel == nil || p.Panel.Interval == nil {
				continue
			}
			n++
			if got := grafanaInterval(t, *p.Panel.Interval); got != w {
				t.Errorf("window %v: panel %q has min interval %q, which Grafana reads as %v", w, *p.Panel.Title, *p.Panel.Interval, got)
			}
		}
		if n != 4 {
			t.Errorf("window %v: %d panels with a min interval, want 4", w, n)
		}
	}
}
