package tailer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

var (
	// readAt is what the tests' clock always says.
	readAt  = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	scanMod = time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC)
)

func fixedClock() time.Time { return readAt }

// scanInput is the Input of the Scan tests, with the given limit.
func scanInput(limit int) Input {
	return Input{Source: "app", Path: "in.log", ModTime: scanMod, MaxLineBytes: limit, Now: fixedClock}
}

// scanned is a Line as Scan makes it from scanInput, of a line ending in
// "\n" (withSpan sets another Span).
func scanned(off int64, text string) pipeline.Line {
	return pipeline.Line{
		Origin:  pipeline.Origin{Path: "in.log", Offset: off},
		Source:  "app",
		Text:    text,
		Span:    int64(len(text)) + 1,
		ReadAt:  readAt,
		ModTime: scanMod,
	}
}

// withSpan is l with Span n.
func withSpan(l pipeline.Line, n int64) pipeline.Line {
	l.Span = n
	return l
}

// scanAll runs Scan over in and returns what it emitted.
func scanAll(t *testing.T, r io.Reader, in Input) ([]pipeline.Line, Counts, error) {
	t.Helper()
	var got []pipeline.Line
	c, err := Scan(t.Context(), r, in, func(l pipeline.Line) error {
		got = append(got, l)
		return nil
	})
	return got, c, err
}

func TestScan(t *testing.T) {
	t.Parallel()
	// The big cases use a limit above scanBufSize, so their lines are
	// gathered from several reads.
	const big = scanBufSize + scanBufSize/2
	tests := []struct {
		name   string
		limit  int
		in     string
		want   []pipeline.Line
		counts Counts
	}{
		{name: "empty", in: ""},
		{
			name:   "one line without newline",
			in:     "abc",
			want:   []pipeline.Line{withSpan(scanned(3, "abc"), 3)},
			counts: Counts{Lines: 1},
		},
		{
			name:   "empty lines",
			in:     "\n\n",
			want:   []pipeline.Line{scanned(1, ""), scanned(2, "")},
			counts: Counts{Lines: 2},
		},
		{
			name:   "lines",
			in:     "a\nbb\nccc",
			want:   []pipeline.Line{scanned(2, "a"), scanned(5, "bb"), withSpan(scanned(8, "ccc"), 3)},
			counts: Counts{Lines: 3},
		},
		{
			name:   "crlf",
			in:     "a\r\nb\r\n",
			want:   []pipeline.Line{withSpan(scanned(3, "a"), 3), withSpan(scanned(6, "b"), 3)},
			counts: Counts{Lines: 2},
		},
		{
			name:   "lone cr stays",
			in:     "a\rb\n\r\r\n",
			want:   []pipeline.Line{scanned(4, "a\rb"), withSpan(scanned(7, "\r"), 3)},
			counts: Counts{Lines: 2},
		},
		{
			name:   "cr at end of input stays",
			in:     "a\nb\r",
			want:   []pipeline.Line{scanned(2, "a"), withSpan(scanned(4, "b\r"), 2)},
			counts: Counts{Lines: 2},
		},
		{
			name:   "binary junk",
			in:     "\x00\x01\xff\xfe\n\x00",
			want:   []pipeline.Line{scanned(5, "\x00\x01\xff\xfe"), withSpan(scanned(6, "\x00"), 1)},
			counts: Counts{Lines: 2},
		},
		{
			name:   "invalid utf-8 passes through",
			in:     "caf\xe9 \xc3\x28\n",
			want:   []pipeline.Line{scanned(8, "caf\xe9 \xc3\x28")},
			counts: Counts{Lines: 1},
		},
		{
			name:   "at the limit",
			limit:  4,
			in:     "1234\n1234\r\n1234",
			want:   []pipeline.Line{scanned(5, "1234"), withSpan(scanned(11, "1234"), 6), withSpan(scanned(15, "1234"), 4)},
			counts: Counts{Lines: 3},
		},
		{
			name:   "over the limit",
			limit:  4,
			in:     "12345\nok\n12345\r\nok\n",
			want:   []pipeline.Line{scanned(9, "ok"), scanned(19, "ok")},
			counts: Counts{Lines: 4, TooLong: 2},
		},
		{
			name:   "last line over the limit without newline",
			limit:  4,
			in:     "ok\n12345",
			want:   []pipeline.Line{scanned(3, "ok")},
			counts: Counts{Lines: 2, TooLong: 1},
		},
		{
			name:   "longer than the buffer, at the limit",
			limit:  big,
			in:     strings.Repeat("x", big) + "\r\nok\n",
			want:   []pipeline.Line{withSpan(scanned(big+2, strings.Repeat("x", big)), big+2), scanned(big+5, "ok")},
			counts: Counts{Lines: 2},
		},
		{
			name:   "longer than the buffer, over the limit",
			limit:  big,
			in:     strings.Repeat("x", big+1) + "\r\nok\n" + strings.Repeat("y", 3*scanBufSize) + "\nok",
			want:   []pipeline.Line{scanned(big+6, "ok"), withSpan(scanned(big+6+3*scanBufSize+3, "ok"), 2)},
			counts: Counts{Lines: 4, TooLong: 2},
		},
		{
			name:   "longer than the buffer without newline",
			limit:  big,
			in:     "ok\n" + strings.Repeat("x", big),
			want:   []pipeline.Line{scanned(3, "ok"), withSpan(scanned(3+big, strings.Repeat("x", big)), big)},
			counts: Counts{Lines: 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, counts, err := scanAll(t, strings.NewReader(tc.in), scanInput(tc.limit))
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.counts, counts); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestScanOneByteReads checks that lines split across many short reads come
// out the same.
func TestScanOneByteReads(t *testing.T) {
	t.Parallel()
	got, _, err := scanAll(t, iotest.OneByteReader(strings.NewReader("ab\r\ncd\n12345\ne")), scanInput(4))
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	want := []pipeline.Line{withSpan(scanned(4, "ab"), 4), scanned(7, "cd"), withSpan(scanned(14, "e"), 1)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestScanStops(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		r       io.Reader
		emitErr error
		want    []pipeline.Line
		counts  Counts
		wantErr error
		msg     string
	}{
		{
			name:    "read error",
			ctx:     t.Context(),
			r:       io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(errBoom)),
			want:    []pipeline.Line{scanned(2, "a")},
			counts:  Counts{Lines: 1},
			wantErr: errBoom,
			msg:     "read in.log: boom",
		},
		{
			name:    "emit error",
			ctx:     t.Context(),
			r:       strings.NewReader("a\nb\n"),
			emitErr: errBoom,
			want:    []pipeline.Line{scanned(2, "a")},
			counts:  Counts{Lines: 1},
			wantErr: errBoom,
			msg:     "boom",
		},
		{
			name:    "cancelled",
			ctx:     cancelled,
			r:       strings.NewReader("a\n"),
			wantErr: context.Canceled,
			msg:     "context canceled",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []pipeline.Line
			counts, err := Scan(tc.ctx, tc.r, scanInput(0), func(l pipeline.Line) error {
				got = append(got, l)
				return tc.emitErr
			})
			if !errors.Is(err, tc.wantErr) || err.Error() != tc.msg {
				t.Errorf("Scan error = %v, want %q wrapping %v", err, tc.msg, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.counts, counts); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestScanDefaults checks that a zero Input still works: the default limit
// and the real clock.
func TestScanDefaults(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", DefaultMaxLineBytes)
	before := time.Now()
	got, counts, err := scanAll(t, strings.NewReader(long+"\n"+long+"x\n"), Input{Path: "-"})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if diff := cmp.Diff(Counts{Lines: 2, TooLong: 1}, counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if len(got) != 1 || got[0].Text != long || got[0].Path != "-" || got[0].ReadAt.Before(before) {
		t.Errorf("got %d lines, want one of %d bytes from - read after %v", len(got), len(long), before)
	}
}

// TestScanAllocs checks that Scan allocates only the Text of each line,
// plus a fixed amount per call (its reader and buffer).
func TestScanAllocs(t *testing.T) {
	const lines = 1000
	input := bytes.Repeat([]byte("2025-03-04 level=info msg=hello\r\n"), lines)
	var last pipeline.Line
	emit := func(l pipeline.Line) error { last = l; return nil }
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := Scan(context.Background(), bytes.NewReader(input), scanInput(0), emit); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > lines+4 {
		t.Errorf("Scan made %.0f allocations for %d lines, want at most %d", allocs, lines, lines+4)
	}
	if last.Text != "2025-03-04 level=info msg=hello" {
		t.Errorf("last line %q", last.Text)
	}
}

func BenchmarkScan(b *testing.B) {
	input := bytes.Repeat([]byte(`127.0.0.1 - - [04/Mar/2025:05:06:07 +0000] "GET /index.html HTTP/1.1" 200 512`+"\n"), 10000)
	emit := func(pipeline.Line) error { return nil }
	b.ReportAllocs()
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		if _, err := Scan(context.Background(), bytes.NewReader(input), scanInput(0), emit); err != nil {
			b.Fatal(err)
		}
	}
}
