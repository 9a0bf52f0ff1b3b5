package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeVictoria is a stand-in for victoria-metrics: a real executable (so
// that writing it while it runs fails, as with the real one) that lists
// -storageDataPath in its -help, slowly, as a big binary starts.
const fakeVictoria = `package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	time.Sleep(200 * time.Millisecond)
	if len(os.Args) > 1 && os.Args[1] == "-help" {
		fmt.Println("  -storageDataPath string")
	}
}
`

// TestMakeVictoriaMetrics runs `make victoria-metrics` with an apt-get
// that hands out a package of fakeVictoria: a bin/victoria-metrics that
// is not VictoriaMetrics (empty, or a dangling link) is fetched again,
// and makes run at once all succeed and leave one good binary and no
// temporary files.
func TestMakeVictoriaMetrics(t *testing.T) {
	for _, tool := range []string{"make", "go", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("make victoria-metrics needs %s: %v", tool, err)
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	pkg := filepath.Join(tmp, "pkg")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(pkg, "DEBIAN"), 0o755))
	must(os.MkdirAll(filepath.Join(pkg, "usr/bin"), 0o755))
	must(os.WriteFile(filepath.Join(pkg, "DEBIAN/control"), []byte("Package: victoria-metrics\nVersion: 0.0.0-fake\nArchitecture: all\nMaintainer: test <test@example.com>\nDescription: fake\n"), 0o644))
	src := filepath.Join(tmp, "src")
	must(os.MkdirAll(src, 0o755))
	must(os.WriteFile(filepath.Join(src, "main.go"), []byte(fakeVictoria), 0o644))
	must(os.WriteFile(filepath.Join(src, "go.mod"), []byte("module fake\n"), 0o644))
	run := func(dir string, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run(src, "go", "build", "-o", filepath.Join(pkg, "usr/bin/victoria-metrics"), ".")
	deb := filepath.Join(tmp, "victoria-metrics_0.0.0-fake_all.deb")
	run(tmp, "dpkg-deb", "--root-owner-group", "--build", pkg, deb)
	aptGet := filepath.Join(tmp, "apt-get")
	must(os.WriteFile(aptGet, []byte("#!/bin/sh\n[ \"$2\" = download ] && cp '"+deb+"' .\nexit 0\n"), 0o755))
	want, err := os.ReadFile(filepath.Join(pkg, "usr/bin/victoria-metrics"))
	must(err)

	bin := filepath.Join(tmp, "bin")
	vm := filepath.Join(bin, "victoria-metrics")
	mk := func() error {
		out, err := exec.Command("make", "-s", "-C", root, "victoria-metrics", "BIN="+bin, "VICTORIA="+vm, "APT_GET="+aptGet, "PATH="+tmp+":"+os.Getenv("PATH")).CombinedOutput()
		if err != nil {
			return fmt.Errorf("make victoria-metrics: %v\n%s", err, out)
		}
		return nil
	}
	check := func(what string) {
		t.Helper()
		got, err := os.ReadFile(vm)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: bin/victoria-metrics is not the package's (%d bytes, %v)", what, len(got), err)
		}
		entries, err := os.ReadDir(bin)
		must(err)
		if len(entries) != 1 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%s: bin holds %q, want victoria-metrics alone", what, names)
		}
	}

	must(os.MkdirAll(bin, 0o755))
	must(os.WriteFile(vm, nil, 0o755))
	if err := mk(); err != nil {
		t.Fatal(err)
	}
	check("after an empty file")

	must(os.Remove(vm))
	must(os.Symlink(filepath.Join(tmp, "gone"), vm))
	if err := mk(); err != nil {
		t.Fatal(err)
	}
	check("after a dangling link")

	must(os.Remove(vm))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = mk() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	check("after makes at once")
}
