package sink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// TestTLS writes to InfluxDB serving HTTPS on loopback with a certificate
// signed by a test CA: the write succeeds when the CA is trusted (or
// checks are off), and fails with a certificate error when it is not or
// when the server name does not match. Stored points are read back.
func TestTLS(t *testing.T) {
	srv := influxtest.StartTLS(t)
	srv.CreateDatabase(t, "db")
	pem, err := os.ReadFile(srv.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)

	for _, tc := range []struct {
		name    string
		tls     *tls.Config
		written bool
	}{
		{"CA trusted", &tls.Config{RootCAs: roots}, true},
		{"certificate checks off", &tls.Config{InsecureSkipVerify: true}, true},
		{"system roots only", nil, false},
		{"wrong server name", &tls.Config{RootCAs: roots, ServerName: "influx.example"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst, err := NewInfluxDB(Config{URL: srv.URL(), Bucket: "db/autogen", TLS: tc.tls, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			err = dst.WriteBatch(context.Background(), []byte("tls,case="+strings.ReplaceAll(tc.name, " ", `\ `)+" v=1i 1\n"))
			var verr *tls.CertificateVerificationError
			switch {
			case tc.written && err != nil:
				t.Fatalf("write: %v", err)
			case !tc.written && !errors.As(err, &verr):
				t.Fatalf("write: %v, want a certificate verification error", err)
			}
			// The sink takes a failed verification for a rejection that
			// no retry mends (so /healthz says so at once).
			s := &Sink{}
			s.wrote(err, time.Now())
			if st := s.WriteState(); st.Rejected == tc.written {
				t.Errorf("WriteState after %v: Rejected %v", err, st.Rejected)
			}
		})
	}
	got := srv.Dump(t, "db")
	want := []string{"tls,case=CA trusted v=1i 1", "tls,case=certificate checks off v=1i 1"} // as Dump shows them
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("stored %q, want %q", got, want)
	}
}
