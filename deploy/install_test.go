// Package deploy holds the service files `make install` installs; its test
// installs them into a temporary prefix and checks what an operator relies
// on: a static binary that says its version and commit, and a systemd unit
// that systemd accepts with the hardening the README promises.
package deploy

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestInstall(t *testing.T) {
	for _, tool := range []string{"make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("make install needs %s: %v", tool, err)
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	prefix, etc, state := filepath.Join(tmp, "usr"), filepath.Join(tmp, "etc"), filepath.Join(tmp, "var/lib/logmetrics")
	cmd := exec.Command("make", "-s", "-C", root, "install", "VERSION=v0.0.0-installtest",
		"BIN="+filepath.Join(tmp, "build"), "PREFIX="+prefix, "SYSCONFDIR="+etc, "STATEDIR="+state)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}

	bin := filepath.Join(prefix, "bin/logmetrics")
	t.Run("static binary", func(t *testing.T) {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s has a program interpreter: it is dynamically linked", bin)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("%s needs shared libraries %v", bin, libs)
		}
		raw, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		// -trimpath: the build folder must not leak into the binary, or two
		// builds of one commit in two folders would differ.
		if bytes.Contains(raw, []byte(root)) {
			t.Errorf("%s holds the build folder %s: not built with -trimpath", bin, root)
		}
	})

	t.Run("version and commit", func(t *testing.T) {
		out, err := exec.Command(bin, "version").CombinedOutput()
		if err != nil {
			t.Fatalf("logmetrics version: %v\n%s", err, out)
		}
		if !strings.HasPrefix(string(out), "logmetrics v0.0.0-installtest ") {
			t.Errorf("logmetrics version printed %q, want the version make was given", out)
		}
		head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
		if err != nil {
			t.Skipf("not a git checkout, so no commit to compare: %v", err)
		}
		if !strings.Contains(string(out), strings.TrimSpace(string(head))) {
			t.Errorf("logmetrics version printed %q, want the commit %s", out, head)
		}
	})

	unit := filepath.Join(prefix, "lib/systemd/system/logmetrics.service")
	t.Run("unit", func(t *testing.T) {
		raw, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		config := filepath.Join(etc, "logmetrics/rules.hcl")
		for _, want := range []string{
			"User=logmetrics", "SupplementaryGroups=adm", "NoNewPrivileges=yes", "ProtectSystem=strict",
			"ReadWritePaths=" + state, "ReadOnlyPaths=/var/log", "Restart=on-failure",
			"Environment=LOGMETRICS_STATE_DIR=" + state,
			"ExecReload=/bin/kill -HUP $MAINPID", "ExecStart=" + bin + " run -config " + config,
		} {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).Match(raw) {
				t.Errorf("the unit has no line %q", want)
			}
		}
		if bytes.Contains(raw, []byte("@")) && regexp.MustCompile(`@[A-Z]+@`).Match(raw) {
			t.Errorf("the unit still has a placeholder:\n%s", raw)
		}
		if _, err := exec.LookPath("systemd-analyze"); err != nil {
			t.Skip("systemd-analyze is not installed: the unit is not verified")
		}
		// verify resolves ExecStart and parses every directive; it writes
		// warnings (a misspelt or unknown setting) to stderr but may still exit 0.
		out, err := exec.Command("systemd-analyze", "verify", unit).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
		}
	})

	t.Run("white space in a path", func(t *testing.T) {
		cmd := exec.Command("make", "-s", "-C", root, "install", "BIN="+filepath.Join(tmp, "build"), "PREFIX="+filepath.Join(tmp, "with space"))
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "holds white space") {
			t.Errorf("make install with a space in PREFIX: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(tmp, "with space")); err == nil {
			t.Errorf("make install made folders before refusing the path")
		}
	})

	t.Run("users and state folder", func(t *testing.T) {
		users, err := os.ReadFile(filepath.Join(prefix, "lib/sysusers.d/logmetrics.conf"))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^u logmetrics `).Match(users) || !regexp.MustCompile(`(?m)^m logmetrics adm$`).Match(users) {
			t.Errorf("sysusers.d entry does not make the logmetrics user in group adm:\n%s", users)
		}
		tmpfiles, err := os.ReadFile(filepath.Join(prefix, "lib/tmpfiles.d/logmetrics.conf"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(tmpfiles), "d "+state+" 0750 logmetrics logmetrics") {
			t.Errorf("tmpfiles.d entry does not make the state folder %s:\n%s", state, tmpfiles)
		}
		for _, f := range []string{filepath.Join(etc, "logmetrics/rules.hcl.example"), filepath.Join(prefix, "share/doc/logmetrics/rules.hcl.example")} {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("the example rules are not installed: %v", err)
			}
		}
	})
}
