// Command logfmt is the logfmt floor of the benchmark suite: go-logfmt's
// decoder plus the line-protocol encoder.
//
//	logfmt nginx.logfmt > out.lp
package main

import (
	"os"

	"github.com/logmetrics/logmetrics/internal/benchsuite/floors"
)

func main() {
	os.Exit(floors.Main(floors.Logfmt, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
