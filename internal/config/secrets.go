package config

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"regexp"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// literal reports an expression written out in the rules file itself:
// one that evaluates without functions (no env() or file()).
func literal(expr hcl.Expression) bool {
	_, diags := expr.Value(nil)
	return !diags.HasErrors()
}

// token evaluates the influxdb token. A token written in the rules file
// itself (literal) in a file other users may read is a warning (the file
// usually sits in /etc, readable by all); the token's value never appears
// in a diagnostic, which says where it is, not what it is.
func (l *loader) token(in *influxHCL) string {
	if in.Token == nil {
		return ""
	}
	v, diags := in.Token.Value(l.ctx)
	if diags.HasErrors() {
		l.diags = append(l.diags, diags...)
		return ""
	}
	if v.IsNull() {
		return ""
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil || !s.IsKnown() {
		l.errorf(in.Token.Range(), &in.DefRange, "Invalid token", "token must be a string.")
		return ""
	}
	if s.AsString() != "" && literal(in.Token) {
		if st, err := os.Stat(in.Token.Range().Filename); err == nil && st.Mode().Perm()&0o004 != 0 {
			l.warnf(in.Token.Range(), &in.DefRange, "Token readable by other users",
				"The token is written in %s, which every user of this machine may read (mode %v). "+
					"Read it from a file only the agent can read, token = file(\"/etc/logmetrics/token\"), "+
					"or from the environment, token = env(\"LOGMETRICS_TOKEN\"); or make this file unreadable to others (chmod o-r).",
				in.Token.Range().Filename, st.Mode().Perm())
		}
	}
	return s.AsString()
}

// tls builds the client TLS settings of the influxdb block. Certificates
// are checked unless insecure_skip_verify is set, which is a warning.
func (l *loader) tls(t *tlsHCL) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.ServerName != nil {
		cfg.ServerName = *t.ServerName
	}
	if t.CAFile != nil {
		path := resolve(l.dir, *t.CAFile)
		pem, err := os.ReadFile(path)
		switch {
		case err != nil:
			l.errorf(t.CAFileRange, &t.DefRange, "Cannot read ca_file", "%q: %v.", *t.CAFile, pathless(err))
		default:
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				l.errorf(t.CAFileRange, &t.DefRange, "No certificate in ca_file",
					"%s holds no PEM certificate; ca_file names the CA certificate(s) that signed the server's.", path)
			}
			cfg.RootCAs = pool
		}
	}
	switch {
	case t.CertFile != nil && t.KeyFile != nil:
		pair, err := tls.LoadX509KeyPair(resolve(l.dir, *t.CertFile), resolve(l.dir, *t.KeyFile))
		if err != nil {
			l.errorf(t.CertFileRange, &t.DefRange, "Cannot load the client certificate", "cert_file and key_file: %v.", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case t.CertFile != nil:
		l.errorf(t.CertFileRange, &t.DefRange, "cert_file without key_file", "A client certificate needs its key: set key_file too.")
	case t.KeyFile != nil:
		l.errorf(t.KeyFileRange, &t.DefRange, "key_file without cert_file", "A client key needs its certificate: set cert_file too.")
	}
	if t.InsecureSkipVerify != nil && *t.InsecureSkipVerify {
		cfg.InsecureSkipVerify = true
		l.warnf(t.InsecureSkipVerifyRange, &t.DefRange, "Certificate checks are off",
			"insecure_skip_verify = true accepts any certificate, so anyone between the agent and InfluxDB can read the token and the data. "+
				"Name the CA that signed the server's certificate with ca_file instead.")
	}
	return cfg
}

// maskTokens returns files with the secrets of each influxdb block
// replaced by asterisks of the same length: a literal token, and the
// password of a url. A diagnostic that quotes the file around them (the
// url's own error, or any on those lines) then does not print them.
func maskTokens(files map[string]*hcl.File) map[string]*hcl.File {
	out := make(map[string]*hcl.File, len(files))
	for name, f := range files {
		out[name] = f
		secrets := secretRanges(f)
		if len(secrets) == 0 {
			continue
		}
		masked := append([]byte(nil), f.Bytes...)
		for _, r := range secrets {
			for i := r[0]; i < r[1] && i < len(masked); i++ {
				if masked[i] != '"' && masked[i] != '\n' {
					masked[i] = '*'
				}
			}
		}
		out[name] = &hcl.File{Body: f.Body, Bytes: masked, Nav: f.Nav}
	}
	return out
}

// urlPassword finds the password of a URL's user information.
var urlPassword = regexp.MustCompile(`://[^/@:]*:([^/@]*)@`)

// secretRanges are the byte ranges of a file's literal influxdb tokens and
// url passwords.
func secretRanges(f *hcl.File) [][2]int {
	content, _, _ := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "influxdb"}}})
	if content == nil {
		return nil
	}
	var out [][2]int
	for _, b := range content.Blocks {
		attrs, _, _ := b.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "token"}, {Name: "url"}}})
		if attrs == nil {
			continue
		}
		if a, ok := attrs.Attributes["token"]; ok {
			if literal(a.Expr) {
				out = append(out, [2]int{a.Expr.Range().Start.Byte, a.Expr.Range().End.Byte})
			}
		}
		if a, ok := attrs.Attributes["url"]; ok {
			r := a.Expr.Range()
			if r.End.Byte <= len(f.Bytes) {
				if m := urlPassword.FindSubmatchIndex(f.Bytes[r.Start.Byte:r.End.Byte]); m != nil {
					out = append(out, [2]int{r.Start.Byte + m[2], r.Start.Byte + m[3]})
				}
			}
		}
	}
	return out
}
