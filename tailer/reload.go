package tailer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// Reloading the sources while Run runs.
//
// Reload hands the new sources to Run's reading goroutine, which alone
// discovers files, and which then, in this order:
//
//  1. stops the followers of the sources removed, and of the sources
//     changed (paths, exclude or start_at differ) those of files the
//     source no longer follows (see retire). A stopped follower has sent
//     every line it read: those lines go on through extraction and the
//     sink, and their acks still commit to the file's position, which
//     stays in the positions file. The offset it stopped at is parked in
//     memory, and the file leaves Stats.Files, its counts kept in its
//     source's;
//  2. sends the marker Line (in the lines channel, after every line
//     sent so far by any follower): the rules it carries apply from there;
//  3. discovers the files of the sources added or changed, placed as at
//     startup (the positions file, else start_at), except a file parked by
//     an earlier reload of this run, same identity, which resumes exactly
//     where its follower stopped, whichever source finds it, now or at a
//     later discovery: no line is read twice or skipped. Under the same
//     source its counts go on from where they were.
//
// The followers of unchanged sources go on undisturbed throughout: their
// lines before the marker are extracted with the old rules, those after
// it with the new. So do, in a changed source, the followers of files it
// still follows, and those draining a file no longer found by name (a
// rotated file read to its end, a copy or an archive): they are finite,
// and stopping them would lose the rest of their file for the rest of the
// run. A changed source's new start_at applies to the files it finds
// anew only. A follower that goes on keeps the globs it started with to
// look for copies of its file when it is truncated.
//
// A removed source's followers are all stopped, draining ones too: its
// rules are gone, so their lines would have none to go to. A parked
// file's rest is not read while no source follows it; a restart without
// the source leaves its position as it was, and one with it resumes
// there (also in a rotated file, found among its siblings at startup).
// A stopped follower of a rotated file, which no discovery finds by name,
// is logged at WARN with its offset: the rest of that file is left unread
// in this run.
//
// Not reloaded: PollInterval, MaxLineBytes and StateDir, which Reload
// ignores (the caller warns that they need a restart).

// reloadRequest is a Reload on its way to the reading goroutine.
type reloadRequest struct {
	sources []Source
	marker  pipeline.Line
	done    chan error
}

// ErrNotReading is returned by Reload when Run is not reading.
var ErrNotReading = errors.New("tailer: not reading")

// Reload replaces the sources that Run follows with sources (see above)
// and sends marker, a Line whose Rules are set, between the lines read
// before and after. It returns once the new sources are being followed,
// or with an error, changing nothing, when sources are invalid or Run is
// not reading.
func (t *Tailer) Reload(ctx context.Context, sources []Source, marker pipeline.Line) error {
	cfg := t.cfg
	cfg.Sources = sources
	if err := cfg.Validate(); err != nil {
		return err
	}
	req := reloadRequest{sources: cleanSources(sources), marker: marker, done: make(chan error, 1)}
	select {
	case t.reloads <- req:
	case <-t.readDone:
		return ErrNotReading
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-req.done // answered without waiting on the caller
}

// cleanSources is sources with their exclusions cleaned (see New), on a
// copy.
func cleanSources(sources []Source) []Source {
	sources = slices.Clone(sources)
	for i := range sources {
		s := &sources[i]
		s.Exclude = slices.Clone(s.Exclude)
		for j, p := range s.Exclude {
			s.Exclude[j] = filepath.Clean(p)
		}
	}
	return sources
}

// reload is Reload in the reading goroutine.
func (t *Tailer) reload(ctx context.Context, wg *sync.WaitGroup, lines chan<- pipeline.Line, req reloadRequest) error {
	old := map[string]Source{}
	for _, s := range t.cfg.Sources {
		old[s.Name] = s
	}
	next := Config{Sources: req.sources}
	var added []Source // new or changed
	unchanged, present := map[string]bool{}, map[string]bool{}
	for _, s := range req.sources {
		present[s.Name] = true
		if o, ok := old[s.Name]; ok && sameSource(o, s) {
			unchanged[s.Name] = true
		} else {
			added = append(added, s)
		}
	}
	for _, s := range t.cfg.Sources {
		if !unchanged[s.Name] {
			t.retire(s.Name, present[s.Name], next)
		}
	}
	select {
	case lines <- req.marker:
	case <-ctx.Done():
		return ctx.Err()
	}
	t.cfg.Sources = req.sources
	for _, s := range added {
		if _, ok := old[s.Name]; ok {
			t.log.Info("source changed by reload", "source", s.Name, "paths", s.Paths)
		} else {
			t.log.Info("source added by reload", "source", s.Name, "paths", s.Paths)
		}
	}
	t.discover(ctx, wg, lines, followAdded, added)
	t.savePositions()
	return nil
}

func sameSource(a, b Source) bool {
	return slices.Equal(a.Paths, b.Paths) && slices.Equal(a.Exclude, b.Exclude) && a.StartAt == b.StartAt &&
		a.Multiline.same(b.Multiline)
}

// retire stops the followers of the source name, which a reload removed
// or, when changed, changed, and waits for them. In a changed source, the
// followers of the files it still owns under next, and those draining a
// file (a rotated file no longer found by name, a copy or an archive), go
// on. Each follower stopped leaves Stats.Files, its counts kept in its
// source's, and its file is parked where it stopped, unless it failed or
// was draining a rotated file, whose rest is then left unread (logged).
func (t *Tailer) retire(name string, changed bool, next Config) {
	t.mu.Lock()
	var mine []*follower
	for _, f := range t.live {
		if f.source == name {
			mine = append(mine, f)
		}
	}
	// Files not opened or placed yet are found again by the discovery of
	// a changed source, and tried anew.
	for path, u := range t.unopened {
		if u.Source == name {
			delete(t.unopened, path)
		}
	}
	t.failed = slices.DeleteFunc(t.failed, func(f *follower) bool {
		if f.source != name {
			return false
		}
		t.forget(f)
		return true
	})
	t.mu.Unlock()
	var stop []*follower
	for _, f := range mine {
		// A file it still follows goes on only with the same multiline
		// block: otherwise it is parked at the end of its last record
		// sent and read on from there with the new block.
		goOn := changed && f.err.Load() == nil &&
			(f.finite || f.rotated || !names(f.path, f.in) || next.SourceOf(f.path) == name && f.joinsAs(next, name))
		if !goOn {
			stop = append(stop, f)
		}
	}
	t.mu.Lock()
	stop = slices.DeleteFunc(stop, func(f *follower) bool {
		if t.live[f.in] != f {
			return true // let go meanwhile, read to its end: it sends its EOF Line
		}
		delete(t.live, f.in)
		return false
	})
	t.mu.Unlock()
	for _, f := range stop {
		f.cancel()
	}
	parked := 0
	for _, f := range stop {
		<-f.done // it closed its file; its fields are ours now
		t.mu.Lock()
		t.forget(f)
		t.mu.Unlock()
		switch {
		case f.err.Load() != nil:
			// Failed: a discovery that finds it tries it anew.
		case f.finite || f.rotated || f.copyPath != "" || !names(f.path, f.in):
			t.log.Warn("reload stopped reading a rotated file before its end: the rest of it is left unread in this run; its position stays in the positions file, where a restart that follows it resumes",
				"source", name, "file", f.linePath(), "inode", f.in.ino, "offset", f.sentTo)
		default:
			// Kept for its place, counts and gauges only: what it held
			// of the file goes, as a resumed follower reads it again.
			f.sp, f.seenTail, f.releasedPrints = splitter{}, nil, nil
			t.mu.Lock()
			t.parked[f.in] = f
			t.mu.Unlock()
			parked++
		}
	}
	if changed {
		t.log.Info("source changed by reload: the followers of files it no longer follows stopped, the lines they read are delivered",
			"source", name, "files", len(mine), "stopped", len(stop), "parked", parked)
		return
	}
	t.log.Info("source removed by reload: its followers stopped, the lines they read are delivered", "source", name, "files", len(stop), "parked", parked)
}

// names reports whether path names the file in now: false once it was
// renamed or deleted (rotated away), or the path cannot be statted.
func names(path string, in inode) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	now, ok := inodeOf(fi)
	return ok && now == in
}

// unpark places f, newly opened, where the follower a reload stopped
// (retire) stopped reading its file, when it is the same file (identity
// and first bytes) and not shorter. start then takes over the stopped
// follower's gauges and counts (takeOver).
func (t *Tailer) unpark(f *follower) (int64, bool) {
	t.mu.Lock()
	none := len(t.parked) == 0
	t.mu.Unlock()
	if none {
		return 0, false // no stat for each new file
	}
	fi, err := f.file.Stat()
	if err != nil {
		return 0, false
	}
	in, ok := inodeOf(fi)
	if !ok {
		return 0, false
	}
	t.mu.Lock()
	p := t.parked[in]
	t.mu.Unlock()
	if p == nil {
		return 0, false
	}
	same, err := sameFile(f.file, p.id, positionOf(p.id))
	if err != nil || !same || fi.Size() < p.sentTo {
		t.mu.Lock()
		delete(t.parked, in)
		t.mu.Unlock()
		return 0, false
	}
	f.id, f.replayUntil, f.adopt, f.unparked = p.id, p.replayUntil, p.adopt, true
	f.log.Info("resuming where a reload stopped it", "offset", p.sentTo)
	return p.sentTo, true
}

// takeOver makes f, resuming the file in where a reload stopped its
// follower (unpark), go on with that follower's gauges, and with its
// counts when it is of the same source: they move back from the
// source's, so that Stats counts each line once. Under another source,
// the lines read before stay the old source's. Call with t.mu held.
func (t *Tailer) takeOver(f *follower, in inode) {
	p := t.parked[in]
	delete(t.parked, in)
	if p == nil {
		return
	}
	// Its acks, noted while it was parked (noteAck), are the file's.
	f.committed.Store(p.committed.Load())
	f.delivered.Store(p.delivered.Load())
	f.size.Store(p.size.Load())
	if p.source != f.source {
		return
	}
	taken := p.stats()
	if f.join == nil {
		// Read on without a block: p's records stay the source's, as
		// f counts none to take them over.
		taken.Records, taken.CutMaxLines, taken.CutMaxBytes, taken.Timeouts = 0, 0, 0, 0
	}
	t.gone[f.source].sub(taken)
	f.lines.Store(p.lines.Load())
	f.tooLong.Store(p.tooLong.Load())
	f.lost.Store(p.lost.Load())
	f.truncations.Store(p.truncations.Load())
	if f.join != nil && p.join != nil {
		f.join.records.Store(p.join.records.Load())
		f.join.cutLines.Store(p.join.cutLines.Load())
		f.join.cutBytes.Store(p.join.cutBytes.Load())
		f.join.timeouts.Store(p.join.timeouts.Load())
	}
}

// joinsAs reports whether f joins lines as the source name of next would:
// both without a multiline block, or with the same one.
func (f *follower) joinsAs(next Config, name string) bool {
	for _, s := range next.Sources {
		if s.Name == name {
			return f.ml.same(s.Multiline)
		}
	}
	return f.ml == nil
}
