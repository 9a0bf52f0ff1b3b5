//go:build unix

package tailer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// The files of the state folder.
const (
	positionsName = "positions.json"
	lockName      = "lock"
)

// forgetAfter is how long the position of a file that is no longer followed
// is kept, so that a rotated file found again under a new name resumes
// where it stopped.
const forgetAfter = 7 * 24 * time.Hour

// position is one file's entry in the positions file.
type position struct {
	Path string `json:"path"`
	// FollowedAs is the path a source's globs matched when the file was
	// first followed: after a rotation Path is the rotated name, which no
	// glob may match, and a restart looks for the rest by this one.
	FollowedAs       string `json:"followed_as,omitempty"`
	Dev              uint64 `json:"dev"`
	Inode            uint64 `json:"inode"`
	Fingerprint      string `json:"fingerprint"` // FNV-1a, 16 hex digits
	FingerprintBytes int64  `json:"fingerprint_bytes"`
	// Offset is the committed offset: every line before it is delivered.
	Offset int64 `json:"offset"`
	// ReplayFrom is where reading started when the file was first
	// followed (0, or its end for start_at = "end"). A restart reads again
	// from there to Offset, without delivering, so that the collision
	// separator has the state it had.
	ReplayFrom int64 `json:"replay_from"`
	// End, when not 0, is where the file ended when it was released after
	// a rotation: once Offset is there too, nothing of it is left to read.
	End int64 `json:"end,omitempty"`
	// TimeoutCuts are the ends of the file's last records (at most
	// maxTimeoutCuts) that a multiline source passed on at their timeout:
	// a restart's replay ends records there too, as they were delivered,
	// rather than join a late continuation with the record before it
	// (which would leave the collision separator short of a point).
	TimeoutCuts []int64   `json:"timeout_cuts,omitempty"`
	Updated     time.Time `json:"updated"`
	// SourceLatest is the latest time (Unix ns) a rule with an aggregate
	// block of the file's source had read, as of the file's last
	// delivered record: the windows it closed are written. At startup
	// each source gets the greatest over its entries (Line.Latest), so
	// that they stay closed. Absent for sources without aggregate rules.
	SourceLatest *int64 `json:"source_latest,omitempty"`
}

// positionOf is the saved form of a file's identity.
func positionOf(id pipeline.FileID) position {
	return position{Dev: id.Dev, Inode: id.Ino, Fingerprint: hexFingerprint(id.Fingerprint), FingerprintBytes: id.FingerprintBytes}
}

// positionsDoc is the positions file.
type positionsDoc struct {
	Version int        `json:"version"`
	Files   []position `json:"files"`
}

const positionsVersion = 1

// positions holds the committed offsets of the files, keyed by identity, and
// writes them to the state folder. It holds the folder's lock from
// openPositions to close.
type positions struct {
	dir  string
	lock *os.File
	now  func() time.Time

	// saving is held for a whole save, and by close: once closed, the
	// folder is another agent's to use, so nothing more is written.
	saving sync.Mutex
	closed bool

	mu sync.Mutex
	// live are the positions of files followed in this run; saved are
	// those loaded at start that no file has matched yet.
	live  map[pipeline.FileID]*position
	saved []position
	dirty bool
	// loaded are the paths of the positions file as loaded.
	loaded map[string]bool
}

// openPositions locks dir and loads its positions file, if there is one. A
// second agent on the same folder, or a positions file that cannot be read
// or parsed, is an error that names the file: the positions are never reset
// silently.
func openPositions(dir string, now func() time.Time) (*positions, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	lockPath := filepath.Join(dir, lockName)
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(lockPath)
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("state folder %s is in use by another logmetrics (pid %s): one agent per state_dir", dir, strings.TrimSpace(string(pid)))
		}
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	// The pid is only for the message above; the lock is the flock.
	if err := lock.Truncate(0); err == nil {
		_, _ = lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	p := &positions{dir: dir, lock: lock, now: now, live: map[pipeline.FileID]*position{}, loaded: map[string]bool{}}
	saved, err := loadPositions(filepath.Join(dir, positionsName))
	if err != nil {
		p.close()
		return nil, err
	}
	p.saved = saved
	for _, pos := range saved {
		p.loaded[pos.Path] = true
	}
	return p, nil
}

// loadPositions reads and checks the positions file at path; a missing
// file holds no positions. An error names the file and says what to do.
// It takes no lock and needs none: the file is only ever replaced whole
// (see writeAtomic), so a reader gets one version or the next.
func loadPositions(path string) ([]position, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("positions: %w", err)
	}
	var doc positionsDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("positions file %s is corrupt (%v): fix or move it away; deleting it makes every file start again from its source's start_at", path, err)
	}
	if doc.Version != positionsVersion {
		return nil, fmt.Errorf("positions file %s has version %d, this logmetrics reads version %d", path, doc.Version, positionsVersion)
	}
	for _, pos := range doc.Files {
		if pos.Offset < pos.ReplayFrom || pos.ReplayFrom < 0 || pos.FingerprintBytes < 0 || pos.FingerprintBytes > fingerprintBytes {
			return nil, fmt.Errorf("positions file %s is corrupt: entry for %s has offset %d, replay_from %d, fingerprint_bytes %d", path, pos.Path, pos.Offset, pos.ReplayFrom, pos.FingerprintBytes)
		}
	}
	return doc.Files, nil
}

// resume finds the saved position of the open file f (found at path, with
// identity id) and makes it live. ok is false when there is none: the file
// is new to the agent.
func (p *positions) resume(f *os.File, path string, id pipeline.FileID) (pos position, ok bool, err error) {
	for _, s := range p.unmatched() {
		same, err := sameFile(f, id, s)
		if err != nil {
			return position{}, false, err
		}
		if same && p.claim(s, path, id) {
			return s, true, nil
		}
	}
	return position{}, false, nil
}

// unmatched returns the saved positions that no file has claimed yet.
func (p *positions) unmatched() []position {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.saved)
}

// claim makes the saved position s live for the file now at path with
// identity id, which is the file s describes. It reports false when
// another file claimed s first.
func (p *positions) claim(s position, path string, id pipeline.FileID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.IndexFunc(p.saved, func(o position) bool { return samePosition(o, s) })
	if i < 0 {
		return false
	}
	p.saved = slices.Delete(p.saved, i, i+1)
	if s.FollowedAs == "" {
		s.FollowedAs = s.Path
	}
	s.Path = path
	// The file may have grown: its fingerprint now covers more.
	s.Fingerprint, s.FingerprintBytes = hexFingerprint(id.Fingerprint), id.FingerprintBytes
	p.live[id] = &s
	p.dirty = true
	return true
}

// samePosition reports whether a and b are the same entry.
func samePosition(a, b position) bool {
	return a.Path == b.Path && a.Dev == b.Dev && a.Inode == b.Inode && a.Fingerprint == b.Fingerprint &&
		a.FingerprintBytes == b.FingerprintBytes && a.Offset == b.Offset && a.Updated.Equal(b.Updated)
}

// maxTimeoutCuts bounds a file's TimeoutCuts. The collision separator
// only needs the state of the times a restart's next lines may share, the
// last seconds; a timeout comes only once the follower has caught up,
// after a pause of the log of at least the timeout, so the oldest of 4
// cuts is several timeouts behind the newest. (A positions file has an
// entry per file: 64 would have made each ten times longer.)
const maxTimeoutCuts = 4

// timeoutCut records that a live file's record ending at end was passed
// on at its multiline timeout (see position.TimeoutCuts).
func (p *positions) timeoutCut(id pipeline.FileID, end int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pos := p.live[id]; pos != nil {
		// A new array each time: save marshals copies of the entries
		// outside the lock.
		keep := pos.TimeoutCuts[max(0, len(pos.TimeoutCuts)-maxTimeoutCuts+1):]
		pos.TimeoutCuts = append(slices.Clip(keep), end)
		p.dirty = true
	}
}

// replaced reports whether path was where a file of the positions file was
// last seen: a file found there now that is not that one took its place
// while the agent was down, so all its lines are new.
func (p *positions) replaced(path string) bool {
	return p.loaded[path]
}

// refine makes the saved fingerprint of a live file cover its first n
// bytes, now that it has grown past the few it had when identified (an
// empty file, say): a fingerprint of few bytes would match a file
// created later on the same inode.
func (p *positions) refine(id pipeline.FileID, fp uint64, n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pos := p.live[id]; pos != nil && n >= pos.FingerprintBytes {
		pos.Fingerprint, pos.FingerprintBytes = hexFingerprint(fp), n
		p.dirty = true
	}
}

// release records that a live file was rotated away and read to end:
// once its offset is committed there, a restart has nothing of it to
// look for.
func (p *positions) release(id pipeline.FileID, end int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pos := p.live[id]; pos != nil {
		pos.End = end
		p.dirty = true
	}
}

// start makes a live position for a file new to the agent, read from
// offset from. A nil p does nothing, so do refine and release.
func (p *positions) start(path string, id pipeline.FileID, from int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live[id] = &position{
		Path: path, FollowedAs: path, Dev: id.Dev, Inode: id.Ino,
		Fingerprint: hexFingerprint(id.Fingerprint), FingerprintBytes: id.FingerprintBytes,
		Offset: from, ReplayFrom: from, Updated: p.now(),
	}
	p.dirty = true
}

// commit moves a file's committed offset forward to an ack's; never back.
// Its source's latest time moves likewise, to the ack's when that is
// greater.
func (p *positions) commit(ack pipeline.Ack) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos := p.live[ack.File]
	if pos == nil {
		return
	}
	if ack.HasLatest && (pos.SourceLatest == nil || ack.Latest > *pos.SourceLatest) {
		latest := ack.Latest // a new pointer: copies of pos keep theirs
		pos.SourceLatest = &latest
		p.dirty = true
	}
	to := ack.Commit(ack.Origin)
	if to <= pos.Offset {
		return
	}
	pos.Offset, pos.Path, pos.Updated = to, ack.Path, p.now()
	p.dirty = true
}

// latestBySource returns, per source, the greatest SourceLatest of the
// entries that belong to it, the files followed and those released or
// not found yet alike. sourceOf names the source of an entry by the path
// its source's globs matched (FollowedAs, else Path).
func (p *positions) latestBySource(sourceOf func(path string) string) map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	latest := map[string]int64{}
	note := func(pos *position) {
		if pos.SourceLatest == nil {
			return
		}
		src := ""
		if pos.FollowedAs != "" {
			src = sourceOf(pos.FollowedAs)
		}
		if src == "" {
			src = sourceOf(pos.Path)
		}
		if src == "" {
			return
		}
		if v, ok := latest[src]; !ok || *pos.SourceLatest > v {
			latest[src] = *pos.SourceLatest
		}
	}
	for _, pos := range p.live {
		note(pos)
	}
	for i := range p.saved {
		note(&p.saved[i])
	}
	return latest
}

// save writes the positions file if anything moved since the last save:
// to a temporary file in the folder, synced, renamed over the old one, and
// the folder synced, so that a crash leaves the old file or the new one.
func (p *positions) save() error {
	p.saving.Lock()
	defer p.saving.Unlock()
	if p.closed {
		return nil
	}
	p.mu.Lock()
	if !p.dirty {
		p.mu.Unlock()
		return nil
	}
	doc := positionsDoc{Version: positionsVersion}
	for _, pos := range p.live {
		doc.Files = append(doc.Files, *pos)
	}
	cutoff := p.now().Add(-forgetAfter)
	for _, pos := range p.saved {
		if pos.Updated.After(cutoff) {
			doc.Files = append(doc.Files, pos)
		}
	}
	p.dirty = false
	p.mu.Unlock()
	slices.SortFunc(doc.Files, func(a, b position) int { return strings.Compare(a.Path, b.Path) })
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("bug: positions: %w", err)
	}
	if err := writeAtomic(p.dir, positionsName, append(data, '\n')); err != nil {
		p.mu.Lock()
		p.dirty = true // try again next time
		p.mu.Unlock()
		return err
	}
	return nil
}

// writeAtomic replaces dir/name with data: a temporary file in dir, fsync,
// rename, fsync of dir.
func writeAtomic(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return fmt.Errorf("write positions: %w", err)
	}
	defer os.Remove(tmp.Name())              // fails once renamed, as it should
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp makes 0600; it is not secret
		tmp.Close()
		return fmt.Errorf("write positions: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write positions: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write positions: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write positions: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write positions: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write positions: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write positions: sync %s: %w", dir, err)
	}
	return nil
}

// close releases the state folder's lock, after any save in progress; no
// save writes after it (a second signal leaves the stages running until
// the process exits).
func (p *positions) close() {
	p.saving.Lock()
	defer p.saving.Unlock()
	if !p.closed {
		p.closed = true
		p.lock.Close() // closing the descriptor releases the flock
	}
}
