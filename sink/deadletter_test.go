package sink

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// deadAt is the time dead-letter tests stamp their entries with.
var deadAt = time.Date(2025, 3, 10, 12, 0, 0, 5, time.UTC)

// newDeadSink makes a Sink on dst whose dead letters go to path, stamped
// deadAt, with retries that return at once.
func newDeadSink(t *testing.T, dst Destination, path string, max int64, log *slog.Logger) *Sink {
	t.Helper()
	s, err := New(Config{FlushInterval: time.Hour, DeadLetterPath: path, DeadLetterMaxBytes: max}, dst, log)
	if err != nil {
		t.Fatal(err)
	}
	s.dead.now = func() time.Time { return deadAt }
	s.jitter = func(time.Duration) time.Duration { return 0 }
	return s
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Refused and too large points go to the dead-letter file with their
// reason, status, message, file and offset, their neighbours to InfluxDB;
// every record is acked; the file replays as line protocol.
func TestRunDeadLetters(t *testing.T) {
	huge := fat("h", 9, splitAboveBytes+1)
	tests := []struct {
		name      string
		recs      []pipeline.Record
		fail      func(body string) error
		wantFile  string
		wantStats Stats
		wantAcks  []pipeline.Ack
	}{
		{
			name: "a refused point among good ones, from two files",
			recs: []pipeline.Record{
				record("/logs/a.log", 10, point("a", 1)),
				record("/logs/b.log", 70, point("bad", 2), point("b", 3)),
				record("/logs/a.log", 20, point("c", 4)),
			},
			fail: func(body string) error {
				if strings.Contains(body, "bad") {
					return &WriteError{StatusCode: 400, Body: `partial write: field type conflict: input field "v" dropped=1`, Refused: 1}
				}
				return nil
			},
			wantFile: `# time=2025-03-10T12:00:00.000000005Z reason=refused status=400 file="/logs/b.log" offset=70 error="partial write: field type conflict: input field \"v\" dropped=1"` + "\n" +
				line("bad", 2),
			wantStats: Stats{
				PointsWritten: 3, BatchesWritten: 2, WriteErrors: WriteErrors{Refused: 3},
				DeadLettered: DeadLettered{Refused: 1},
			},
			wantAcks: []pipeline.Ack{ack("/logs/a.log", 20), ack("/logs/b.log", 70)},
		},
		{
			name: "a request refused whole, without a message",
			recs: []pipeline.Record{record("f", 1, point("x", 1)), record("f\n\"quoted\"", 2, point("y", 2))},
			fail: func(string) error { return &WriteError{StatusCode: 422, Refused: 2} },
			wantFile: `# time=2025-03-10T12:00:00.000000005Z reason=refused status=422 file="f" offset=1 error="Unprocessable Entity"` + "\n" +
				line("x", 1) +
				`# time=2025-03-10T12:00:00.000000005Z reason=refused status=422 file="f\n\"quoted\"" offset=2 error="Unprocessable Entity"` + "\n" +
				line("y", 2),
			wantStats: Stats{WriteErrors: WriteErrors{Refused: 1}, DeadLettered: DeadLettered{Refused: 2}},
			wantAcks:  []pipeline.Ack{ack("f", 1), ack("f\n\"quoted\"", 2)},
		},
		{
			name: "a point too large",
			recs: []pipeline.Record{record("f", 5, point("a", 1)), record("f", 6, huge)},
			fail: func(body string) error {
				if len(body) > splitAboveBytes {
					return &WriteError{StatusCode: 413, Body: "request entity too large"}
				}
				return nil
			},
			wantFile:  `# time=2025-03-10T12:00:00.000000005Z reason=too_large status=413 file="f" offset=6 error="request entity too large"` + "\n" + lines(huge),
			wantStats: Stats{PointsWritten: 1, BatchesWritten: 1, WriteErrors: WriteErrors{TooLarge: 2}, DeadLettered: DeadLettered{TooLarge: 1}},
			wantAcks:  []pipeline.Ack{ack("f", 6)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := newFakeDst()
			dst.fail = func(n int) error { return tc.fail(dst.writes[n].Body) } // called under dst.mu
			path := filepath.Join(t.TempDir(), "state", "dead-letters.lp")
			var logs bytes.Buffer
			s := newDeadSink(t, dst, path, 0, slog.New(slog.NewTextHandler(&logs, nil)))
			acks, err := runAll(t, s, tc.recs...)
			if err != nil {
				t.Fatal(err)
			}
			got := readFile(t, path)
			if diff := cmp.Diff(tc.wantFile, got); diff != "" {
				t.Errorf("dead letters (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStats, s.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAcks, acks); diff != "" {
				t.Errorf("acks (-want +got):\n%s", diff)
			}
			// Replayable: a line-protocol decoder skips the comments.
			points, err := decode([]byte(got))
			if err != nil {
				t.Fatalf("decode the dead letters: %v", err)
			}
			var wantLP, gotLP []byte
			for _, l := range strings.SplitAfter(got, "\n") {
				if !strings.HasPrefix(l, "#") {
					wantLP = append(wantLP, l...)
				}
			}
			for i := range points {
				gotLP = AppendPoint(gotLP, &points[i])
			}
			if diff := cmp.Diff(string(wantLP), string(gotLP)); diff != "" {
				t.Errorf("decoded dead letters (-want +got):\n%s", diff)
			}
			for _, w := range []string{"level=ERROR", "points set aside in the dead-letter file", "dead_letters=" + path} {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, logs.String())
				}
			}
			if perm := mustStat(t, path).Mode().Perm(); perm != 0o640 {
				t.Errorf("dead-letter file mode %v, want 0640", perm)
			}
		})
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// The file holds at most DeadLetterMaxBytes: an entry that does not fit
// moves it to ".1", replacing the one there, and an entry larger than the
// bound goes alone into a fresh file. Entries stay whole and in order.
func TestDeadLetterRotation(t *testing.T) {
	entry := func(p pipeline.Point, off int64) string {
		return string(appendComment(nil, deadAt, reasonRefused, 400, lineOrigin{"f", off}, "no")) + lines(p)
	}
	var points []pipeline.Point
	var entries []string
	for i := range 7 {
		p := point("m", int64(i))
		points = append(points, p)
		entries = append(entries, entry(p, int64(i)))
	}
	size := int64(len(entries[0]))
	for _, e := range entries {
		if int64(len(e)) != size {
			t.Fatalf("entries differ in size: %q", entries)
		}
	}
	big := fat("big", 99, int(4*size))
	bigEntry := entry(big, 7)

	dst := newFakeDst()
	dst.fail = func(int) error { return &WriteError{StatusCode: 400, Body: "no"} }
	path := filepath.Join(t.TempDir(), "dead-letters.lp")
	s := newDeadSink(t, dst, path, 3*size, nil)
	s.cfg.BatchSize = 2 // batches {0,1} {2,3} {4,5} {6,big}
	var recs []pipeline.Record
	for i, p := range append(points, big) {
		recs = append(recs, record("f", int64(i), p))
	}
	if _, err := runAll(t, s, recs...); err != nil {
		t.Fatal(err)
	}
	// 0 1 2 | 3 4 5 | 6 | big: the last two files remain.
	if diff := cmp.Diff(entries[6], readFile(t, path+".1")); diff != "" {
		t.Errorf("%s.1 (-want +got):\n%s", path, diff)
	}
	if diff := cmp.Diff(bigEntry, readFile(t, path)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
	if diff := cmp.Diff(DeadLettered{Refused: 8}, s.Stats().DeadLettered); diff != "" {
		t.Errorf("dead lettered (-want +got):\n%s", diff)
	}

	// Without the big one: 0 1 2 | 3 4 5 | 6.
	path = filepath.Join(t.TempDir(), "dead-letters.lp")
	s = newDeadSink(t, dst, path, 3*size, nil)
	if _, err := runAll(t, s, recs[:7]...); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.Join(entries[3:6], ""), readFile(t, path+".1")); diff != "" {
		t.Errorf("%s.1 (-want +got):\n%s", path, diff)
	}
	if diff := cmp.Diff(entries[6], readFile(t, path)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// A dead-letter file left without a final newline (a crash mid-write)
// gets one before the next entry, and an existing file is appended to.
func TestDeadLetterTornFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead-letters.lp")
	if err := os.WriteFile(path, []byte("# old\nold v=1i 1\n# torn"), 0o640); err != nil {
		t.Fatal(err)
	}
	dst := newFakeDst()
	dst.fail = func(int) error { return &WriteError{StatusCode: 400, Body: "no"} }
	s := newDeadSink(t, dst, path, 0, nil)
	if _, err := runAll(t, s, record("f", 3, point("m", 1))); err != nil {
		t.Fatal(err)
	}
	want := "# old\nold v=1i 1\n# torn\n" +
		string(appendComment(nil, deadAt, reasonRefused, 400, lineOrigin{"f", 3}, "no")) + line("m", 1)
	if diff := cmp.Diff(want, readFile(t, path)); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
}

// A dead letter that cannot be written is counted as DeadLetterFailed and
// logged; the records are acked all the same, and the next dead letter is
// tried again.
func TestDeadLetterFailed(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantLog string
	}{
		{"state folder cannot be made", filepath.Join(notDir, "state", "dead-letters.lp"), "not a directory"},
		{"disk full", "/dev/full", "no space left on device"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Dir(tc.path)); tc.path == "/dev/full" && err != nil {
				t.Skip("no /dev/full")
			}
			dst := newFakeDst()
			dst.fail = func(int) error { return &WriteError{StatusCode: 400, Body: "no"} }
			var logs bytes.Buffer
			s := newDeadSink(t, dst, tc.path, 0, slog.New(slog.NewTextHandler(&logs, nil)))
			s.cfg.BatchSize = 1
			acks, err := runAll(t, s, record("f", 1, point("a", 1)), record("f", 2, point("b", 2)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]pipeline.Ack{ack("f", 1), ack("f", 2)}, acks); diff != "" {
				t.Errorf("acks (-want +got):\n%s", diff)
			}
			want := Stats{WriteErrors: WriteErrors{Refused: 2}, Dropped: Dropped{DeadLetterFailed: 2}}
			if diff := cmp.Diff(want, s.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			for _, w := range []string{"level=ERROR", "dead letter not written: points dropped", "file=f", "offset=1", tc.wantLog} {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, logs.String())
				}
			}
		})
	}
}
