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
}

// New checks cfg (see Config.Validate) and returns a Tailer ready to Run. A
// nil log discards the tailer's messages.
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
	return &Tailer{
		cfg:     cfg,
		log:     log,
		now:     time.Now,
		files:   make(map[string]*follower),
		ignored: make(map[string]bool),
	}, nil
}

// Run follows the files of every source and sends their lines to lines,
// each file's in order, until ctx is done; then it returns nil. Every send
// also waits on ctx, so a full channel slows reading down and never loses a
// line.
//
// Files that match at startup are read from where their source's StartAt
// says. A file that first matches later, at a rediscovery every
// PollInterval, is read from its beginning: it was created after startup,
// so all its lines are new. (A file that existed but could not be matched
// before, say behind a directory that was unreadable, is read whole too.)
//
// A file that cannot be read is logged, shows its error in Stats and is not
// retried until restart; the other files go on.
//
// Run closes lines when it returns, and returns only after every goroutine
// it started has stopped, so no send can come after the close. (nxadm's
// per-file inotify goroutine ends on its own just after: see follower.stop.)
// Call it once.
func (t *Tailer) Run(ctx context.Context, lines chan<- pipeline.Line) error {
	defer close(lines)
	t.mu.Lock()
	again := t.running
	t.running = true
	t.mu.Unlock()
	if again {
		return errors.New("tailer: Run called twice")
	}

	var wg sync.WaitGroup
	defer wg.Wait() // deferred after close(lines), so it runs before it
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a no-op today: Run returns only once ctx is done

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
			return nil
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
	var from int64
	if startup && src.StartAt == StartAtEnd {
		// Computed here, before Run goes on, rather than left to nxadm's
		// own goroutine: whatever is appended from now on is read.
		from, err = endOffset(path, f.limit)
		if errors.Is(err, os.ErrNotExist) {
			return // gone, as above
		}
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
	t.log.Debug("following file", "source", src.Name, "file", path, "offset", from)
	wg.Go(func() { f.run(ctx, lines) })
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
