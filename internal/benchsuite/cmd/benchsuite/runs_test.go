package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/logmetrics/logmetrics/internal/benchsuite"
)

// TestSplitLines checks the splits the run benchmarks wait on: every line
// lands in exactly one file, in order, and no log second is in two files
// (InfluxDB would keep one of two colliding points, and the wait for the
// full count would never end).
func TestSplitLines(t *testing.T) {
	const n = 1000
	dir := t.TempDir()
	c, err := benchsuite.Generate(dir, n)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(c.Path(benchsuite.NginxFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		files, per int
		wantLines  int // at least
	}{
		{name: "busy", files: busyFiles, per: (n + busyFiles - 1) / busyFiles, wantLines: n},
		{name: "idle", files: idleFiles, per: idleLinesPerFile, wantLines: n}, // the corpus runs out
		{name: "many", files: idleFiles, per: 5, wantLines: 500},
		{name: "few", files: 3, per: 10, wantLines: 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			paths := make([]string, tc.files)
			for i := range paths {
				paths[i] = filepath.Join(t.TempDir(), fmt.Sprintf("part-%d.log", i))
			}
			lines, err := splitLines(c.Path(benchsuite.NginxFile), paths, tc.per)
			if err != nil {
				t.Fatal(err)
			}
			var all []byte
			seconds := map[string]int{}
			for i, p := range paths {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, b...)
				for _, l := range bytes.SplitAfter(b, []byte("\n")) {
					if len(l) == 0 {
						continue
					}
					s := string(logSecond(l))
					if f, ok := seconds[s]; ok && f != i {
						t.Errorf("second %s is in %s and %s", s, paths[f], p)
					}
					seconds[s] = i
				}
			}
			if got := bytes.Count(all, []byte("\n")); int64(got) != lines || got < tc.wantLines || got < min(n, tc.files*tc.per) {
				t.Errorf("split wrote %d lines and said %d; want at least %d", got, lines, max(tc.wantLines, min(n, tc.files*tc.per)))
			}
			if !bytes.HasPrefix(src, all) {
				t.Error("the files joined are not the corpus's first lines in order")
			}
		})
	}
}
