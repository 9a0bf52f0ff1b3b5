package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// TestRunOverTLS runs the agent against InfluxDB serving HTTPS on
// loopback with a certificate from a test CA: with the CA as ca_file the
// points arrive, read back exactly; without it (the system's roots) no
// point is written and the log says why, never acknowledging a line.
func TestRunOverTLS(t *testing.T) {
	t.Parallel()
	srv := influxtest.StartTLS(t)
	srv.CreateDatabase(t, "tls")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.log"),
		"time=2025-10-10T13:55:36Z n=1\ntime=2025-10-10T13:55:37Z n=2\ntime=2025-10-10T13:55:38Z n=3\n")
	rules := func(name, tls string) string {
		path := filepath.Join(dir, name+".hcl")
		writeFile(t, path, fmt.Sprintf(`agent {
  state_dir = "state-%s"
  listen    = ""
}
influxdb {
  url            = %q
  bucket         = "tls/autogen"
  flush_interval = "50ms"
  %s
}
source "app" {
  paths    = ["app.log"]
  start_at = "beginning"
  rule "%s" {
    logfmt = true
    time {
      from   = "time"
      layout = "rfc3339"
    }
    fields = { n = "int" }
  }
}
`, name, srv.URL(), tls, name))
		return path
	}

	t.Run("untrusted", func(t *testing.T) {
		a := startAgent(t, dir, "run", "-config", rules("untrusted", ""))
		a.waitStderr("certificate signed by unknown authority")
		stopAtOnce(a)
		if got := srv.Query(t, "tls", "SELECT count(n) FROM untrusted"); len(got) != 0 {
			t.Errorf("points written without a trusted certificate: %v", got)
		}
	})
	t.Run("ca_file", func(t *testing.T) {
		a := startAgent(t, dir, "run", "-config", rules("trusted", "tls {\n    ca_file = \""+srv.CAFile()+"\"\n  }"))
		want := []string{"trusted n=1i 1760104536000000000", "trusted n=2i 1760104537000000000", "trusted n=3i 1760104538000000000"}
		var got []string
		for deadline := time.Now().Add(15 * time.Second); len(got) < len(want) && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			got = slices.DeleteFunc(srv.Dump(t, "tls"), func(l string) bool { return !strings.HasPrefix(l, "trusted ") })
		}
		if _, err := a.stop(os.Interrupt); err != nil {
			t.Errorf("run: %v\n%s", err, a.logged())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("InfluxDB over TLS (-want +got):\n%s\nlog:\n%s", diff, a.logged())
		}
	})
}
