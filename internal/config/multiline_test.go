package config

import (
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/tailer"
)

// TestMultilineBlock: the block's values reach the tailer's Source, its
// defaults fill what it leaves out, and a multi-line example of a
// multiline source runs as one record.
func TestMultilineBlock(t *testing.T) {
	cfg, _, diags := Load("testdata/good/multiline.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	m := cfg.Tailer.Sources[0].Multiline
	if m == nil || m.Start == nil || m.Continue != nil || m.Start.String() != `^\d{4}-\d\d-\d\d ` || m.MaxLines != 200 || m.Timeout != 500*time.Millisecond {
		t.Fatalf("multiline %+v", m)
	}
	passed, failed := RunExamples(cfg, time.Now())
	if passed != 1 || len(failed) != 0 {
		t.Fatalf("examples: %d passed, failed %v", passed, failed)
	}

	src := []byte(`
influxdb {
  url    = "http://127.0.0.1:8086"
  bucket = "logs"
}
source "py" {
  paths = ["/var/log/py.log"]
  multiline {
    continue = "^\\s"
  }
  rule "r" {
    regex  = "(?P<n>\\d+)"
    fields = { n = "int" }
  }
}
`)
	cfg, _, diags = LoadBytes("defaults.hcl", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	m = cfg.Tailer.Sources[0].Multiline
	if m == nil || m.Continue == nil || m.MaxLines != tailer.DefaultMultilineMaxLines || m.Timeout != tailer.DefaultMultilineTimeout {
		t.Fatalf("multiline %+v, want the defaults", m)
	}
}
