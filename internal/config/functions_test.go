package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// call evaluates an HCL expression with the function table rooted at dir.
func call(t *testing.T, dir, src string) (string, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %v", src, diags)
	}
	v, diags := expr.Value(&hcl.EvalContext{Functions: functions(dir)})
	if diags.HasErrors() {
		return "", diags
	}
	if v.Type() != cty.String {
		t.Fatalf("%s returned %s, want a string", src, v.Type().FriendlyName())
	}
	return v.AsString(), nil
}

type funcCase struct {
	name    string
	expr    string
	want    string
	wantErr string // a part of the error's Detail; "" means no error
}

func runFuncCases(t *testing.T, dir string, tests []funcCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, diags := call(t, dir, tc.expr)
			switch {
			case tc.wantErr == "" && diags.HasErrors():
				t.Fatalf("%s: unexpected error: %v", tc.expr, diags)
			case tc.wantErr != "" && !diags.HasErrors():
				t.Fatalf("%s = %q, want an error containing %q", tc.expr, got, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(diags.Error(), tc.wantErr):
				t.Fatalf("%s: error %q does not contain %q", tc.expr, diags.Error(), tc.wantErr)
			case got != tc.want:
				t.Errorf("%s = %q, want %q", tc.expr, got, tc.want)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("LOGMETRICS_TEST_SET", "value")
	t.Setenv("LOGMETRICS_TEST_EMPTY", "")
	t.Setenv("LOGMETRICS_TEST_UNSET", "")
	os.Unsetenv("LOGMETRICS_TEST_UNSET")
	runFuncCases(t, t.TempDir(), []funcCase{
		{name: "set", expr: `env("LOGMETRICS_TEST_SET")`, want: "value"},
		{name: "set with default", expr: `env("LOGMETRICS_TEST_SET", "d")`, want: "value"},
		{name: "set but empty", expr: `env("LOGMETRICS_TEST_EMPTY", "d")`, want: ""},
		{name: "unset with default", expr: `env("LOGMETRICS_TEST_UNSET", "d")`, want: "d"},
		{name: "unset with empty default", expr: `env("LOGMETRICS_TEST_UNSET", "")`, want: ""},
		{name: "unset", expr: `env("LOGMETRICS_TEST_UNSET")`, wantErr: "LOGMETRICS_TEST_UNSET is not set"},
		{name: "empty name", expr: `env("")`, wantErr: "name is empty"},
		{name: "two defaults", expr: `env("LOGMETRICS_TEST_UNSET", "a", "b")`, wantErr: "at most one default"},
		{name: "no name", expr: `env()`, wantErr: "Not enough function arguments"},
	})
}

func TestHostname(t *testing.T) {
	want, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	runFuncCases(t, t.TempDir(), []funcCase{
		{name: "hostname", expr: `hostname()`, want: want},
		{name: "argument", expr: `hostname("x")`, wantErr: "Too many function arguments"},
	})
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("token", "s3cret\n")
	write("crlf", "s3cret\r\n")
	write("two-newlines", "a\n\n")
	write("plain", "no newline")
	write("sub/nested", "nested\n")
	write("binary", "\xff\xfe")
	write("big", strings.Repeat("x", maxFileSize+1))
	abs := write("abs", "absolute\n")
	runFuncCases(t, dir, []funcCase{
		{name: "relative", expr: `file("token")`, want: "s3cret"},
		{name: "crlf", expr: `file("crlf")`, want: "s3cret"},
		{name: "one newline only", expr: `file("two-newlines")`, want: "a\n"},
		{name: "no newline", expr: `file("plain")`, want: "no newline"},
		{name: "subdirectory", expr: `file("sub/nested")`, want: "nested"},
		{name: "absolute", expr: `file("` + abs + `")`, want: "absolute"},
		{name: "missing", expr: `file("nope")`, wantErr: "read nope: no such file or directory (a relative path is taken from the rules file's directory)"},
		{name: "directory", expr: `file("sub")`, wantErr: "not a regular file"},
		{name: "not utf-8", expr: `file("binary")`, wantErr: "not UTF-8"},
		{name: "too large", expr: `file("big")`, wantErr: "larger than"},
		{name: "empty path", expr: `file("")`, wantErr: "path is empty"},
	})
}
