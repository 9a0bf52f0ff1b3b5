package loggen

import (
	"io"
	"testing"
)

// countWriter counts bytes so SetBytes can report throughput without
// keeping the output.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// BenchmarkGenerate measures 10,000 lines per op; the Makefile builds
// million-line corpora with these generators.
func BenchmarkGenerate(b *testing.B) {
	const n = 10_000
	for _, tc := range generators {
		b.Run(tc.name, func(b *testing.B) {
			var cw countWriter
			if err := tc.gen(&cw, n, 1, testStart); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(cw.n)
			b.ReportAllocs()
			for b.Loop() {
				if err := tc.gen(io.Discard, n, 1, testStart); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
