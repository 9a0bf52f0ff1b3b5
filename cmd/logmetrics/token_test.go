package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// secretToken is distinctive, so that any output holding it is found.
const secretToken = "lm-token-3b7e1f0c"

// TestTokenNeverShown runs every command that reads the token with a
// distinctive one and looks for it in everything they print: check (a
// literal token in a file others may read, and a bad url holding it as a
// password), test, run against a server that answers 401 and echoes the
// request's headers, run against an address nothing listens on, in text
// and JSON logs, and backfill against the 401 server.
func TestTokenNeverShown(t *testing.T) {
	t.Parallel()
	echo401 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		// A careless proxy that quotes the request it refused.
		fmt.Fprintf(w, `{"code":"unauthorized","message":"authorization failed for %q"}`, r.Header.Get("Authorization"))
	}))
	defer echo401.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.log"), "time=2025-10-10T13:55:36Z n=1\ntime=2025-10-10T13:55:37Z n=2\n")
	rules := func(name, url, extra string) string {
		path := filepath.Join(dir, name+".hcl")
		writeFile(t, path, fmt.Sprintf(`agent {
  state_dir = "state-%s"
  listen    = ""
  %s
}
influxdb {
  url    = %q
  bucket = "db/rp"
  token  = %q
}
source "app" {
  paths    = ["app.log"]
  start_at = "beginning"
  rule "r" {
    logfmt = true
    time {
      from   = "time"
      layout = "rfc3339"
    }
    fields = { n = "int" }
  }
}
`, name, extra, url, secretToken))
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	check := func(what, out string) {
		t.Helper()
		if strings.Contains(out, secretToken) {
			t.Errorf("%s shows the token:\n%s", what, out)
		}
	}
	t.Run("check", func(t *testing.T) {
		a := startAgent(t, dir, "check", "-config", rules("check", echo401.URL, ""))
		_ = a.exit()
		check("check", a.logged())
		if !strings.Contains(a.logged(), "Token readable by other users") {
			t.Errorf("check does not warn about the literal token:\n%s", a.logged())
		}
	})
	t.Run("bad url", func(t *testing.T) {
		a := startAgent(t, dir, "check", "-config", rules("badurl", "http://user:"+secretToken+"@[::1", ""))
		if err := a.exit(); err == nil {
			t.Errorf("check accepted a bad url:\n%s", a.logged())
		}
		check("check of a bad url", a.logged())
	})
	t.Run("test", func(t *testing.T) {
		a := startAgent(t, dir, "test", "-config", rules("test", echo401.URL, ""), filepath.Join(dir, "app.log"))
		out := strings.Join(a.points(2), "\n")
		_ = a.exit()
		check("test", out+a.logged())
	})
	for _, tc := range []struct{ name, url, format, wait string }{
		{"run 401 text", echo401.URL, "text", "status=401"},
		{"run 401 json", echo401.URL, "json", `"status":401`},
		{"run unreachable", closed, "text", "connection refused"},
		{"run unreachable json", closed, "json", "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "-")
			a := startAgent(t, dir, "run", "-config", rules(name, tc.url, `log_format = "`+tc.format+`"`))
			a.waitStderr(tc.wait)
			stopAtOnce(a)
			check(tc.name, a.logged())
			if tc.url == echo401.URL && !strings.Contains(a.logged(), "REDACTED") {
				t.Errorf("the server's echo of the token was not logged, so redaction was not tried:\n%s", a.logged())
			}
			if tc.format == "json" && !strings.HasPrefix(a.logged(), "{") {
				t.Errorf("log_format json: stderr is not JSON lines:\n%s", a.logged())
			}
		})
	}
	t.Run("backfill 401", func(t *testing.T) {
		a := startAgent(t, dir, "backfill", "-config", rules("backfill", echo401.URL, ""), "-log-level", "info", filepath.Join(dir, "app.log"))
		a.waitStderr("status=401")
		stopAtOnce(a)
		if !strings.Contains(a.logged(), "REDACTED") {
			t.Errorf("the server's echo of the token was not logged, so redaction was not tried:\n%s", a.logged())
		}
		check("backfill", a.logged())
	})
}

// stopAtOnce stops a process with two interrupts: the second skips the
// grace in which the first would go on retrying writes that cannot work.
func stopAtOnce(a *agent) {
	a.t.Helper()
	_ = a.cmd.Process.Signal(os.Interrupt)
	time.Sleep(300 * time.Millisecond) // the first starts the shutdown
	_ = a.cmd.Process.Signal(os.Interrupt)
	_ = a.exit()
}
