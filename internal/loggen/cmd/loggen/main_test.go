package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/loggen"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		wantCode     int
		wantLines    int
		wantContains string
		wantErr      string
	}{
		{name: "defaults", args: nil, wantCode: 0, wantLines: 1000, wantContains: "[10/Oct/2025:13:55:36 +0000]"},
		{name: "nginx", args: []string{"-format", "nginx", "-n", "3", "-seed", "1"}, wantLines: 3},
		{name: "json", args: []string{"-format", "json", "-n", "2"}, wantLines: 2, wantContains: `{"ts":"2025-10-10T13:55:36.000Z"`},
		{name: "logfmt", args: []string{"-format", "logfmt", "-n", "2"}, wantLines: 2, wantContains: "time=2025-10-10T13:55:36.000Z "},
		{name: "syslog new year", args: []string{"-format", "syslog", "-n", "1", "-start", "2024-12-31T23:58:00Z"}, wantLines: 1, wantContains: "Dec 31 23:58:00 "},
		{name: "offset kept", args: []string{"-n", "1", "-start", "2025-10-10T13:55:36+02:00"}, wantLines: 1, wantContains: "[10/Oct/2025:13:55:36 +0200]"},
		{name: "zero lines", args: []string{"-n", "0"}, wantLines: 0},
		{name: "unknown format", args: []string{"-format", "csv"}, wantCode: 2, wantErr: `unknown -format "csv"`},
		{name: "negative n", args: []string{"-n", "-1"}, wantCode: 2, wantErr: "-n must not be negative"},
		{name: "bad start", args: []string{"-start", "yesterday"}, wantCode: 2, wantErr: "-start:"},
		{name: "bad flag", args: []string{"-bogus"}, wantCode: 2, wantErr: "flag provided but not defined"},
		{name: "extra argument", args: []string{"out.log"}, wantCode: 2, wantErr: `unexpected argument "out.log"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tc.wantCode, stderr.String())
			}
			if tc.wantErr != "" {
				if !strings.Contains(stderr.String(), tc.wantErr) {
					t.Errorf("stderr %q does not contain %q", stderr.String(), tc.wantErr)
				}
				if stdout.Len() != 0 {
					t.Errorf("wrote %d bytes to stdout on a usage error", stdout.Len())
				}
				return
			}
			if got := strings.Count(stdout.String(), "\n"); got != tc.wantLines {
				t.Errorf("got %d lines, want %d", got, tc.wantLines)
			}
			if !strings.Contains(stdout.String(), tc.wantContains) {
				t.Errorf("output %.80q... does not contain %q", stdout.String(), tc.wantContains)
			}
		})
	}
}

// TestRunMatchesLibrary guards the README's claim that the command lines
// there reproduce what the corpus test generates.
func TestRunMatchesLibrary(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-format", "nginx", "-n", "300", "-seed", "1", "-start", "2025-10-10T13:55:36Z"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr.String())
	}
	var want bytes.Buffer
	if err := loggen.Nginx(&want, 300, 1, time.Date(2025, 10, 10, 13, 55, 36, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), want.Bytes()) {
		t.Error("command output differs from loggen.Nginx with the same arguments")
	}
}
