// Command loggen writes deterministic sample logs to standard output, for
// benchmark corpora and for regenerating testdata/logs:
//
//	loggen -format nginx -n 1000000 -seed 1 -start 2025-10-10T13:55:36Z > access.log
//
// The same flags always print the same bytes.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/logmetrics/logmetrics/internal/loggen"
)

// generators maps -format values to loggen functions.
var generators = map[string]func(io.Writer, int, uint64, time.Time) error{
	"nginx":  loggen.Nginx,
	"json":   loggen.JSONLines,
	"logfmt": loggen.Logfmt,
	"syslog": loggen.Syslog,
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the exit code: 0 on success, 1 when writing fails and 2 for
// bad flags, the CLI's code for usage errors.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loggen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "nginx", "log format: nginx, json, logfmt or syslog")
	n := fs.Int("n", 1000, "number of lines")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same output")
	startFlag := fs.String("start", "2025-10-10T13:55:36Z", "timestamp of the first line, RFC 3339; its offset is kept")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loggen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	gen, ok := generators[*format]
	if !ok {
		fmt.Fprintf(stderr, "loggen: unknown -format %q: want nginx, json, logfmt or syslog\n", *format)
		return 2
	}
	if *n < 0 {
		fmt.Fprintf(stderr, "loggen: -n must not be negative, got %d\n", *n)
		return 2
	}
	start, err := time.Parse(time.RFC3339, *startFlag)
	if err != nil {
		fmt.Fprintf(stderr, "loggen: -start: %v\n", err)
		return 2
	}
	if err := gen(stdout, *n, *seed, start); err != nil {
		fmt.Fprintf(stderr, "loggen: %v\n", err)
		return 1
	}
	return 0
}
