package tailer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEndOffset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		limit   int
		want    int64
	}{
		{name: "empty", content: "", limit: 8, want: 0},
		{name: "ends with newline", content: "a\nb\n", limit: 8, want: 4},
		{name: "line being written", content: "a\nbc", limit: 8, want: 2},
		{name: "one unfinished line", content: "abc", limit: 8, want: 0},
		{name: "unfinished line at the limit", content: "a\n" + strings.Repeat("x", 9), limit: 8, want: 2},
		// 2+20 bytes, searched back 8+2: starting at 12 leaves a line that
		// is too long whatever its end.
		{name: "unfinished line too long", content: "a\n" + strings.Repeat("x", 20), limit: 8, want: 12},
		{name: "newline many chunks back", content: "a\n" + strings.Repeat("x", 3*endOffsetChunk+5), limit: 1 << 20, want: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "f.log")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := endOffset(path, tc.limit)
			if err != nil {
				t.Fatalf("endOffset: %v", err)
			}
			if got != tc.want {
				t.Errorf("endOffset = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestEndOffsetMissingFile(t *testing.T) {
	t.Parallel()
	if _, err := endOffset(filepath.Join(t.TempDir(), "nope"), 8); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("endOffset of a missing file: %v, want a not-exist error", err)
	}
}
