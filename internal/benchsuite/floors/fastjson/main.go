// Command fastjson is the JSON floor of the benchmark suite: valyala/fastjson
// plus the line-protocol encoder.
//
//	fastjson nginx.jsonl > out.lp
package main

import (
	"os"

	"github.com/logmetrics/logmetrics/internal/benchsuite/floors"
)

func main() {
	os.Exit(floors.Main(floors.FastJSON, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
