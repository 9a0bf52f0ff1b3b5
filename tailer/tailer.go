// Package tailer turns log files into pipeline.Lines. Run follows the files
// that a Config's globs match as they grow; Scan reads one finite input, a
// file or standard input, for `logmetrics test`.
//
// Every Line carries the byte offset just past its newline, so that once
// everything up to a line is delivered, its file's position can move there.
// Positions, acknowledgements and rotation that loses nothing are the next
// issue's work; the comments below say where each plugs in.
package tailer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// Tailer follows the files of a Config. Make one with New.
type Tailer struct {
	cfg Config
	log *slog.Logger

	// now stamps Line.ReadAt. tick, when not nil, replaces the PollInterval
	// ticker. Both are for tests.
	now  func() time.Time
	tick <-chan time.Time

	mu      sync.Mutex
	running bool
	files   map[string]*follower // every file followed since Run started, by path

	// ignored holds matched paths that are not regular files, so each is
	// logged once. Only Run's goroutine touches it.
	ignored map[string]bool

	// pos is nil without a StateDir.
	pos *positions
}

// ErrState wraps the errors of New about the state folder: locked by
// another agent, or a positions file that cannot be read.
var ErrState = errors.New("state folder")

// saveInterval is how often the positions are written when they moved.
const saveInterval = time.Second

// New checks cfg (see Config.Validate) and returns a Tailer ready to Run. A
// nil log discards the tailer's messages. With a StateDir it locks the
// folder and loads the positions file, and fails when another agent holds
// the folder or the file cannot be read: Close releases the lock.
func New(cfg Config, log *slog.Logger) (*Tailer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	// Glob matches come back cleaned, so clean the exclusions too, on a copy
	// that leaves the caller's slices alone.
	cfg.Sources = slices.Clone(cfg.Sources)
	for i := range cfg.Sources {
		s := &cfg.Sources[i]
		s.Exclude = slices.Clone(s.Exclude)
		for j, p := range s.Exclude {
			s.Exclude[j] = filepath.Clean(p)
		}
	}
	t := &Tailer{
		cfg:     cfg,
		log:     log,
		now:     time.Now,
		files:   make(map[string]*follower),
		ignored: make(map[string]bool),
	}
	if cfg.StateDir != "" {
		pos, err := openPositions(cfg.StateDir, time.Now)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrState, err)
		}
		t.pos = pos
	}
	return t, nil
}

// Close releases the state folder. Call it after Run has returned.
func (t *Tailer) Close() {
	if t.pos != nil {
		t.pos.close()
	}
}

// Run follows the files of every source and sends their lines to lines,
// each file's in order, until ctx is done; then it closes lines. Every send
// also waits on ctx, so a full channel slows reading down and never loses a
// line.
//
// It commits each ack from acks to its file's position, writes the
// positions every saveInterval when they moved, and once acks is closed
// (the sink has delivered what it will) writes them a last time and
// returns. acks may be nil: Run then returns when reading has stopped.
//
// A file found at startup resumes at its committed position when the
// positions know it, reading again from its replay offset (see position)
// with those lines marked Replay; otherwise it is read from where its
// source's StartAt says. A file that first matches later, at a rediscovery
// every PollInterval, is read from its beginning: it was created after
// startup, so all its lines are new.
//
// A file that cannot be read is logged, shows its error in Stats and is not
// retried until restart; the other files go on.
//
// Run returns only after every goroutine it started has stopped, so no
// send can come after the close. (nxadm's per-file inotify goroutine ends
// on its own just after: see follower.stop.) Call it once.
func (t *Tailer) Run(ctx context.Context, lines chan<- pipeline.Line, acks <-chan pipeline.Ack) error {
	t.mu.Lock()
	again := t.running
	t.running = true
	t.mu.Unlock()
	if again {
		close(lines)
		return errors.New("tailer: Run called twice")
	}
	reading := make(chan struct{})
	go func() { // owned by Run, which waits for reading to close
		defer close(reading)
		t.read(ctx, lines)
	}()
	save := time.NewTicker(saveInterval)
	defer save.Stop()
	for reading != nil || acks != nil {
		select {
		case <-reading:
			reading = nil
		case ack, ok := <-acks:
			if !ok {
				acks = nil
				continue
			}
			if t.pos != nil {
				t.pos.commit(ack)
			}
		case <-save.C:
			t.savePositions()
		}
	}
	t.savePositions()
	return nil
}

// savePositions writes the positions, logging a failure: the next save
// tries again, and until then a restart resumes from older positions,
// which replays lines (duplicates nothing: a replayed point has its time).
func (t *Tailer) savePositions() {
	if t.pos == nil {
		return
	}
	if err := t.pos.save(); err != nil {
		t.log.Error("positions not saved; retrying", "err", err)
	}
}

// read follows the files until ctx is done, then closes lines once every
// follower has stopped.
func (t *Tailer) read(ctx context.Context, lines chan<- pipeline.Line) {
	defer close(lines)
	var wg sync.WaitGroup
	defer wg.Wait() // deferred after close(lines), so it runs before it

	tick := t.tick
	if tick == nil {
		tk := time.NewTicker(t.cfg.PollInterval)
		defer tk.Stop()
		tick = tk.C
	}
	t.discover(ctx, &wg, lines, true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			t.discover(ctx, &wg, lines, false)
		}
	}
}

// discover starts following every regular file the globs match that is not
// followed yet. A file matched by more than one source belongs to the first
// in config order: following it twice would duplicate its lines and give
// one path two positions.
//
// One goroutine per file is fine for now; thousands of files will need a
// bounded pool here. Deleted files stay followed (nxadm waits for them to
// come back) until the next issue releases them.
func (t *Tailer) discover(ctx context.Context, wg *sync.WaitGroup, lines chan<- pipeline.Line, startup bool) {
	for _, src := range t.cfg.Sources {
		found := 0
		for _, pattern := range src.Paths {
			// I/O errors such as an unreadable directory are skipped, so one
			// bad directory does not hide the rest of the tree; the only
			// error left is a bad pattern, which Validate rules out.
			matches, err := doublestar.FilepathGlob(pattern, doublestar.WithFilesOnly())
			if err != nil {
				t.log.Error("match glob", "source", src.Name, "glob", pattern, "err", err)
				continue
			}
			for _, path := range matches {
				if excluded(src.Exclude, path) || t.known(src, path) {
					continue
				}
				found++
				t.log.Debug("following", "source", src.Name, "file", path)
				t.follow(ctx, wg, lines, src, path, startup)
			}
		}
		if startup {
			// At 3 a.m. the first question is whether the agent found
			// the files at all.
			if found == 0 {
				t.log.Warn("no file matches the source's paths yet; looking again every poll interval",
					"source", src.Name, "paths", src.Paths)
			} else {
				t.log.Info("following files", "source", src.Name, "files", found, "start_at", src.StartAt.String())
			}
		}
	}
}

// excluded reports whether any pattern matches the path or its base name.
func excluded(patterns []string, path string) bool {
	base := filepath.Base(path)
	for _, p := range patterns {
		if doublestar.PathMatchUnvalidated(p, path) || doublestar.PathMatchUnvalidated(p, base) {
			return true
		}
	}
	return false
}

// known reports whether path is already followed or ignored, and warns once
// when a second source matches a followed file.
func (t *Tailer) known(src Source, path string) bool {
	if t.ignored[path] {
		return true
	}
	t.mu.Lock()
	f := t.files[path]
	t.mu.Unlock()
	if f == nil {
		return false
	}
	if f.source != src.Name && !f.warnedOverlap {
		f.warnedOverlap = true
		t.log.Warn("file matched by two sources, following it for the first only",
			"file", path, "source", f.source, "also", src.Name)
	}
	return true
}

// follow starts following one newly matched file.
func (t *Tailer) follow(ctx context.Context, wg *sync.WaitGroup, lines chan<- pipeline.Line, src Source, path string, startup bool) {
	fi, err := os.Stat(path)
	if err != nil {
		// Gone since the glob matched it; if it comes back, a later
		// discovery finds it as a new file.
		return
	}
	if !fi.Mode().IsRegular() {
		// A FIFO or device would block nxadm's open, and with it shutdown.
		t.ignored[path] = true
		t.log.Warn("not a regular file, ignored", "source", src.Name, "file", path, "mode", fi.Mode().String())
		return
	}
	f := &follower{
		source:   src.Name,
		path:     path,
		limit:    t.cfg.MaxLineBytes,
		log:      t.log.With("source", src.Name, "file", path),
		now:      t.now,
		statSize: fi.Size(),
		statMod:  fi.ModTime(),
	}
	from, err := t.place(f, src, startup)
	if errors.Is(err, os.ErrNotExist) {
		return // gone, as above
	}
	t.mu.Lock()
	t.files[path] = f
	t.mu.Unlock()
	if err == nil {
		f.lastOff = from
		err = f.start(from)
	}
	if err != nil {
		f.fail(err)
		return
	}
	t.log.Debug("following file", "source", src.Name, "file", path, "offset", from, "replay_until", f.replayUntil)
	wg.Go(func() { f.run(ctx, lines) })
}

// place identifies a newly matched file and returns where to start
// reading it: at its replay offset when the positions know it (the lines up
// to its committed offset are then replayed), else at the end of a file
// found at startup of a StartAtEnd source, else at 0.
func (t *Tailer) place(f *follower, src Source, startup bool) (int64, error) {
	file, err := os.Open(f.path)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", f.path, err)
	}
	defer file.Close()
	if f.id, err = Identify(file); err != nil {
		return 0, err
	}
	if t.pos != nil {
		saved, ok, err := t.pos.resume(file, f.path, f.id)
		if err != nil {
			return 0, err
		}
		if ok {
			if size, err := file.Seek(0, io.SeekEnd); err == nil && size < saved.Offset {
				// Truncated while the agent was down, and refilled
				// with the same first bytes: its lines are new.
				f.log.Warn("file shorter than its committed position: reading it from its start", "committed", saved.Offset, "size", size)
				t.pos.start(f.path, f.id, 0)
				return 0, nil
			}
			f.replayUntil = saved.Offset
			f.log.Info("resuming", "committed", saved.Offset, "replay_from", saved.ReplayFrom)
			return saved.ReplayFrom, nil
		}
	}
	var from int64
	if startup && src.StartAt == StartAtEnd {
		// Computed here, before Run goes on, rather than left to nxadm's
		// own goroutine: whatever is appended from now on is read.
		if from, err = endOffset(f.path, f.limit); err != nil {
			return 0, err
		}
	}
	if t.pos != nil {
		t.pos.start(f.path, f.id, from)
	}
	return from, nil
}

// Stats is a snapshot of what the tailer has read.
type Stats struct {
	// Files holds every file followed since Run started, sorted by path.
	Files []FileStats
}

// FileStats is what was read from one file.
type FileStats struct {
	Source, Path string
	Counts
	// Err is why the file stopped being followed before Run returned, or
	// nil.
	Err error
}

// Stats returns the counts so far. It is safe to call while Run runs.
func (t *Tailer) Stats() Stats {
	t.mu.Lock()
	s := Stats{Files: make([]FileStats, 0, len(t.files))}
	for _, f := range t.files {
		s.Files = append(s.Files, f.stats())
	}
	t.mu.Unlock()
	slices.SortFunc(s.Files, func(a, b FileStats) int { return strings.Compare(a.Path, b.Path) })
	return s
}
