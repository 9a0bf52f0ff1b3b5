package benchsuite_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/benchsuite"
	"github.com/logmetrics/logmetrics/internal/benchsuite/floors"
)

// TestInputs makes sure every whole-process benchmark of make bench measures
// the work it claims: on a small corpus, the floors, logmetrics test on the
// nginx, JSON and logfmt corpora and logmetrics backfill on the gzip copy each make one point per
// line, and all of them the same line protocol, byte for byte.
func TestInputs(t *testing.T) {
	const n = 1000
	dir := t.TempDir()
	c, err := benchsuite.Generate(dir, n)
	if err != nil {
		t.Fatal(err)
	}
	again, err := benchsuite.Generate(dir, n)
	if err != nil || again != c {
		t.Fatalf("a second Generate gave %+v, %v; want the cached %+v", again, err, c)
	}
	bin := filepath.Join(dir, "logmetrics")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/logmetrics/logmetrics/cmd/logmetrics").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	floor := func(name string, f func(r *os.File, w *bytes.Buffer) (int, error), file string) []byte {
		in, err := os.Open(c.Path(file))
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		var out bytes.Buffer
		points, err := f(in, &out)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if points != n {
			t.Errorf("%s made %d points of %d lines", name, points, n)
		}
		return out.Bytes()
	}
	logmetrics := func(args ...string) []byte {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("logmetrics %q: %v\n%s", args, err, stderr.Bytes())
		}
		return stdout.Bytes()
	}

	want := floor("regex floor", func(r *os.File, w *bytes.Buffer) (int, error) { return floors.Regex(r, w) }, benchsuite.NginxFile)
	if got := bytes.Count(want, []byte("\n")); got != n {
		t.Fatalf("the regex floor wrote %d lines of line protocol for %d log lines", got, n)
	}
	got := map[string][]byte{
		"fastjson floor": floor("fastjson floor", func(r *os.File, w *bytes.Buffer) (int, error) { return floors.FastJSON(r, w) }, benchsuite.JSONFile),
		"logfmt floor":   floor("logfmt floor", func(r *os.File, w *bytes.Buffer) (int, error) { return floors.Logfmt(r, w) }, benchsuite.LogfmtFile),
		"test nginx":     logmetrics("test", "-config", c.Path(benchsuite.NginxConfig), "-source", "nginx", c.Path(benchsuite.NginxFile)),
		"test json":      logmetrics("test", "-config", c.Path(benchsuite.JSONConfig), "-source", "json", c.Path(benchsuite.JSONFile)),
		"test logfmt":    logmetrics("test", "-config", c.Path(benchsuite.LogfmtConfig), "-source", "logfmt", c.Path(benchsuite.LogfmtFile)),
		"backfill gzip":  logmetrics("backfill", "-config", c.Path(benchsuite.NginxConfig), "-source", "nginx", c.Path(benchsuite.GzipFile)),
	}
	for name, lp := range got {
		if diff := cmp.Diff(string(want), string(lp)); diff != "" {
			t.Errorf("%s differs from the regex floor (-want +got):\n%s", name, diff)
		}
	}
}
