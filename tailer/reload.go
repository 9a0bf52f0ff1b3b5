package tailer

import (
	"context"
	"errors"
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
//  1. stops the followers of the sources removed or changed (paths, exclude
//     or start_at differ; a changed source is removed and added again). A
//     stopped follower has sent every line it read: those lines go on
//     through extraction and the sink, and their acks still commit to the
//     file's position, which stays in the positions file. The offset it
//     stopped at is parked in memory;
//  2. sends the marker Line (in the lines channel, after every line
//     sent so far by any follower): the rules it carries apply from there;
//  3. discovers the files of the sources added, placed as at startup (the
//     positions file, else start_at), except a file parked by an earlier
//     reload of this run, same identity, which resumes exactly where its
//     follower stopped: no line is read twice or skipped.
//
// The followers of unchanged sources go on undisturbed throughout: their
// lines before the marker are extracted with the old rules, those after
// it with the new. A parked file's rest is not read while no source
// follows it; a restart without the source leaves its position as it was.
//
// Not reloaded: PollInterval, MaxLineBytes and StateDir, which Reload
// ignores (the caller warns that they need a restart).

// reloadRequest is a Reload on its way to the reading goroutine.
type reloadRequest struct {
	sources []Source
	marker  pipeline.Line
	done    chan error
}

// parkedFile is where the follower of a removed source stopped.
type parkedFile struct {
	id          pipeline.FileID
	at          int64 // offset just past the last line sent
	replayUntil int64
	adopt       bool // its adoption line was not sent yet
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
	var added []Source
	kept := map[string]bool{}
	for _, s := range req.sources {
		if o, ok := old[s.Name]; ok && sameSource(o, s) {
			kept[s.Name] = true
		} else {
			added = append(added, s)
		}
	}
	for _, s := range t.cfg.Sources {
		if !kept[s.Name] {
			t.park(s.Name)
		}
	}
	select {
	case lines <- req.marker:
	case <-ctx.Done():
		return ctx.Err()
	}
	t.cfg.Sources = req.sources
	for _, s := range added {
		t.log.Info("source added by reload", "source", s.Name, "paths", s.Paths)
	}
	t.discover(ctx, wg, lines, followAdded, added)
	t.savePositions()
	return nil
}

func sameSource(a, b Source) bool {
	return slices.Equal(a.Paths, b.Paths) && slices.Equal(a.Exclude, b.Exclude) && a.StartAt == b.StartAt
}

// park stops the followers of source and waits for them; the files they
// followed from their path are parked where they stopped.
func (t *Tailer) park(source string) {
	t.mu.Lock()
	var stop []*follower
	for in, f := range t.live {
		if f.source == source {
			stop = append(stop, f)
			delete(t.live, in)
		}
	}
	for path, u := range t.unopened {
		if u.Source == source {
			delete(t.unopened, path)
		}
	}
	t.mu.Unlock()
	for _, f := range stop {
		f.cancel()
	}
	n := 0
	for _, f := range stop {
		<-f.done // it closed its file; its fields are ours now
		if f.finite || f.rotated || f.copyPath != "" || f.err.Load() != nil {
			continue // reading the rest of a rotated file, or failed: not resumable
		}
		t.parked[f.in] = parkedFile{id: f.id, at: f.sentTo, replayUntil: f.replayUntil, adopt: f.adopt}
		n++
	}
	t.log.Info("source removed by reload: its followers stopped, the lines they read are delivered", "source", source, "files", len(stop), "parked", n)
}

// unpark places f, newly opened for a source a reload added, where the
// follower of a removed source stopped reading its file, when it is the
// same file (identity and first bytes) and not shorter.
func (t *Tailer) unpark(f *follower) (int64, bool) {
	fi, err := f.file.Stat()
	if err != nil {
		return 0, false
	}
	in, ok := inodeOf(fi)
	if !ok {
		return 0, false
	}
	p, ok := t.parked[in]
	if !ok {
		return 0, false
	}
	delete(t.parked, in)
	same, err := sameFile(f.file, p.id, positionOf(p.id))
	if err != nil || !same || fi.Size() < p.at {
		return 0, false
	}
	f.id, f.replayUntil, f.adopt, f.unparked = p.id, p.replayUntil, p.adopt, true
	f.log.Info("resuming where a reload stopped it", "offset", p.at)
	return p.at, true
}
