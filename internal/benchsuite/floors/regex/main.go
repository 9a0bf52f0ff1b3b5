// Command regex is the nginx floor of the benchmark suite: a bare Go
// regexp with the rule's pattern plus the line-protocol encoder.
//
//	regex nginx.log > out.lp
package main

import (
	"os"

	"github.com/logmetrics/logmetrics/internal/benchsuite/floors"
)

func main() {
	os.Exit(floors.Main(floors.Regex, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
