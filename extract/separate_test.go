package extract

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// TestSeparatorProperty stamps random points (few series, times repeating,
// going back, and nanoseconds apart) and checks that no two points of a
// series get the same time and that a second run gives the same times.
func TestSeparatorProperty(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		type pt struct {
			series string
			t      int64
		}
		var pts []pt
		base := int64(1_700_000_000_000_000_000)
		for i := 0; i < 5000; i++ {
			tm := base + int64(rng.IntN(20))*1e9 // whole seconds, out of order
			switch rng.IntN(4) {
			case 0:
				tm += int64(rng.IntN(5)) // nanoseconds apart
			case 1:
				base += 1e9 // time moves on
			}
			pts = append(pts, pt{series: fmt.Sprint("s", rng.IntN(3)), t: tm})
		}
		stampAll := func() []int64 {
			sep := newSeparator()
			var out []int64
			for _, p := range pts {
				point := pipeline.Point{Measurement: "m", Tags: []pipeline.Tag{{Key: "k", Value: p.series}}}
				out = append(out, sep.stamp("f.log", &point, p.t))
			}
			return out
		}
		first, second := stampAll(), stampAll()
		used := map[string]bool{}
		for i, g := range first {
			if g != second[i] {
				t.Fatalf("seed %d: point %d got %d, then %d", seed, i, g, second[i])
			}
			if g < pts[i].t {
				t.Fatalf("seed %d: point %d moved back from %d to %d", seed, i, pts[i].t, g)
			}
			k := fmt.Sprint(pts[i].series, g)
			if used[k] {
				t.Fatalf("seed %d: point %d: series %s time %d given twice", seed, i, pts[i].series, g)
			}
			used[k] = true
		}
	}
}
