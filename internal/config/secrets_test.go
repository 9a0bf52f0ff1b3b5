package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// secretToken is distinctive, so that any output holding it is found.
const secretToken = "lm-test-token-7f3c9a"

func writeRules(t *testing.T, mode os.FileMode, influx string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.hcl")
	body := "influxdb {\n" + influx + "\n}\nsource \"app\" {\n  paths = [\"app.log\"]\n  rule \"lines\" {\n    logfmt = true\n    fields = { n = \"int\" }\n  }\n}\n"
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

// TestLiteralTokenWarning: a token written in a file others may read is a
// warning that names the file and never shows the token; env() and file(),
// or a file others cannot read, are quiet.
func TestLiteralTokenWarning(t *testing.T) {
	t.Setenv("LM_SECRET", secretToken)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(secretToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		mode  os.FileMode
		token string
		warn  bool
	}{
		{"literal, readable by all", 0o644, `"` + secretToken + `"`, true},
		{"literal, owner and group only", 0o640, `"` + secretToken + `"`, false},
		{"env, readable by all", 0o644, `env("LM_SECRET")`, false},
		{"file, readable by all", 0o644, `file("` + tokenFile + `")`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeRules(t, tc.mode, `url = "http://127.0.0.1:8086"`+"\nbucket = \"db/rp\"\ntoken = "+tc.token)
			cfg, files, diags := Load(path)
			if cfg == nil {
				t.Fatalf("Load: %s", render(t, files, diags))
			}
			if cfg.InfluxDB.Sink.Token != secretToken {
				t.Errorf("token = %q, want %q", cfg.InfluxDB.Sink.Token, secretToken)
			}
			out := render(t, files, diags)
			if got := strings.Contains(out, "Token readable by other users"); got != tc.warn {
				t.Errorf("warning shown = %v, want %v:\n%s", got, tc.warn, out)
			}
			if strings.Contains(out, secretToken) {
				t.Errorf("the diagnostics show the token:\n%s", out)
			}
			if tc.warn && !strings.Contains(out, strings.Repeat("*", len(secretToken))) {
				t.Errorf("the warning's snippet does not show the masked token:\n%s", out)
			}
		})
	}
}

// TestTLS: a CA file, a client pair and a server name reach the sink's
// TLS settings, with certificate checks on.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	writeSelfSigned(t, ca, key)
	if err := os.Link(ca, cert); err != nil {
		t.Fatal(err)
	}
	path := writeRules(t, 0o600, `url = "https://127.0.0.1:8086"
bucket = "db/rp"
tls {
  ca_file     = "`+ca+`"
  cert_file   = "`+cert+`"
  key_file    = "`+key+`"
  server_name = "influx.internal"
}`)
	cfg, files, diags := Load(path)
	if cfg == nil || diags.HasErrors() || strings.Contains(render(t, files, diags), "Certificate") {
		t.Fatalf("Load: %s", render(t, files, diags))
	}
	tc := cfg.InfluxDB.Sink.TLS
	switch {
	case tc == nil:
		t.Fatal("no TLS settings")
	case tc.RootCAs == nil, len(tc.Certificates) != 1, tc.ServerName != "influx.internal", tc.InsecureSkipVerify:
		t.Errorf("TLS settings: roots %v, %d certificates, server name %q, insecure %v", tc.RootCAs != nil, len(tc.Certificates), tc.ServerName, tc.InsecureSkipVerify)
	}
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func writeSelfSigned(t *testing.T, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}
