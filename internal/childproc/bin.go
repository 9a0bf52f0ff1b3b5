package childproc

import (
	"fmt"
	"os"
	"path/filepath"
)

// ModuleBin returns bin/name of the module that holds the working
// directory, where the Makefile's target of that name puts a server the
// tests run, and an error saying where it looked, and which target to
// run, when that file is not there.
func ModuleBin(name string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", name)
			if _, err := os.Stat(p); err != nil {
				return p, fmt.Errorf("bin/%s not found: run `make %s` (looked for %s)", name, name, p)
			}
			return p, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("bin/%s not found: run `make %s` (no go.mod above %s)", name, name, wd)
		}
	}
}
