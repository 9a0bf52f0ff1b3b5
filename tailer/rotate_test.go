//go:build unix

package tailer

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// fastRotation shortens the follower's timing for a test.
func fastRotation(t *testing.T) {
	ri, ii, rg := readInterval, idleInterval, rotateGrace
	readInterval, idleInterval, rotateGrace = 5*time.Millisecond, 10*time.Millisecond, 100*time.Millisecond
	t.Cleanup(func() { readInterval, idleInterval, rotateGrace = ri, ii, rg })
}

// texts are the texts of lines that are not EOF markers.
func texts(lines []pipeline.Line) []string {
	var out []string
	for _, l := range lines {
		if !l.EOF {
			out = append(out, l.Text)
		}
	}
	return out
}

// numbered returns "prefix0\n" ... for lines [from, to).
func numbered(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s%d\n", prefix, i)
	}
	return b.String()
}

func want(prefix string, from, to int) []string {
	return strings.Split(strings.TrimSuffix(numbered(prefix, from, to), "\n"), "\n")
}

// recvUntilEOF receives lines until the EOF marker of a released file, and
// returns them with the marker last.
func (r *run) recvUntilEOF() []pipeline.Line {
	r.t.Helper()
	var got []pipeline.Line
	for {
		l := r.recv(1)[0]
		got = append(got, l)
		if l.EOF {
			return got
		}
	}
}

// TestRotateRenameCreate: logrotate's default. What the application writes
// to the renamed file before it reopens its log (later, here) is read to
// the end, then the file is released; the new file is read from 0.
func TestRotateRenameCreate(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, numbered("a", 0, 3))
	r := startRun(t, Config{Sources: []Source{source(path)}})
	if diff := cmp.Diff(want("a", 0, 3), texts(r.recv(3))); diff != "" {
		t.Fatalf("before rotation (-want +got):\n%s", diff)
	}
	app, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	// The application still writes to the old file for a while.
	for i := 3; i < 6; i++ {
		if _, err := app.WriteString(numbered("a", i, i+1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	app.Close()
	old := r.recvUntilEOF()
	if diff := cmp.Diff(want("a", 3, 6), texts(old)); diff != "" {
		t.Errorf("old file after the rename (-want +got):\n%s", diff)
	}
	write(t, path, numbered("b", 0, 2))
	r.poll()
	got := r.recv(2)
	if diff := cmp.Diff(want("b", 0, 2), texts(got)); diff != "" {
		t.Errorf("new file (-want +got):\n%s", diff)
	}
	if got[0].File == old[0].File {
		t.Error("the new file has the old file's identity")
	}
}

// TestRotateDelete: a deleted file is read to its end through the open
// descriptor, then released; one created again under its name is new.
func TestRotateDelete(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, numbered("a", 0, 2))
	r := startRun(t, Config{Sources: []Source{source(path)}})
	r.recv(2)
	app, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := app.WriteString(numbered("a", 2, 4)); err != nil { // the last write
		t.Fatal(err)
	}
	app.Close()
	if diff := cmp.Diff(want("a", 2, 4), texts(r.recvUntilEOF())); diff != "" {
		t.Errorf("deleted file (-want +got):\n%s", diff)
	}
	write(t, path, numbered("b", 0, 1))
	r.poll()
	if diff := cmp.Diff(want("b", 0, 1), texts(r.recv(1))); diff != "" {
		t.Errorf("recreated file (-want +got):\n%s", diff)
	}
	waitFor(t, "the deleted file's descriptor to close", func() bool { return !openFileNamed(t, path+" (deleted)") })
}

// openFileNamed reports whether this process has a descriptor open on a
// file whose /proc link reads name.
func openFileNamed(t *testing.T, name string) bool {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && target == name {
			return true
		}
	}
	return false
}

// TestRotateNameTheGlobMatches: dateext rotation to a name the glob also
// matches. The renamed file is known by its identity, not read again as a
// new file, and is released once read; the new file is read from 0.
func TestRotateNameTheGlobMatches(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, numbered("a", 0, 5))
	r := startRun(t, Config{Sources: []Source{source(filepath.Join(dir, "app.log*"))}})
	r.recv(5)
	if err := os.Rename(path, path+"-20250310"); err != nil {
		t.Fatal(err)
	}
	write(t, path, numbered("b", 0, 2))
	var got []pipeline.Line
	for range 3 { // discoveries while the old file is read out and after
		r.poll()
		time.Sleep(2 * rotateGrace)
	}
	got = append(got, r.recv(3)...) // the new file's 2 lines and the old one's EOF
	slices.SortFunc(got, func(a, b pipeline.Line) int { return strings.Compare(a.Text, b.Text) })
	if diff := cmp.Diff(want("b", 0, 2), texts(got)); diff != "" {
		t.Errorf("after rotation (-want +got):\n%s", diff)
	}
	if extra := r.stop(); len(extra) > 0 {
		t.Errorf("lines read twice: %+v", texts(extra))
	}
}

// TestRotateCopyTruncate: the file is copied and truncated in place, also
// again and again; reading restarts at 0 of the new content, as a new
// identity, and no line is read twice.
func TestRotateCopyTruncate(t *testing.T) {
	fastRotation(t)
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, numbered("a", 0, 3))
	r := startRun(t, Config{Sources: []Source{source(path)}})
	prev := r.recv(3)[0].File
	for round, prefix := range []string{"b", "c", "d"} {
		r.waitRead(path)
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		r.waitTruncated(path)
		// The old identity is released, so extract frees its state.
		if eof := r.recv(1)[0]; !eof.EOF || eof.File != prev {
			t.Errorf("round %d: %+v, want the EOF of %+v", round, eof, prev)
		}
		appendTo(t, path, numbered(prefix, 0, 2))
		got := r.recv(2)
		if diff := cmp.Diff(want(prefix, 0, 2), texts(got)); diff != "" {
			t.Errorf("round %d (-want +got):\n%s", round, diff)
		}
		if got[0].File == prev || got[1].Offset != int64(len(numbered(prefix, 0, 2))) {
			t.Errorf("round %d: identity %+v offset %d", round, got[0].File, got[1].Offset)
		}
		prev = got[0].File
	}
}

// waitTruncated waits until the follower of path has seen it truncated.
func (r *run) waitTruncated(path string) {
	r.t.Helper()
	waitFor(r.t, "the follower to see "+path+" truncated", func() bool {
		r.tl.mu.Lock()
		defer r.tl.mu.Unlock()
		for _, f := range r.tl.live {
			if f.path == path && f.truncations.Load() > 0 {
				f.truncations.Add(-1)
				return true
			}
		}
		return false
	})
}

// TestRotateTruncateRefill: the file is truncated and refilled past the
// read offset before the follower looks (the review's lost-lines case): the
// new content is read from 0, whole lines only, none lost.
func TestRotateTruncateRefill(t *testing.T) {
	fastRotation(t)
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, numbered("a", 0, 3))
	r := startRun(t, Config{Sources: []Source{source(path)}})
	r.recv(3)
	r.waitRead(path)
	// One write: the new file is already longer than the read offset.
	write(t, path, numbered("new-line-", 0, 5))
	if diff := cmp.Diff(want("new-line-", 0, 5), texts(r.recv(6))); diff != "" { // and the old one's EOF
		t.Errorf("refilled file (-want +got):\n%s", diff)
	}
}

// TestSplitterBoundsMemory: a line without end, fed a MiB at a time, holds
// at most limit+2 bytes, and the line after it is read whole.
func TestSplitterBoundsMemory(t *testing.T) {
	sp := splitter{limit: 1000}
	chunk := []byte(strings.Repeat("x", 1<<20))
	var got []line
	emit := func(l line) error {
		l.text = slices.Clone(l.text)
		got = append(got, l)
		return nil
	}
	for range 10 {
		if err := sp.feed(chunk, emit); err != nil {
			t.Fatal(err)
		}
		if cap(sp.part) > 2*1002 { // append may round up
			t.Fatalf("holds %d bytes of an unfinished line", cap(sp.part))
		}
	}
	if err := sp.feed([]byte("\nok\n"), emit); err != nil {
		t.Fatal(err)
	}
	want := []line{{end: 10<<20 + 1, tooLong: true}, {text: []byte("ok"), start: 10<<20 + 1, end: 10<<20 + 4}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(line{})); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// TestDescriptorBudget: past the files it may hold open, the tailer leaves
// the rest for later, says so in Stats, tries them at every discovery, and
// follows them once a descriptor is free.
func TestDescriptorBudget(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	for _, name := range []string{"a.log", "b.log", "c.log"} {
		write(t, filepath.Join(dir, name), name+"\n")
	}
	r := startRun(t, Config{Sources: []Source{source(filepath.Join(dir, "*.log"))}}, func(tl *Tailer) { tl.maxOpen = 2 })
	got := texts(r.recv(2))
	slices.Sort(got)
	if diff := cmp.Diff([]string{"a.log", "b.log"}, got); diff != "" {
		t.Errorf("first lines (-want +got):\n%s", diff)
	}
	r.poll()
	var c FileStats
	waitFor(t, "a second attempt at c.log", func() bool {
		st := r.tl.Stats()
		c = st.Files[len(st.Files)-1]
		return c.Attempts == 2
	})
	if c.Path != filepath.Join(dir, "c.log") || c.Err == nil || !strings.Contains(c.Err.Error(), "2 files open") {
		t.Errorf("Stats of the file not opened: %+v", c)
	}
	if err := os.Remove(filepath.Join(dir, "a.log")); err != nil {
		t.Fatal(err)
	}
	r.recvUntilEOF() // a.log released: a descriptor is free
	r.poll()
	if diff := cmp.Diff([]string{"c.log"}, texts(r.recv(1))); diff != "" {
		t.Errorf("after a release (-want +got):\n%s", diff)
	}
}

// TestAlikeFilesAreRead: files the glob matches that start alike (daily
// logs opening with the same header, or the same content) are files of
// their own, all read; only a rotated name of a followed file can be its
// copy.
func TestAlikeFilesAreRead(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	same := strings.Repeat("the same header line of this application\n", 30) // over 1 KiB
	for _, name := range []string{"a.log", "b.log", "a10.log"} {
		write(t, filepath.Join(dir, name), same)
	}
	r := startRun(t, Config{Sources: []Source{source(filepath.Join(dir, "*.log"))}})
	r.recv(90)
	r.poll()
}

// TestCopyTruncateTwiceWhileHeldUp: copytruncate twice while the follower is
// held up (nothing takes its lines, as when InfluxDB is down): the rest of
// the first content comes from its copy, the whole second content from the
// copy it never saw as the live file, then the third from the file.
func TestCopyTruncateTwiceWhileHeldUp(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, numbered("a", 0, 20))
	r := startRun(t, Config{Sources: []Source{source(path)}})
	got := texts(r.recv(2)) // the follower is now blocked on the channel
	copyTruncateWith(t, path, filepath.Join(dir, "app.log.1"), numbered("b", 0, 20))
	copyTruncateWith(t, path, filepath.Join(dir, "app.log.2"), numbered("c", 0, 20))
	for len(got) < 60 {
		got = append(got, texts(r.recv(1))...)
	}
	slices.Sort(got)
	want := append(append(want("a", 0, 20), want("b", 0, 20)...), want("c", 0, 20)...)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// TestCopyTruncateWhileReadingMissed: copytruncate twice while the
// follower is held up, then once more while it reads the missed copy
// (still held up): the content of that third copy, made after the follower
// listed the copies to read, is read from it before the file's new content,
// not lost to the file's truncation (the soak's copytruncate behind an
// outage lost a whole content so).
func TestCopyTruncateWhileReadingMissed(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, numbered("a", 0, 20))
	r := startRun(t, Config{Sources: []Source{source(path)}})
	got := texts(r.recv(2)) // the follower is now blocked on the channel
	copyTruncateWith(t, path, filepath.Join(dir, "app.log.1"), numbered("b", 0, 20))
	copyTruncateWith(t, path, filepath.Join(dir, "app.log.2"), numbered("c", 0, 20))
	// Until the follower is inside the missed copy app.log.2 (b), held
	// up by the channel with most of it unread; the file holds c.
	for !slices.Contains(got, want("b", 0, 1)[0]) {
		got = append(got, texts(r.recv(1))...)
	}
	copyTruncateWith(t, path, filepath.Join(dir, "app.log.3"), numbered("d", 0, 20))
	for len(got) < 80 {
		got = append(got, texts(r.recv(1))...)
	}
	slices.Sort(got)
	want := slices.Concat(want("a", 0, 20), want("b", 0, 20), want("c", 0, 20), want("d", 0, 20))
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// TestReleasedInodeReused: a file opened empty, written, deleted and
// released; a new file that gets its inode is a new file, not the released
// one (which was told by the few bytes it had when opened).
func TestReleasedInodeReused(t *testing.T) {
	fastRotation(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "")
	r := startRun(t, Config{Sources: []Source{source(path)}})
	r.poll()
	appendTo(t, path, numbered("a", 0, 3))
	r.recv(3)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := inodeOf(st)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	r.recvUntilEOF()
	// Create files until one gets the released inode (ext4 and tmpfs
	// reuse freed inodes soon); the others are moved aside.
	for i := 0; ; i++ {
		write(t, path, numbered("b", 0, 2))
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if in, _ := inodeOf(st); in == old {
			break
		}
		if i == 50 {
			t.Skip("the file system did not reuse the inode")
		}
		if err := os.Rename(path, filepath.Join(dir, fmt.Sprintf("other%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	r.poll()
	if diff := cmp.Diff(want("b", 0, 2), texts(r.recv(2))); diff != "" {
		t.Errorf("the file on the reused inode (-want +got):\n%s", diff)
	}
}

// slowPolls makes the follower look at its file only every d, so that a
// test can rotate it more than once between two looks.
func slowPolls(t *testing.T, d time.Duration) {
	ri, ii := readInterval, idleInterval
	readInterval, idleInterval = d, d
	t.Cleanup(func() { readInterval, idleInterval = ri, ii })
}

// copyTruncateWith is copyTruncate, the application then writing next at 0
// before the follower looks.
func copyTruncateWith(t *testing.T, path, to, next string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, to, string(data))
	write(t, path, next) // truncate and write the next content
}

// copyTruncate copies path to to and truncates path: logrotate's
// copytruncate, the application appending on at 0.
func copyTruncate(t *testing.T, path, to string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, to, string(data))
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

// texts receives lines until n of them are not EOF markers, and returns
// their texts.
func (r *run) texts(n int) []string {
	r.t.Helper()
	var got []string
	for len(got) < n {
		got = append(got, texts(r.recv(1))...)
	}
	return got
}

// TestCopyTruncateWhileEmpty: a file identified while empty is written,
// copied and truncated, then written again, all between two looks. Its
// fingerprint (of no bytes) cannot tell the contents apart: the copy made
// since the follower last saw the file is what it missed, and is read
// before the file's new content.
func TestCopyTruncateWhileEmpty(t *testing.T) {
	slowPolls(t, time.Second)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "")
	r := startRun(t, Config{Sources: []Source{source(path)}})
	r.waitRead(path)
	appendTo(t, path, numbered("a", 0, 20))
	copyTruncate(t, path, filepath.Join(dir, "app.log.1"))
	appendTo(t, path, numbered("b", 0, 20))
	// Whenever the follower looks (a loaded machine may let it look in
	// between), each line comes once, in order.
	got := r.texts(40)
	if diff := cmp.Diff(append(want("a", 0, 20), want("b", 0, 20)...), got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// TestCopyNotTruncatedYet: a file identified while empty is written and
// copied, and the follower looks before the truncation. The copy is of
// what the file holds now, not a content missed: its lines are read once,
// from the file; after the truncation the copy holds no more of them.
func TestCopyNotTruncatedYet(t *testing.T) {
	slowPolls(t, 200*time.Millisecond)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "")
	r := startRun(t, Config{Sources: []Source{source(path)}})
	r.waitRead(path)
	appendTo(t, path, numbered("a", 0, 20))
	write(t, filepath.Join(dir, "app.log.1"), numbered("a", 0, 20))
	got := r.texts(20)
	r.waitRead(path)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, numbered("b", 0, 20))
	got = append(got, r.texts(20)...)
	if diff := cmp.Diff(append(want("a", 0, 20), want("b", 0, 20)...), got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// TestCopyTruncateFasterThanPolls: an application writing without pause
// while its log is copied and truncated every 300 lines, faster than the
// follower looks (every 0.7 s here), so that whole contents are written,
// copied and truncated between two looks, and a content is truncated
// before its first read: every line is read exactly once.
func TestCopyTruncateFasterThanPolls(t *testing.T) {
	slowPolls(t, 700*time.Millisecond)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "")
	r := startRun(t, Config{Sources: []Source{source(path)}})
	const rounds, perRound = 8, 300
	wrote := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			wrote <- err
			return
		}
		defer f.Close()
		for round := range rounds {
			for i := range perRound {
				if _, err := fmt.Fprintf(f, "r%d-%d\n", round, i); err != nil {
					wrote <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
			if round < rounds-1 {
				data, err := os.ReadFile(path)
				if err == nil {
					err = os.WriteFile(filepath.Join(dir, fmt.Sprintf("app.log.%d", round+1)), data, 0o644)
				}
				if err == nil {
					err = f.Truncate(0)
				}
				if err != nil {
					wrote <- err
					return
				}
			}
		}
		wrote <- nil
	}()
	var wantLines []string
	for round := range rounds {
		wantLines = append(wantLines, want(fmt.Sprintf("r%d-", round), 0, perRound)...)
	}
	got := r.texts(len(wantLines))
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantLines, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}
