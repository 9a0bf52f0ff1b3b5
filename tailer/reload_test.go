package tailer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// reload runs Reload with sources while the test receives: the marker
// waits for room in the lines channel. It returns the lines received up
// to the marker, without it.
func (r *run) reload(sources ...Source) []pipeline.Line {
	r.t.Helper()
	return r.startReload(sources...)()
}

// startReload starts Reload with sources and returns what finishes it:
// receiving the lines up to the marker, which it returns without it.
// Until then the test receives nothing, so the followers Reload stops
// cannot send meanwhile.
func (r *run) startReload(sources ...Source) func() []pipeline.Line {
	r.t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- r.tl.Reload(context.Background(), sources, pipeline.Line{Rules: "marker"}) }()
	return func() []pipeline.Line {
		r.t.Helper()
		var before []pipeline.Line
		for {
			l := r.recv(1)[0]
			if l.Rules != nil {
				break
			}
			before = append(before, l)
		}
		if err := <-errc; err != nil {
			r.t.Fatalf("Reload: %v", err)
		}
		return before
	}
}

// fileStats returns the entries of Stats.Files for path.
func fileStats(st Stats, path string) []FileStats {
	var out []FileStats
	for _, f := range st.Files {
		if f.Path == path {
			out = append(out, f)
		}
	}
	return out
}

// sourceLines returns the lines Stats counts for each source.
func sourceLines(st Stats) map[string]int64 {
	out := map[string]int64{}
	for _, s := range st.Sources {
		out[s.Source] = s.Lines
	}
	return out
}

// A changed source (start_at, back and forth) goes on following the
// files it still matches with the same follower: nothing stopped, the
// file shown once, its counts whole.
func TestReloadKeepsFollowersOfChangedSource(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, numbered("a", 0, 1))
	r := startRun(t, Config{Sources: []Source{source(path)}})
	r.recv(1)
	r.waitRead(path)
	r.tl.mu.Lock()
	first := r.tl.live[r.tl.all[0].in]
	r.tl.mu.Unlock()
	for i := range 3 {
		s := source(path)
		if i%2 == 0 {
			s.StartAt = StartAtEnd
		}
		if before := r.reload(s); len(before) > 0 {
			t.Fatalf("lines before the marker: %+v", before)
		}
	}
	appendTo(t, path, numbered("b", 0, 1))
	if got := texts(r.recv(1)); got[0] != "b0" {
		t.Fatalf("got %q, want b0", got)
	}
	r.tl.mu.Lock()
	now := r.tl.live[first.in]
	r.tl.mu.Unlock()
	if now != first {
		t.Errorf("the follower of %s was replaced by the reloads", path)
	}
	st := r.tl.Stats()
	if fs := fileStats(st, path); len(fs) != 1 || fs[0].Lines != 2 {
		t.Errorf("Stats.Files for %s after 3 reloads: %+v, want it once with 2 lines", path, fs)
	}
	if got := sourceLines(st); len(got) != 1 || got["app"] != 2 {
		t.Errorf("Sources' lines %v, want app: 2", got)
	}
}

// A file its source stops following (paths changed) leaves Stats.Files,
// its counts kept in the source's; followed again by the same source, it
// resumes where it stopped and shows once, its counts and gauges going on
// from the stopped follower's. Under a renamed source, the lines read
// before stay the old source's.
func TestReloadParkedFileStatsOnce(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	path, other := filepath.Join(dir, "app.log"), filepath.Join(dir, "other.log")
	write(t, path, numbered("a", 0, 2))
	r := startRun(t, Config{Sources: []Source{source(path)}})
	r.recv(2)
	r.waitRead(path)

	r.reload(source(other)) // app no longer follows app.log
	st := r.tl.Stats()
	if fs := fileStats(st, path); len(fs) != 0 {
		t.Errorf("Stats.Files still shows %s, no longer followed: %+v", path, fs)
	}
	if got := sourceLines(st); got["app"] != 2 {
		t.Errorf("Sources' lines %v, want app: 2", got)
	}
	appendTo(t, path, numbered("b", 0, 1)) // read once it is followed again

	r.reload(source(path))
	if got := texts(r.recv(1)); got[0] != "b0" {
		t.Fatalf("got %q, want b0: resumed where it stopped", got)
	}
	r.waitRead(path)
	st = r.tl.Stats()
	fs := fileStats(st, path)
	// No ack came: Committed is the stopped follower's 0, not the offset
	// the new one starts at.
	if len(fs) != 1 || fs[0].Lines != 3 || fs[0].Committed != 0 {
		t.Errorf("Stats.Files for %s: %+v, want it once with 3 lines, committed 0", path, fs)
	}
	if got := sourceLines(st); len(got) != 1 || got["app"] != 3 {
		t.Errorf("Sources' lines %v, want app: 3", got)
	}

	web := source(path)
	web.Name = "web"
	r.reload(web)
	appendTo(t, path, numbered("c", 0, 1))
	if l := r.recv(1)[0]; l.Text != "c0" || l.Source != "web" {
		t.Fatalf("got %+v, want c0 of web", l)
	}
	r.waitRead(path)
	st = r.tl.Stats()
	if fs := fileStats(st, path); len(fs) != 1 || fs[0].Source != "web" || fs[0].Lines != 1 {
		t.Errorf("Stats.Files for %s: %+v, want it once, of web with 1 line", path, fs)
	}
	if got := sourceLines(st); got["app"] != 3 || got["web"] != 1 {
		t.Errorf("Sources' lines %v, want app: 3, web: 1", got)
	}
}

// A reload stops a follower that waits, with a line in hand, for room in
// the lines channel (its source renamed); the follower that resumes the
// file reads that line again. Each line sent is counted once, to the
// source whose follower sent it, and each is sent once.
func TestReloadCountsEachLineOnce(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, numbered("a", 0, 100))
	r := startRun(t, Config{Sources: []Source{source(path)}})
	waitFor(t, "the lines channel to fill", func() bool { return len(r.lines) == cap(r.lines) })
	web := source(path)
	web.Name = "web"
	// Nothing is received until app's follower is stopped: it is stopped
	// blocked on its 5th line, with the channel's 4 sent. Receiving
	// meanwhile would let it send all 100 first, and web resume at the
	// end with none.
	finish := r.startReload(web)
	waitFor(t, "the reload to park "+path, func() bool {
		r.tl.mu.Lock()
		defer r.tl.mu.Unlock()
		return len(r.tl.parked) == 1
	})
	sent := finish()
	for len(sent) < 100 {
		sent = append(sent, r.recv(1)...)
	}
	if got := strings.Join(texts(sent), ","); got != strings.Join(want("a", 0, 100), ",") {
		t.Fatalf("lines sent: %s", got)
	}
	n := cap(r.lines)
	for i, l := range sent {
		src := "web"
		if i < n {
			src = "app"
		}
		if l.Source != src {
			t.Errorf("line %d %q of %s, want %s", i, l.Text, l.Source, src)
		}
	}
	if got := sourceLines(r.tl.Stats()); len(got) != 2 || got["app"] != int64(n) || got["web"] != int64(100-n) {
		t.Errorf("Sources' lines %v, want app: %d, web: %d", got, n, 100-n)
	}
}

// A reload that changes a source while one of its files, rotated away,
// is still being read to its end: that follower goes on, the rest of the
// rotated file is read once, and the new file the changed source finds.
func TestReloadChangedSourceDrainsRotatedFile(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	const n = 30000 // more than one read: a backlog left at the reload
	write(t, path, numbered("b", 0, n))
	r := startRun(t, Config{Sources: []Source{source(path)}})
	waitFor(t, "the lines channel to fill", func() bool { return len(r.lines) == cap(r.lines) })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, path, numbered("c", 0, 2))
	got := texts(r.reload(source(path, filepath.Join(dir, "other.log"))))
	// Until the rotated file's EOF, then the new file's lines.
	var eof bool
	timeout := time.After(waitTimeout)
	for !eof || len(got) < n+2 {
		select {
		case l := <-r.lines:
			if l.EOF {
				eof = true
				continue
			}
			got = append(got, l.Text)
		case r.tick <- time.Now(): // rediscoveries
		case <-timeout:
			t.Fatalf("got %d of %d lines (EOF %v) within %s", len(got), n+2, eof, waitTimeout)
		}
	}
	seen := map[string]int{}
	for _, s := range got {
		seen[s]++
	}
	for _, w := range append(want("b", 0, n), want("c", 0, 2)...) {
		if seen[w] != 1 {
			t.Fatalf("%q read %d times, want once", w, seen[w])
		}
	}
	if len(got) != n+2 {
		t.Errorf("%d lines read, want %d", len(got), n+2)
	}
}

// syncBuffer is a bytes.Buffer for a log written by several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A removed source's followers all stop, a rotated file's too (its rules
// are gone): the rest of it left unread is logged at WARN with the file
// and where reading stopped, and the file leaves Stats.Files.
func TestReloadRemovedSourceLogsRotatedRest(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	path, other := filepath.Join(dir, "app.log"), filepath.Join(dir, "other.log")
	write(t, path, numbered("b", 0, 30000))
	var logged syncBuffer
	r := startRun(t, Config{Sources: []Source{source(path)}}, func(tl *Tailer) {
		tl.log = slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), &logged), nil))
	})
	waitFor(t, "the lines channel to fill", func() bool { return len(r.lines) == cap(r.lines) })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	before := r.reload(Source{Name: "other", Paths: []string{other}})
	last := before[len(before)-1]
	if last.Path != path {
		t.Fatalf("last line before the marker: %+v", last)
	}
	warn := fmt.Sprintf("file=%s inode=%d offset=%d", path, last.File.Ino, last.Offset)
	if l := logged.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, warn) {
		t.Errorf("no WARN with %q in the log:\n%s", warn, l)
	}
	if fs := fileStats(r.tl.Stats(), path); len(fs) != 0 {
		t.Errorf("Stats.Files shows %s, no longer followed: %+v", path, fs)
	}
}

// A file two sources match belongs to the first; a reload that removes
// the first leaves the second unchanged, and its next discovery resumes
// the file where the first stopped, not from its start.
func TestReloadUnchangedSourceResumesParkedFile(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, numbered("a", 0, 2))
	first, second := source(path), source(path)
	second.Name = "second"
	r := startRun(t, Config{Sources: []Source{first, second}})
	r.recv(2)
	r.waitRead(path)
	r.reload(second)
	appendTo(t, path, numbered("b", 0, 1))
	r.poll()
	if l := r.recv(1)[0]; l.Text != "b0" || l.Source != "second" {
		t.Fatalf("got %+v, want b0 of second", l)
	}
}
