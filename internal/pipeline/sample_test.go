package pipeline

import (
	"slices"
	"testing"
)

func TestSampled(t *testing.T) {
	var got []uint64
	for n := range uint64(2001) {
		if Sampled(n) {
			got = append(got, n)
		}
	}
	if want := []uint64{1, 10, 100, 1000}; !slices.Equal(want, got) {
		t.Errorf("Sampled: %v, want %v", got, want)
	}
}
