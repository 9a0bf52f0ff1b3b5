package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

const secret = "lm-secret-9d2e"

// TestSecretNeverShown logs the secret through every kind of value, in
// both formats, and finds it nowhere.
func TestSecretNeverShown(t *testing.T) {
	u, _ := url.Parse("http://user:" + secret + "@127.0.0.1:8086/write")
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			log, err := New(&b, Options{Format: format, Level: "debug", Secrets: []string{"", secret}})
			if err != nil {
				t.Fatal(err)
			}
			log.Info("token is "+secret, "token", secret, "err", fmt.Errorf("post: %w", errors.New("Authorization: Token "+secret)),
				"url", u, "n", 3)
			log.With("auth", secret).WithGroup("g").Debug("x", "inner", []string{secret})
			out := b.String()
			if strings.Contains(out, secret) {
				t.Errorf("the output shows the secret:\n%s", out)
			}
			if n := strings.Count(out, Redacted); n < 6 {
				t.Errorf("%d redactions, want at least 6 (message, token, err, url, auth, inner):\n%s", n, out)
			}
			if !strings.Contains(out, "n=3") && !strings.Contains(out, `"n":3`) {
				t.Errorf("an attribute without a secret was changed:\n%s", out)
			}
			if format == "json" {
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if !json.Valid([]byte(line)) {
						t.Errorf("not a JSON line: %s", line)
					}
				}
			}
		})
	}
}

func TestOptions(t *testing.T) {
	var b bytes.Buffer
	log, err := New(&b, Options{Level: "warn", NoTime: true})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	if got := b.String(); got != "level=WARN msg=shown\n" {
		t.Errorf("output %q", got)
	}
	if _, err := New(&b, Options{Format: "xml"}); err == nil {
		t.Error("format xml accepted")
	}
	if _, err := New(&b, Options{Level: "loud"}); err == nil {
		t.Error("level loud accepted")
	}
}

func TestRedactor(t *testing.T) {
	r := Redactor([]string{"", "s3cret", "user:pw"})
	if got, want := r(`401: token "s3cret" (user:pw) refused`), `401: token "[REDACTED]" ([REDACTED]) refused`; got != want {
		t.Errorf("Redactor: %q, want %q", got, want)
	}
	if got := Redactor(nil)("plain"); got != "plain" {
		t.Errorf("Redactor(nil): %q", got)
	}
}
