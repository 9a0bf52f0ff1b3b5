package sink

import (
	"context"
	"slices"
	"testing"

	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/internal/victoriatest"
)

// victoriaDiffers are the escaping cases that VictoriaMetrics 1.79.5 does
// not store as its documented mapping of the line says (victoriatest.Expect),
// and why. It answers 204 to all of them: a line it cannot parse is logged,
// counted in its vm_rows_invalid_total{type="influx"} and skipped. The
// README's Engines section lists these.
var victoriaDiffers = map[string]string{
	"string keeps newline carriage return tab and control bytes raw":  "it splits lines at every newline, quoted or not: both halves are invalid and skipped",
	"field key escapes comma equals and space":                        `a " in a field key opens a quoted value: the value reads 0 and the time is lost (the server's clock instead)`,
	"field key backslash before comma space equals quote is replaced": `likewise, a " in a field key: not stored as the line says`,
	"tag value backslash before comma and equals reads back":          `\\ before , or = in a tag: the line is skipped`,
	"run of backslashes before a comma":                               `\\ before , in names: the line is skipped`,
	"backslash before ordinary characters is kept":                    `\\ in names reads as one backslash`,
	"numbers":                   "values are kept as decimals (lib/decimal): 5e-324 reads 0, the largest float64 loses its last digit, -0 reads 0",
	"uint 18446744073709551615": "kept as a decimal, the largest uint64 reads 1.8446744073709548e+19, not the nearest float64",
}

// TestVictoriaMetricsThroughSink writes every escaping case through the
// sink's InfluxDB destination (gzip, /api/v2/write with bucket and org)
// to a real VictoriaMetrics, each case in a request of its own, and reads
// the server back: each case holds exactly the samples of VictoriaMetrics'
// mapping of the line (a series per field, see victoriatest.Expect) but
// for the cases of victoriaDiffers, which must still differ, so that the
// list and the README stay true when the server changes.
func TestVictoriaMetricsThroughSink(t *testing.T) {
	srv := victoriatest.Start(t)
	d, err := NewInfluxDB(Config{URL: srv.URL(), Bucket: "logs", Org: "example"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	type testCase struct {
		name string
		p    pipeline.Point
	}
	cases := []testCase{{"uint 18446744073709551615", uintCase.p}}
	for _, tc := range encodeCases {
		cases = append(cases, testCase{tc.name, tc.p})
	}
	want := map[string][]string{}
	for _, tc := range cases {
		batch := AppendPoint(nil, &tc.p)
		if len(batch) == 0 {
			continue // nothing to write: NaN only
		}
		samples, err := victoriatest.Expect(batch)
		if err != nil {
			t.Fatalf("%s: %q: %v", tc.name, batch, err)
		}
		want[tc.name] = victoriatest.Strings(samples)
		if err := d.WriteBatch(context.Background(), batch); err != nil {
			t.Fatalf("%s: write %q: %v", tc.name, batch, err)
		}
	}
	got := victoriatest.Strings(srv.Dump(t))
	all := 0
	for _, tc := range cases {
		w, ok := want[tc.name]
		if !ok {
			continue
		}
		stored := true
		for _, s := range w {
			stored = stored && slices.Contains(got, s)
		}
		why, differs := victoriaDiffers[tc.name]
		switch {
		case !differs && !stored:
			t.Errorf("%s: VictoriaMetrics lacks some of %q", tc.name, w)
		case differs && stored:
			t.Errorf("%s: VictoriaMetrics now stores it as documented, which victoriaDiffers and the README deny: %s", tc.name, why)
		case !differs:
			all += len(w)
		}
	}
	if all < 25 {
		t.Errorf("only %d samples of cases VictoriaMetrics stores as documented: the cases changed", all)
	}
}
