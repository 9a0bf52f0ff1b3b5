package main

import (
	"testing"

	"github.com/logmetrics/logmetrics/tailer"
)

// TestLineBufferBytes: the lines channel holds at most lineBufferBytes of
// lines at the longest length allowed (or a single line, when one is
// longer), and never more than lineBuffer lines.
func TestLineBufferBytes(t *testing.T) {
	tests := []struct {
		name         string
		maxLineBytes int
		want         int
	}{
		{"default", 0, lineBufferBytes / tailer.DefaultMaxLineBytes},
		{"4 MiB", 4 << 20, 16},
		{"short lines: the line count bounds", 1 << 10, lineBuffer},
		{"64 KiB", 64 << 10, lineBuffer},
		{"1 MiB", 1 << 20, 64},
		{"over the byte bound: one line", 128 << 20, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := lineBufferFor(tc.maxLineBytes)
			if got != tc.want {
				t.Errorf("lineBufferFor(%d) = %d, want %d", tc.maxLineBytes, got, tc.want)
			}
			n := tc.maxLineBytes
			if n == 0 {
				n = tailer.DefaultMaxLineBytes
			}
			if got > 1 && got*n > lineBufferBytes {
				t.Errorf("%d lines of %d bytes exceed %d bytes", got, n, lineBufferBytes)
			}
		})
	}
}
