package tailer

import (
	"cmp"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// waitTimeout bounds every wait. Nothing here takes more than milliseconds
// when it works; the bound only turns a hang into a failure.
const waitTimeout = 5 * time.Second

// The Run tests are not parallel: each checks at its end that no tailer or
// nxadm goroutine is left, which other tests' goroutines would confuse.

// run is one Tailer.Run under test, with a fixed clock and a hand-driven
// poll ticker.
type run struct {
	t      *testing.T
	tl     *Tailer
	lines  chan pipeline.Line
	acks   chan pipeline.Ack // nil unless startRunAcks
	tick   chan time.Time
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startRun starts Run on cfg and arranges for it to be stopped, and checked
// for leftovers, when the test ends.
func startRun(t *testing.T, cfg Config, adjust ...func(*Tailer)) *run {
	t.Helper()
	return startRunAcks(t, cfg, nil, adjust...)
}

// startRunAcks is startRun with acks for Run to commit; stop closes acks,
// as the sink does when it returns.
func startRunAcks(t *testing.T, cfg Config, acks chan pipeline.Ack, adjust ...func(*Tailer)) *run {
	t.Helper()
	tl, err := New(cfg, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tl.now = fixedClock
	for _, a := range adjust {
		a(tl)
	}
	r := &run{t: t, tl: tl, lines: make(chan pipeline.Line, 4), acks: acks, tick: make(chan time.Time), done: make(chan error, 1)}
	tl.tick = r.tick
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- tl.Run(ctx, r.lines, acks) }()
	t.Cleanup(func() {
		if extra := r.stop(); len(extra) > 0 {
			t.Errorf("unexpected lines: %+v", extra)
		}
	})
	return r
}

// source is a source named "app" that reads its files from the beginning.
func source(paths ...string) Source {
	return Source{Name: "app", Paths: paths, StartAt: StartAtBeginning}
}

// poll makes Run match the globs again. It returns once Run has taken the
// tick, so everything Run did before, such as the discovery at startup, is
// done.
func (r *run) poll() {
	r.t.Helper()
	select {
	case r.tick <- time.Now():
	case <-time.After(waitTimeout):
		r.t.Fatalf("Run did not take a tick within %s", waitTimeout)
	}
}

// recv waits for the next n lines.
func (r *run) recv(n int) []pipeline.Line {
	r.t.Helper()
	timeout := time.After(waitTimeout)
	var got []pipeline.Line
	for len(got) < n {
		select {
		case l, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("lines closed after %d of %d lines: %+v", len(got), n, got)
			}
			got = append(got, l)
		case <-timeout:
			r.t.Fatalf("got %d of %d lines within %s: %+v", len(got), n, waitTimeout, got)
		}
	}
	return got
}

// stop cancels Run, returns the lines it still sent, and checks that it
// returned nil, closed the channel and left no goroutine behind. Only the
// first call does anything.
func (r *run) stop() []pipeline.Line {
	r.t.Helper()
	var extra []pipeline.Line
	r.once.Do(func() {
		r.cancel()
		timeout := time.After(waitTimeout)
		for open := true; open; {
			select {
			case l, ok := <-r.lines:
				if ok {
					extra = append(extra, l)
				}
				open = ok
			case <-timeout:
				r.t.Fatalf("lines not closed within %s of cancel", waitTimeout)
			}
		}
		if r.acks != nil {
			close(r.acks)
		}
		select {
		case err := <-r.done:
			if err != nil {
				r.t.Errorf("Run: %v", err)
			}
		case <-timeout:
			r.t.Fatalf("Run did not return within %s of cancel", waitTimeout)
		}
		r.tl.Close() // as the agent does: a restart may take the state folder
		waitFor(r.t, "tailer and nxadm goroutines to end", func() bool { return len(leftGoroutines()) == 0 })
	})
	return extra
}

// waitFor polls cond until it holds, and fails the test if it does not
// within waitTimeout. It is for state no channel announces.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	timeout := time.After(waitTimeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("waited %s for %s", waitTimeout, what)
		}
	}
}

// leftGoroutines returns the stacks of goroutines running tailer or
// nxadm/tail code, apart from test goroutines and nxadm's inotify tracker,
// which is started once per process and never stopped.
func leftGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var left []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "(*InotifyTracker).run") {
			continue
		}
		if strings.Contains(g, "github.com/nxadm/tail") || strings.Contains(g, "logmetrics/logmetrics/tailer.") {
			left = append(left, g)
		}
	}
	return left
}

// waitRead waits until the follower of path has read it to its end, so
// that what a test appends next is an append to a followed file.
func (r *run) waitRead(path string) {
	r.t.Helper()
	waitFor(r.t, "the follower to read "+path+" to its end", func() bool {
		r.tl.mu.Lock()
		defer r.tl.mu.Unlock()
		for _, f := range r.tl.live {
			if f.path == path && f.idle.Load() {
				return true
			}
		}
		return false
	})
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func mtime(t *testing.T, path string) time.Time {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

// followed is a Line as Run makes it for source "app", of a line ending
// in "\n" (withSpan sets another Span).
func followed(path string, off int64, text string, mod time.Time) pipeline.Line {
	return pipeline.Line{
		Origin:  pipeline.Origin{Path: path, Offset: off},
		Source:  "app",
		Text:    text,
		Span:    int64(len(text)) + 1,
		ReadAt:  readAt,
		ModTime: mod,
	}
}

// adopted is l flagged as the first line of a file followed from its end.
func adopted(l pipeline.Line) pipeline.Line {
	l.Adopted = true
	return l
}

func diffLines(t *testing.T, want, got []pipeline.Line) {
	t.Helper()
	// Identities are checked by the positions tests.
	if diff := gocmp.Diff(want, got, cmpopts.IgnoreFields(pipeline.Origin{}, "File"), cmpopts.IgnoreFields(pipeline.Line{}, "Progress")); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// TestRunFromBeginning also pins what nxadm's SeekInfo.Offset is: the offset
// just past the line's "\n", also for a line completed by a later write.
func TestRunFromBeginning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, "a\nbb\r\n\ncc")
	mod := mtime(t, path)
	r := startRun(t, Config{Sources: []Source{source(path)}})

	diffLines(t, []pipeline.Line{
		followed(path, 2, "a", mod),
		withSpan(followed(path, 6, "bb", mod), 4),
		followed(path, 7, "", mod),
	}, r.recv(3))

	// "cc" is held until its line ends.
	r.waitRead(path)
	appendTo(t, path, "c\r\nd\n")
	mod = mtime(t, path)
	diffLines(t, []pipeline.Line{
		withSpan(followed(path, 12, "ccc", mod), 5),
		followed(path, 14, "d", mod),
	}, r.recv(2))
}

func TestRunFromEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, "old\nold\nhal")
	r := startRun(t, Config{Sources: []Source{{Name: "app", Paths: []string{path}}}})

	// The line being written at startup is read whole; those before it
	// are skipped.
	r.waitRead(path)
	appendTo(t, path, "f\nnew\n")
	mod := mtime(t, path)
	diffLines(t, []pipeline.Line{
		adopted(followed(path, 13, "half", mod)),
		followed(path, 17, "new", mod),
	}, r.recv(2))
}

func TestRunTooLong(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, "ok\ntoo long\nfine\n")
	mod := mtime(t, path)
	r := startRun(t, Config{Sources: []Source{source(path)}, MaxLineBytes: 4})

	diffLines(t, []pipeline.Line{
		followed(path, 3, "ok", mod),
		followed(path, 17, "fine", mod),
	}, r.recv(2))
	want := Stats{
		Files:   []FileStats{{Source: "app", Path: path, Counts: Counts{Lines: 3, TooLong: 1}, Size: 17}},
		Sources: []SourceStats{{Source: "app", Counts: Counts{Lines: 3, TooLong: 1}}},
	}
	if diff := gocmp.Diff(want, r.tl.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

// TestRunNewFile checks that a file appearing after startup is found at the
// next poll and read from its beginning, while a file present at startup
// keeps its StartAt.
func TestRunNewFile(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "a.log")
	write(t, old, "skipped\n")
	r := startRun(t, Config{Sources: []Source{{Name: "app", Paths: []string{filepath.Join(dir, "*.log")}}}})
	r.poll() // startup discovery is done

	fresh := filepath.Join(dir, "b.log")
	write(t, fresh, "1\n2\n")
	mod := mtime(t, fresh)
	r.poll()
	diffLines(t, []pipeline.Line{
		followed(fresh, 2, "1", mod),
		followed(fresh, 4, "2", mod),
	}, r.recv(2))

	r.waitRead(old)
	appendTo(t, old, "3\n")
	diffLines(t, []pipeline.Line{adopted(followed(old, 10, "3", mtime(t, old)))}, r.recv(1))
}

// TestRunGlobs checks "**", both kinds of exclusion, and that a file matched
// by two sources is followed once, for the first.
func TestRunGlobs(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"top.log", "a/b/deep.log", "a/old.log.gz", "skip/s.log", "a/notes.txt"} {
		write(t, filepath.Join(dir, name), name+"\n")
	}
	top, deep := filepath.Join(dir, "top.log"), filepath.Join(dir, "a/b/deep.log")
	app := source(filepath.Join(dir, "**/*.log"), filepath.Join(dir, "**/*.gz"))
	app.Exclude = []string{"*.gz", filepath.Join(dir, "skip/**")}
	also := source(top)
	also.Name = "also"
	r := startRun(t, Config{Sources: []Source{app, also}})
	r.poll()

	got := r.recv(2)
	slices.SortFunc(got, func(a, b pipeline.Line) int { return cmp.Compare(a.Path, b.Path) })
	diffLines(t, []pipeline.Line{
		followed(deep, 13, "a/b/deep.log", mtime(t, deep)),
		followed(top, 8, "top.log", mtime(t, top)),
	}, got)
	want := Stats{
		Files: []FileStats{
			{Source: "app", Path: deep, Counts: Counts{Lines: 1}, Size: 13},
			{Source: "app", Path: top, Counts: Counts{Lines: 1}, Size: 8},
		},
		Sources: []SourceStats{{Source: "app", Counts: Counts{Lines: 2}}},
	}
	if diff := gocmp.Diff(want, r.tl.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

// TestRunCancel checks that cancelling stops Run promptly even while it is
// blocked on a full channel with a backlog to read.
func TestRunCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, strings.Repeat("line\n", 10000))
	r := startRun(t, Config{Sources: []Source{source(path)}})
	r.recv(1)

	start := time.Now()
	extra := r.stop()
	if took := time.Since(start); took > time.Second {
		t.Errorf("Run took %s to stop", took)
	}
	if len(extra) > 10 {
		t.Errorf("%d lines sent after cancel; sends should give way to ctx", len(extra))
	}
}

// TestRunNoLeak counts all goroutines as well, in case one escapes the
// stack filter of leftGoroutines.
func TestRunNoLeak(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"a.log", "b.log", "c.log"} {
		paths = append(paths, filepath.Join(dir, name))
		write(t, paths[len(paths)-1], "x\n")
	}
	// A first run starts nxadm's process-wide tracker, which stays.
	warm := startRun(t, Config{Sources: []Source{source(paths[0])}})
	warm.recv(1)
	warm.waitRead(paths[0])
	warm.stop()
	before := runtime.NumGoroutine()

	r := startRun(t, Config{Sources: []Source{source(filepath.Join(dir, "*.log"))}})
	r.recv(3)
	for _, p := range paths {
		r.waitRead(p)
	}
	r.stop()
	waitFor(t, "goroutines back to the count before Run", func() bool { return runtime.NumGoroutine() <= before })
}

// TestRunSamePathAgain follows a file, stops, and follows it again in the
// same process, as a restart of the tailer would. Calling nxadm's Cleanup
// after Stop would break this: the second tail would never hear of appends.
func TestRunSamePathAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, "1\n")
	first := startRun(t, Config{Sources: []Source{source(path)}})
	first.recv(1)
	first.waitRead(path)
	first.stop()

	second := startRun(t, Config{Sources: []Source{{Name: "app", Paths: []string{path}}}})
	second.waitRead(path)
	appendTo(t, path, "2\n")
	diffLines(t, []pipeline.Line{adopted(followed(path, 4, "2", mtime(t, path)))}, second.recv(1))
}

func TestRunTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, "")
	r := startRun(t, Config{Sources: []Source{source(path)}})
	r.poll() // the first Run is running
	lines := make(chan pipeline.Line)
	if err := r.tl.Run(t.Context(), lines, nil); err == nil {
		t.Error("second Run returned nil")
	}
	if _, ok := <-lines; ok {
		t.Error("second Run did not close its channel")
	}
}
