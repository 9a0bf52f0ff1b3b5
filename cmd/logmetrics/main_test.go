package main

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the expected files of testdata/script/*.txtar whose cmp fails")

// TestMain makes the test binary double as the logmetrics command: the
// scripts exec it as "logmetrics", and TestRun finds it in $PATH.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"logmetrics": main})
}

// TestScript runs testdata/script/*.txtar. `go test -update` rewrites the
// expected files a failing cmp compares with; review that diff like code.
func TestScript(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("GORACE", gorace())
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitcode,
		},
	})
}

// cmdExitcode is `exitcode N program [args...]`: like exec, but the
// program must exit with status N exactly, where `! exec` only says
// "not 0". stdout and stderr are kept for the commands after it.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// gorace is $GORACE for the commands the tests run. A -race build, such as
// this test binary under `go test -race`, sleeps 1s when it exits with 0 so
// that other goroutines can report races; 10ms is plenty for a command this
// small and keeps the suite fast. The user's own GORACE settings are kept.
func gorace() string {
	v := os.Getenv("GORACE")
	if !strings.Contains(v, "atexit_sleep_ms") {
		v = strings.TrimSpace(v + " atexit_sleep_ms=10")
	}
	return v
}
