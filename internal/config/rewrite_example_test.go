package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeRulesText(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.hcl")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReplaceInterpolationRefused: replace = "v${1}" is what Go's
// documentation of Expand writes, but in HCL ${1} is an interpolation of
// the number 1: replace would be the literal "v1" and every version would
// fold into it. Load refuses it and points to $${1}.
func TestReplaceInterpolationRefused(t *testing.T) {
	path := writeRulesText(t, `
source "app" {
  paths = ["/tmp/app.log"]
  rule "req" {
    regex  = "^(?P<path>\\S+) (?P<ms>\\d+)$"
    tags   = { api = "path" }
    fields = { ms = "int" }
    rewrite "path" {
      regex   = "^/v([0-9]+)/.*"
      replace = "v${1}"
    }
  }
}
`)
	cfg, _, diags := Load(path)
	if cfg != nil && !diags.HasErrors() {
		t.Fatalf("replace = \"v${1}\" loads as the literal %q, folding /v2/... and /v3/... into one tag value; want an error pointing to $${1}",
			cfg.Extract.Sources[0].Rules[0].Rewrites[0].Replace)
	}
	found := false
	for _, d := range diags {
		found = found || d.Summary == "Interpolation in a rewrite" && strings.Contains(d.Detail, "$${1}")
	}
	if !found {
		t.Errorf("no diagnostic points to $${1}: %v", diags)
	}
}

// TestAggregateExampleTimeOfDay: an aggregate rule's expect is stamped with
// the window's start; read at that time, a line of a layout without a date
// more than an hour into a 6h window was put on the day before, so the
// example could never pass. It is read at the window's end, as in run a
// line "05:00:00" read at 05:00 lands in the window of its day.
func TestAggregateExampleTimeOfDay(t *testing.T) {
	path := writeRulesText(t, `
source "app" {
  paths = ["/tmp/app.log"]
  rule "lat" {
    regex = "^(?P<time>\\S+) (?P<ms>\\d+)$"
    time {
      from   = "time"
      layout = "15:04:05"
    }
    fields = { ms = "int" }
    aggregate {
      window = "6h"
      stats  = ["count"]
    }
    example {
      line   = "05:00:00 7"
      expect = "lat count=1i 1760054400000000000" # 2025-10-10T00:00:00Z
    }
  }
}
`)
	cfg, _, diags := Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, failed := RunExamples(cfg, time.Now()); len(failed) > 0 {
		t.Errorf("example fails spuriously: %s", strings.ReplaceAll(failed[0].Detail, "\n", " | "))
	}
}
