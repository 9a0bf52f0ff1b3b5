package tailer

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// spanned is what the Span tests compare of a line or record: where it
// ends and how many bytes it covers, so where it starts.
type spanned struct {
	Text         string
	Offset, Span int64
}

func spans(lines []pipeline.Line) []spanned {
	var out []spanned
	for _, l := range lines {
		if l.EOF || l.Rules != nil || l.HasLatest {
			continue
		}
		out = append(out, spanned{l.Text, l.Offset, l.Span})
	}
	return out
}

// spanInput is the input of TestSpan's multiline cases: two records of
// "\r\n" lines, each with a line over the limit of 8 inside it (in the
// middle of the first, at the end of the second), and a last record
// without a line ending.
var spanInput = "[a\r\n b\r\n" + strings.Repeat("x", 20) + "\r\n c\r\n" + // 0..34
	"[d\r\n e\r\n" + strings.Repeat("y", 20) + "\r\n" + // 34..64
	"[f\r\n g" // 64..70

var spanRecords = []spanned{{"[a\n b\n c", 34, 34}, {"[d\n e", 64, 30}, {"[f\n g", 70, 6}}

// TestSpan: every line and record Scan makes covers exactly the bytes
// from the end of the one before it (or the input's start) to its own
// end, whatever its line endings, and a record its lines' endings and the
// too-long lines dropped inside it too. Extraction holds a window's
// lines from there (pipeline.Line.Span).
func TestSpan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		in    string
		m     *Multiline
		limit int
		want  []spanned
	}{
		{name: "lf", in: "a\nbb\n", want: []spanned{{"a", 2, 2}, {"bb", 5, 3}}},
		{name: "crlf", in: "a\r\nbb\r\n\r\n", want: []spanned{{"a", 3, 3}, {"bb", 7, 4}, {"", 9, 2}}},
		{name: "last line without newline", in: "a\r\nbb", want: []spanned{{"a", 3, 3}, {"bb", 5, 2}}},
		{name: "line after a too-long one", in: "123456789\r\nok\r\n", limit: 8, want: []spanned{{"ok", 15, 4}}},
		{name: "multiline crlf with too-long lines", in: spanInput, m: &Multiline{Start: regexp.MustCompile(`^\[`)}, limit: 8, want: spanRecords},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, borrowed := range []bool{false, true} {
				var got []spanned
				_, err := Scan(t.Context(), strings.NewReader(tc.in), Input{Path: "x", Multiline: tc.m, MaxLineBytes: tc.limit, Borrowed: borrowed},
					func(l pipeline.Line) error {
						got = append(got, spanned{strings.Clone(l.Text), l.Offset, l.Span})
						return nil
					})
				if err != nil {
					t.Fatal(err)
				}
				if diff := gocmp.Diff(tc.want, got); diff != "" {
					t.Errorf("borrowed %v (-want +got):\n%s", borrowed, diff)
				}
			}
		})
	}
}

// TestSpanFollowed: a follower's lines and records span as Scan's do,
// after a restart too, and the first line of a file followed from its end
// (and so resumed past its start) starts where reading began.
func TestSpanFollowed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, spanInput+"\r\n")
	src := source(path)
	src.Multiline = &Multiline{Start: regexp.MustCompile(`^\[`), Timeout: time.Hour}
	cfg := Config{Sources: []Source{src}, MaxLineBytes: 8, StateDir: filepath.Join(dir, "state")}

	// The last record ends at the end of the file, so it waits for its
	// timeout (an hour): it is not passed on here.
	acks := make(chan pipeline.Ack)
	r := startRunAcks(t, cfg, acks)
	got := r.recv(2)
	if diff := gocmp.Diff(spanRecords[:2], spans(got)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	acks <- pipeline.Ack{Origin: got[0].Origin}
	r.stop()

	appendTo(t, path, "[h\n")
	second := startRunAcks(t, cfg, make(chan pipeline.Ack))
	want := []spanned{spanRecords[0], spanRecords[1], {"[f\n g", 72, 8}}
	if diff := gocmp.Diff(want, spans(second.recv(3))); diff != "" {
		t.Errorf("after the restart (-want +got):\n%s", diff)
	}
	second.stop()

	// Followed from its end: reading begins at 10, where the line being
	// written starts, and resumes there after a restart.
	path = filepath.Join(dir, "adopted.log")
	write(t, path, "old\r\nold\r\nhal")
	cfg = Config{Sources: []Source{{Name: "app", Paths: []string{path}}}, StateDir: filepath.Join(dir, "state2")}
	acks = make(chan pipeline.Ack)
	r = startRunAcks(t, cfg, acks)
	r.waitRead(path)
	appendTo(t, path, "f\r\nnew\r\n")
	wantPlain := []spanned{{"half", 16, 6}, {"new", 21, 5}}
	got = r.recv(2)
	if diff := gocmp.Diff(wantPlain, spans(got)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	acks <- pipeline.Ack{Origin: got[0].Origin}
	r.stop()
	second = startRunAcks(t, cfg, make(chan pipeline.Ack))
	if diff := gocmp.Diff(wantPlain, spans(second.recv(2))); diff != "" {
		t.Errorf("after the restart (-want +got):\n%s", diff)
	}
}
