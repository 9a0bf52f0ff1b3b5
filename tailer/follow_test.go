package tailer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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

// TestFeedTexts: the Texts cut from a read's chunk are the lines, whether
// a line lies in one read or is begun in an earlier one, with "\n" or
// "\r\n" endings split anywhere between reads.
func TestFeedTexts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reads []string
		want  []string
	}{
		{name: "whole lines", reads: []string{"a\nbc\n\nd\n"}, want: []string{"a", "bc", "", "d"}},
		{name: "crlf", reads: []string{"a\r\n\r\nb\r\n"}, want: []string{"a", "", "b"}},
		{name: "line across reads", reads: []string{"a\nbc", "de\nf\n"}, want: []string{"a", "bcde", "f"}},
		{name: "cr in one read, lf in the next", reads: []string{"ab\r", "\ncd\n"}, want: []string{"ab", "cd"}},
		{name: "crlf after a line begun before", reads: []string{"ab", "\r\ncd\r\n"}, want: []string{"ab", "cd"}},
		{name: "lone cr kept", reads: []string{"a\rb\n\r\r\n"}, want: []string{"a\rb", "\r"}},
		{name: "no newline yet", reads: []string{"ab", "c", "\n"}, want: []string{"abc"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &follower{now: time.Now}
			f.sp.limit = 100
			var got []string
			for _, r := range tc.reads {
				err := f.feed([]byte(r), func(l line) error {
					got = append(got, f.text(l))
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("texts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFeedOneCopy: the lines of a read cost one allocation together, not
// one each.
func TestFeedOneCopy(t *testing.T) {
	data := []byte(strings.Repeat("192.0.2.1 - - [10/Oct/2025:13:55:36 +0000] \"GET / HTTP/1.1\" 200 2\n", 64))
	f := &follower{now: time.Now}
	f.sp.limit = 1 << 10
	var n int
	allocs := testing.AllocsPerRun(10, func() {
		f.sp.reset(0)
		_ = f.feed(data, func(l line) error {
			if f.text(l) != "" {
				n++
			}
			return nil
		})
	})
	if n == 0 {
		t.Fatal("no line fed")
	}
	if allocs > 1 {
		t.Errorf("%v allocations to feed 64 lines, want 1", allocs)
	}
}
