package status

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// TestMetricsAfterRuleEdit: the most common reload edits a rule's fields
// under the same name. The Extractor keeps the retired rule's counts, and
// /metrics and the self-metrics must still gather (Prometheus refuses two
// series of one name and labels) and show one rule whose counts sum both.
func TestMetricsAfterRuleEdit(t *testing.T) {
	r1 := extract.Rule{Name: "r", Mode: extract.Logfmt, Fields: []extract.FieldSpec{{Key: "n", From: "n", Type: extract.TypeInt}}}
	r2 := r1
	r2.Fields = []extract.FieldSpec{{Key: "n", From: "n", Type: extract.TypeFloat}}
	confs := []extract.Config{
		{Sources: []extract.Source{{Name: "app", Rules: []extract.Rule{r1}}}},
		{Sources: []extract.Source{{Name: "app", Rules: []extract.Rule{r2}}}},
	}
	ex, err := extract.Compile(confs[0])
	if err != nil {
		t.Fatal(err)
	}
	ex.SetFeed(extract.FeedFollowed)
	next, err := extract.Compile(confs[1])
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan pipeline.Line, 16)
	out := make(chan pipeline.Record, 16)
	go func() {
		defer close(in)
		for i := range 10 {
			if i == 5 {
				in <- pipeline.Line{Rules: next}
			}
			in <- pipeline.Line{Origin: pipeline.Origin{Path: "app.log", Offset: int64(i + 1), File: pipeline.FileID{Ino: 1}},
				Source: "app", Text: fmt.Sprintf("n=%d", i), ReadAt: time.Unix(1_700_000_000, 0)}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- ex.Run(context.Background(), in, out) }()
	for range out {
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f := newFake()
	st := f.stages()
	st.Extract = ex.Stats
	m := NewMetrics(st)
	if _, err := m.Registry().Gather(); err != nil {
		t.Errorf("/metrics after a reload that edited rule r: Gather: %v", err)
	}
	if _, err := m.Points(time.Now(), nil); err != nil {
		t.Errorf("self-metrics after the reload: Points fails, so WriteEvery writes nothing: %v", err)
	}
	page := func() string {
		url := serve(t, f, m, nil)
		_, body, _ := get(t, url+"/metrics")
		return body
	}()
	const want = `logmetrics_rule_lines_total{result="taken",rule="r",source="app"} 10`
	if !strings.Contains(page, want+"\n") {
		t.Errorf("/metrics lacks %s (5 lines before the reload, 5 after):\n%s", want, page)
	}
}
