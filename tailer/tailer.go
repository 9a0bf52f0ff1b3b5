// Package tailer turns log files into pipeline.Lines. Run follows the files
// that a Config's globs match as they grow; Scan reads one finite input, a
// file or standard input, for `logmetrics test`.
//
// Every Line carries its file's identity and the byte offset just past its
// newline, so that once everything up to a line is delivered, the file's
// position moves there: Run commits acks to the positions file of the state
// folder, and a restart resumes from it.
package tailer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
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
	live    map[inode]*follower // the files followed now
	all     []*follower         // the files followed since Run started and not let go, for Stats
	failed  []*follower         // files that could not be identified or placed
	// gone sums, per source, the counts of the files let go (letGo).
	gone map[string]*SourceStats
	// unopened are matched files not open yet (no descriptor left, or an
	// error opening them), tried again at every discovery.
	unopened map[string]*FileStats
	maxOpen  int // files held open at most: see maxOpenFiles
	wake     chan struct{}
	// released are the files read to their end after a rotation, so that
	// one found again under its new name is not read twice.
	released map[inode]released
	// copies are the files found to be copies of followed files
	// (copyOfLive), so each is logged once.
	copies map[inode]bool

	// ignored holds matched paths that are not regular files, so each is
	// logged once. Only Run's goroutine touches it.
	ignored map[string]bool

	// pos is nil without a StateDir.
	pos *positions

	// reloads takes Reload's requests to Run's reading goroutine, which
	// alone changes the sources; readDone is closed when it returns.
	reloads  chan reloadRequest
	readDone chan struct{}
	// parked are the followers a reload stopped, by the file they
	// followed, which they stopped reading at sentTo (reload.go).
	// Guarded by mu: Run notes their acks (noteAck).
	parked map[inode]*follower
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
		cfg:      cfg,
		log:      log,
		now:      time.Now,
		live:     make(map[inode]*follower),
		released: make(map[inode]released),
		gone:     make(map[string]*SourceStats),
		unopened: make(map[string]*FileStats),
		wake:     make(chan struct{}, 1),
		maxOpen:  maxOpenFiles(),
		copies:   make(map[inode]bool),
		ignored:  make(map[string]bool),
		reloads:  make(chan reloadRequest),
		readDone: make(chan struct{}),
		parked:   make(map[inode]*follower),
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
// Before any line it sends each source's latest time as of the positions
// (a Line with HasLatest), when they have one.
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
// Files are known by identity: a file renamed to a name the globs also
// match is not read again, and one rotated away is read to its end and
// released (see follower). At startup, the rest of a saved file that was
// rotated while the agent was down is looked for among its siblings, also
// compressed (see resumeRotated); a compressed file is never followed.
//
// Run returns only after every goroutine it started has stopped, so no
// send can come after the close. Call it once.
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
			t.noteAck(ack)
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
	defer close(t.readDone)
	defer close(lines)
	var wg sync.WaitGroup
	defer wg.Wait() // deferred after close(lines), so it runs before it

	tick := t.tick
	if tick == nil {
		tk := time.NewTicker(t.cfg.PollInterval)
		defer tk.Stop()
		tick = tk.C
	}
	// Positions are saved right after each discovery too, not only at the
	// next save tick: a file placed at its end (start_at = "end") or found
	// new must be known as such if the agent is killed a moment later, or
	// its restart would take it for a file found at startup.
	if !t.sendLatest(ctx, lines) {
		return
	}
	t.discover(ctx, &wg, lines, followStartup, t.cfg.Sources)
	t.savePositions()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-t.wake:
		case req := <-t.reloads:
			req.done <- t.reload(ctx, &wg, lines, req)
		}
		t.discover(ctx, &wg, lines, followFound, t.cfg.Sources)
		t.savePositions()
	}
}

// sendLatest sends, before any line, one marker Line per source whose
// positions recorded a latest time (see position.SourceLatest): with it,
// extraction knows which windows were written before the restart although
// none of their lines is read again (a released rotated file). It returns
// false once ctx is done.
func (t *Tailer) sendLatest(ctx context.Context, lines chan<- pipeline.Line) bool {
	if t.pos == nil {
		return true
	}
	latest := t.pos.latestBySource(t.cfg.SourceOf)
	for _, src := range t.cfg.Sources {
		v, ok := latest[src.Name]
		if !ok {
			continue
		}
		select {
		case lines <- pipeline.Line{Source: src.Name, Latest: v, HasLatest: true}:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// wakeDiscovery asks for a discovery now rather than at the next tick: a
// follower saw its path name another file, which is its successor and
// may be renamed away again before the tick (size-based rotation at a
// high rate).
func (t *Tailer) wakeDiscovery() {
	select {
	case t.wake <- struct{}{}:
	default: // one is already asked for
	}
}

// discover starts following every regular file the globs match that is not
// followed yet. A file matched by more than one source belongs to the first
// in config order: following it twice would duplicate its lines and give
// one path two positions.
//
// At startup it first looks for the rest of the files of the positions
// file that were rotated while the agent was down (see resumeRotated), so
// that a copy the globs also match is read as the rest it is, not as a
// new file.
//
// One goroutine per file for now; thousands of files will need a bounded
// pool here.
func (t *Tailer) discover(ctx context.Context, wg *sync.WaitGroup, lines chan<- pipeline.Line, how placement, sources []Source) {
	startup := how == followStartup
	if startup {
		var all []string
		for _, src := range t.cfg.Sources {
			all = append(all, globMatches(src.Paths)...)
		}
		t.resumeRotated(ctx, wg, lines, all)
	}
	for _, src := range sources {
		// known counts the matches already followed (a changed source's
		// kept files) or let go: the source finds those too.
		found, known, waiting := 0, 0, 0
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
				if ctx.Err() != nil {
					return // stopping: a file followed now would only be read in part
				}
				if excluded(src.Exclude, path) {
					continue
				}
				fi, err := os.Stat(path)
				if err != nil {
					continue // gone since the glob matched it
				}
				if t.known(src, path, fi) {
					known++
					continue
				}
				found++
				t.log.Debug("following", "source", src.Name, "file", path)
				if !t.follow(ctx, wg, lines, src, path, fi, how) {
					waiting++
				}
			}
		}
		if startup || how == followAdded {
			// At 3 a.m. the first question is whether the agent found
			// the files at all, and follows them.
			switch {
			case found+known == 0:
				t.log.Warn("no file matches the source's paths yet; looking again every poll interval",
					"source", src.Name, "paths", src.Paths)
			case waiting > 0:
				t.log.Warn("following files; some could not be opened yet, retried every poll interval",
					"source", src.Name, "files", found+known-waiting, "not_yet", waiting, "start_at", src.StartAt.String())
			default:
				t.log.Info("following files", "source", src.Name, "files", found+known, "start_at", src.StartAt.String())
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

// inode is a file's device and inode: what a path names right now.
type inode struct{ dev, ino uint64 }

func inodeOf(fi os.FileInfo) (inode, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return inode{}, false
	}
	return inode{uint64(st.Dev), uint64(st.Ino)}, true
}

// placement is how a newly found file is placed.
type placement int

const (
	followFound   placement = iota // matched at a rediscovery: new, read from 0
	followStartup                  // matched at startup: its position, or StartAt
	followRotated                  // found at startup under a rotated name: its position, then released
	followAdded                    // matched for a source a reload added or changed: as at startup
)

// released is a file read to its end after a rotation and let go.
type released struct {
	id     pipeline.FileID
	end    int64
	warned bool // that it grew after
}

// known reports whether the file at path (statted as fi) is already
// followed, under this name or another (a rotated file the glob also
// matches), or was read to its end and released, or is ignored; it warns
// once when a second source matches a followed file.
func (t *Tailer) known(src Source, path string, fi os.FileInfo) bool {
	if t.ignored[path] {
		return true
	}
	in, ok := inodeOf(fi)
	if !ok {
		return false
	}
	t.mu.Lock()
	f := t.live[in]
	t.mu.Unlock()
	if f != nil {
		if f.source != src.Name && !f.warnedOverlap {
			f.warnedOverlap = true
			t.log.Warn("file matched by two sources, following it for the first only",
				"file", path, "source", f.source, "also", src.Name)
		}
		return true
	}
	t.mu.Lock()
	r, ok := t.released[in]
	t.mu.Unlock()
	if !ok {
		return fi.Mode().IsRegular() && t.copyOfLive(path, in)
	}
	// The same inode may hold a new file by now: compare first bytes.
	file, err := os.Open(path)
	if err != nil {
		return true // gone again
	}
	defer file.Close()
	same, err := sameFile(file, r.id, positionOf(r.id))
	// A file released empty has no first bytes to tell a new file on its
	// inode apart by, and nothing of it to protect.
	if err != nil || !same || r.id.FingerprintBytes == 0 {
		t.mu.Lock()
		delete(t.released, in)
		t.mu.Unlock()
		return err != nil
	}
	if fi.Size() > r.end && !r.warned {
		r.warned = true
		t.mu.Lock()
		t.released[in] = r
		t.mu.Unlock()
		t.log.Error("a released file grew: its new lines are not read", "file", path, "released_at", r.end, "size", fi.Size(), "rotate_grace", rotateGrace)
	}
	return true
}

// copyOfLive reports whether the file at path, not followed, has a rotated
// name of a followed file (see isSibling) in its folder and starts with the
// same whole fingerprint: a copy of it that the globs match
// (copytruncate's), which holds nothing new until the original is
// truncated, and then only its rest, which the original's follower reads
// from it. It is logged once. A file without such a name is a file of its
// own, however alike it starts (daily logs opening with the same header):
// taking it for a copy would lose it.
func (t *Tailer) copyOfLive(path string, in inode) bool {
	file, err := os.Open(path)
	if err != nil {
		return false
	}
	defer file.Close()
	fp, n, err := fingerprint(file, fingerprintBytes)
	if err != nil || n < fingerprintBytes {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	dir, name := filepath.Split(path)
	for _, f := range t.live {
		fdir, fname := filepath.Split(f.path)
		if fdir != dir || !isSibling(fname, name) {
			continue
		}
		if p := f.print.Load(); p != nil && p.FingerprintBytes == n && p.Fingerprint == hexFingerprint(fp) {
			if !t.copies[in] {
				t.copies[in] = true
				t.log.Info("a copy of a followed file, not read as a new file: the rest of the original is read from it if the original is truncated",
					"file", path, "original", f.path)
			}
			return true
		}
	}
	return false
}

// drained records that the file in (identity id, size bytes) was read as
// the rest of a truncated file, its copy: a discovery then knows it as
// released.
func (t *Tailer) drained(in inode, id pipeline.FileID, size int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.released[in] = released{id: id, end: size}
}

// follow starts following one newly matched file.
func (t *Tailer) follow(ctx context.Context, wg *sync.WaitGroup, lines chan<- pipeline.Line, src Source, path string, fi os.FileInfo, how placement) (followed bool) {
	if !fi.Mode().IsRegular() {
		// A FIFO or device would block the open, and with it shutdown.
		t.ignored[path] = true
		t.log.Warn("not a regular file, ignored", "source", src.Name, "file", path, "mode", fi.Mode().String())
		return true
	}
	t.mu.Lock()
	open := len(t.live)
	t.mu.Unlock()
	if open >= t.maxOpen {
		// Said once for them all by the startup line; Stats has each.
		t.notOpened(src, path, fmt.Errorf("%d files open, the most this agent opens with its descriptor limit (%d, %d kept for the sink and state)", open, t.maxOpen+fdReserve, fdReserve), slog.LevelDebug)
		return false
	}
	file, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return true // gone since the glob matched it; a later discovery finds what comes
	}
	if err != nil {
		// Out of descriptors, or not allowed: tried again at the next
		// discovery, never given up.
		t.notOpened(src, path, err, slog.LevelError)
		return false
	}
	packed, err := sniff(file)
	if err == nil && packed != uncompressed {
		// Its lines are an archive's, written once by a compressor: the
		// rest of a file rotated while the agent was down is read from
		// it at startup (resumeRotated); backfill reads the rest.
		file.Close()
		t.ignored[path] = true
		t.log.Info("compressed file not followed", "source", src.Name, "file", path, "compression", packed.String())
		return true
	}
	t.mu.Lock()
	delete(t.unopened, path)
	t.mu.Unlock()
	f := t.newFollower(src, path, file)
	f.rotated = how == followRotated
	var from int64
	if err == nil {
		from, err = t.place(f, src, how)
	}
	if err != nil {
		file.Close()
		f.fail(err)
		t.mu.Lock()
		t.failed = append(t.failed, f)
		t.mu.Unlock()
		return true
	}
	f.self = f.id
	t.start(ctx, wg, lines, f, inode{f.id.Dev, f.id.Ino}, from)
	return true
}

// fdReserve is how many descriptors the tailer leaves for the rest of the
// agent: the sink's connections, the positions and dead-letter files,
// standard streams.
const fdReserve = 64

// maxOpenFiles returns how many files the tailer may hold open: the
// descriptor limit (Go raises the soft limit to the hard one at start)
// less fdReserve.
func maxOpenFiles() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<20 {
		return 1 << 20
	}
	return max(1, int(rl.Cur)-fdReserve)
}

// notOpened records a file that could not be opened this time; it is tried
// again at every discovery. Its problem is logged at level at the 1st,
// 10th, 100th, ... attempt and shown in Stats.
func (t *Tailer) notOpened(src Source, path string, err error, level slog.Level) {
	t.mu.Lock()
	u := t.unopened[path]
	if u == nil {
		u = &FileStats{Source: src.Name, Path: path}
		t.unopened[path] = u
	}
	u.Err = err
	u.Attempts++
	n := u.Attempts
	t.mu.Unlock()
	if pipeline.Sampled(uint64(n)) {
		t.log.Log(context.Background(), level, "file not opened yet; trying again", "source", src.Name, "file", path, "attempts", n, "err", err)
	}
}

// followFinite reads c, a copy or compressed file found at startup, as the
// rest of the file s describes: from s's replay offset, to its end.
func (t *Tailer) followFinite(ctx context.Context, wg *sync.WaitGroup, lines chan<- pipeline.Line, src Source, c candidate, s position) {
	file, err := os.Open(c.path)
	if err != nil {
		t.log.Warn("open rotated file", "file", c.path, "err", err)
		return
	}
	f := t.newFollower(src, c.path, file)
	f.finite, f.packed = true, c.packed
	// Its id is the file it is the rest of, so that positions and the
	// collision separator go on; self is its own, for discovery.
	f.id = pipeline.FileID{Dev: s.Dev, Ino: s.Inode, Fingerprint: fnv1a(c.head), FingerprintBytes: int64(len(c.head))}
	if f.self, err = Identify(file); err != nil || !t.pos.claim(s, c.path, f.id) {
		file.Close()
		return
	}
	f.replayUntil = s.Offset
	f.replayCuts(s)
	// Its lines were all written before it was compressed or copied:
	// one stat gives a time after each of them.
	f.statSize, f.statMod = math.MaxInt64, c.fi.ModTime()
	f.log.Info("resuming", "committed", s.Offset, "replay_from", s.ReplayFrom, "compression", c.packed.String())
	t.start(ctx, wg, lines, f, c.in, s.ReplayFrom)
}

// newFollower makes the follower of file, open at path, for src.
func (t *Tailer) newFollower(src Source, path string, file *os.File) *follower {
	f := &follower{
		source: src.Name,
		path:   path,
		file:   file,
		limit:  t.cfg.MaxLineBytes,
		log:    t.log.With("source", src.Name, "file", path),
		now:    t.now,
		pos:    t.pos,
		tl:     t,
		globs:  src.Paths,
		// Copies older than the follower are history, never contents
		// it missed (see readMissed).
		wholeAt: time.Now(),
	}
	f.sp.limit = f.limit
	if src.Multiline != nil {
		f.ml, f.join = src.Multiline, NewJoiner(src.Multiline, f.limit, false)
	}
	return f
}

// start runs the follower f of the file in, placed at from, and releases
// the file in Run's books when f has read it to its end.
func (t *Tailer) start(ctx context.Context, wg *sync.WaitGroup, lines chan<- pipeline.Line, f *follower, in inode, from int64) {
	f.sp.reset(from)
	f.lastOff = from
	f.committed.Store(max(from, f.replayUntil)) // its acks move it on
	f.sentTo = from
	// Only a file first followed from its end starts past 0 (its
	// ReplayFrom): its first line is the adoption line (Line.Adopted).
	// One unparked goes on as it was (unpark).
	if !f.unparked {
		f.adopt = from > 0
	}
	print := positionOf(f.id)
	f.print.Store(&print)
	f.in = in
	t.mu.Lock()
	if f.unparked {
		t.takeOver(f, in)
	}
	t.live[in] = f
	t.all = append(t.all, f)
	t.mu.Unlock()
	t.log.Debug("following file", "source", f.source, "file", f.path, "offset", from, "replay_until", f.replayUntil)
	// A follower that stops otherwise (stopped, failed) stays known.
	// Its own context lets a reload stop it alone (park).
	fctx, cancel := context.WithCancel(ctx)
	f.cancel, f.done = cancel, make(chan struct{})
	wg.Go(func() {
		defer close(f.done)
		defer cancel()
		f.run(fctx, lines)
		f.unread()
	})
}

// letGo moves f, read to its end after a rotation, from the followed
// files to the released ones. The follower calls it before it sends its
// EOF Line, so that a discovery after that Line never finds the file
// still followed (a new file on its inode would be taken for it).
func (t *Tailer) letGo(f *follower) {
	end := f.sp.end
	if f.finite {
		end = -1 // a copy or an archive: any size
		if fi, err := f.file.Stat(); err == nil {
			end = fi.Size()
		}
	}
	// Its identity now, not the one it had when opened: a file opened
	// empty or short has a fingerprint of few bytes, which would match any
	// new file that reuses its inode and keep it from being read.
	id := f.self
	if now, err := Identify(f.file); err == nil && now.Dev == id.Dev && now.Ino == id.Ino {
		id = now
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.live, f.in)
	t.released[f.in] = released{id: id, end: end}
	// Its lines are all read: out of Stats, so that daily rotations do
	// not pile up.
	t.forget(f)
}

// forget takes f, let go or stopped by a reload, out of Stats.Files; its
// counts go to its source's. Call with t.mu held.
func (t *Tailer) forget(f *follower) {
	t.all = slices.DeleteFunc(t.all, func(a *follower) bool { return a == f })
	g := t.gone[f.source]
	if g == nil {
		g = &SourceStats{Source: f.source}
		t.gone[f.source] = g
	}
	g.add(f.stats())
}

// place identifies a newly matched file and returns where to start
// reading it: where a reload stopped reading it (unpark); at startup, at
// its replay offset when the positions know it
// (the lines up to its committed offset are then replayed), else at the end of a file
// found at startup of a StartAtEnd source, unless it took the place of a
// file followed before, else at 0.
func (t *Tailer) place(f *follower, src Source, how placement) (int64, error) {
	startup := how != followFound
	var err error
	if f.id, err = Identify(f.file); err != nil {
		return 0, err
	}
	// A file a reload stopped following resumes where it stopped, also
	// when a source the reload left unchanged finds it (it no longer
	// belongs to an earlier source): read from 0 as a new file, its lines
	// would be read twice.
	if from, ok := t.unpark(f); ok {
		return from, nil
	}
	// Only at startup: a file matched later was created since, all its
	// lines new, even when it has the inode and first bytes of a saved
	// file deleted since (inode reuse).
	if t.pos != nil && startup {
		saved, ok, err := t.pos.resume(f.file, f.path, f.id)
		if err != nil {
			return 0, err
		}
		if ok {
			if size, err := f.file.Seek(0, io.SeekEnd); err == nil && size < saved.Offset {
				// Truncated while the agent was down, and refilled
				// with the same first bytes: its lines are new.
				f.log.Warn("file shorter than its committed position: reading it from its start", "committed", saved.Offset, "size", size)
				t.pos.start(f.path, f.id, 0)
				return 0, nil
			}
			f.replayUntil = saved.Offset
			f.replayCuts(saved)
			f.log.Info("resuming", "committed", saved.Offset, "replay_from", saved.ReplayFrom)
			return saved.ReplayFrom, nil
		}
	}
	var from int64
	if startup && src.StartAt == StartAtEnd {
		if t.pos != nil && t.pos.replaced(f.path) {
			// Created while the agent was down, in place of the file
			// it followed (rotated): every line of it is new.
			f.log.Info("file new since the last run: reading it from its start")
		} else {
			// Computed here, before Run goes on: whatever is appended
			// from now on is read.
			if from, err = endOffset(f.path, f.limit); err != nil {
				return 0, err
			}
		}
	}
	t.pos.start(f.path, f.id, from)
	return from, nil
}

// noteAck notes what ack delivered on the follower of its file, for Stats,
// or on the follower a reload parked it with, which a resumed follower
// takes its gauges from (takeOver): under mu, so that none is lost
// between the two. A released file's acks find none: it is no longer
// shown.
func (t *Tailer) noteAck(ack pipeline.Ack) {
	in := inode{ack.File.Dev, ack.File.Ino}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.live[in]
	if f == nil {
		f = t.parked[in]
	}
	if f == nil {
		return
	}
	if to := ack.Commit(ack.Origin); to > f.committed.Load() {
		f.committed.Store(to)
	}
	if ack.LogTime > f.delivered.Load() {
		f.delivered.Store(ack.LogTime)
	}
}

// Stats is a snapshot of what the tailer has read.
type Stats struct {
	// Files holds the files followed now, those that failed and those not
	// opened yet, sorted by path, each once. A file let go after a
	// rotation drops out, so that the files of a year of daily rotations
	// do not pile up, and so does one a reload stopped following (a
	// removed source's); Sources keeps their counts.
	Files []FileStats
	// Sources holds the counts of every file of each source followed
	// since Run started, sorted by source.
	Sources []SourceStats
}

// SourceStats is what was read from the files of one source.
type SourceStats struct {
	Source string
	Counts
	LostToTruncation int64
	// Multiline is set when a file of the source was read with a
	// multiline block: its record counts mean something.
	Multiline bool
}

func (s *SourceStats) add(f FileStats) {
	s.Counts.add(f.Counts, 1)
	s.Multiline = s.Multiline || f.Multiline
	s.LostToTruncation += f.LostToTruncation
}

// sub takes f's counts, added before, back out of s.
func (s *SourceStats) sub(f FileStats) {
	s.Counts.add(f.Counts, -1)
	s.LostToTruncation -= f.LostToTruncation
}

// FileStats is what was read from one file.
type FileStats struct {
	Source, Path string
	Counts
	// LostToTruncation is the bytes known to have been lost because the
	// file was truncated before they were read and no copy held them.
	LostToTruncation int64
	// Err is why the file stopped being followed before Run returned, or
	// why it could not be opened yet; nil otherwise.
	Err error
	// Attempts counts the discoveries that could not open the file yet
	// (no descriptor left, or an error); zero once it is open.
	Attempts int64
	// Size is the file's size at its latest stat, and Committed the
	// offset up to which its lines are delivered (positions move there).
	// Before the first ack of this run, Committed is 0.
	Size, Committed int64
	// LogLag is how far in log time the newest delivered line is behind
	// the newest read: 0 when caught up, and for lines without times.
	LogLag time.Duration
	// Multiline is set when the file is read with a multiline block.
	Multiline bool
}

// Stats returns the counts so far. It is safe to call while Run runs.
func (t *Tailer) Stats() Stats {
	t.mu.Lock()
	var s Stats
	sources := map[string]*SourceStats{}
	add := func(fs FileStats) {
		src := sources[fs.Source]
		if src == nil {
			src = &SourceStats{Source: fs.Source}
			sources[fs.Source] = src
		}
		src.add(fs)
	}
	for _, g := range t.gone {
		add(FileStats{Source: g.Source, Counts: g.Counts, LostToTruncation: g.LostToTruncation, Multiline: g.Multiline})
	}
	for _, f := range t.all {
		s.Files = append(s.Files, f.stats())
	}
	for _, f := range t.failed {
		s.Files = append(s.Files, f.stats())
	}
	for _, u := range t.unopened {
		s.Files = append(s.Files, *u)
	}
	for _, fs := range s.Files {
		add(fs)
	}
	t.mu.Unlock()
	for _, src := range sources {
		s.Sources = append(s.Sources, *src)
	}
	slices.SortFunc(s.Files, func(a, b FileStats) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(s.Sources, func(a, b SourceStats) int { return strings.Compare(a.Source, b.Source) })
	return s
}
