//go:build unix

package tailer

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// A file's unread rest may be under another name: renamed while the agent
// was down, copied before a truncation (copytruncate), compressed since.
// Its siblings are where that rest is looked for: the files its source's
// globs match, and those in its folder whose name a rotation scheme makes
// of its own, for app.log:
//
//	app.log.*   app.log.1, app.log.2.gz, app.log.1.zst, app.log.gz (logrotate's
//	            numbered names, compress, compressext; compressed in place)
//	app.log-*   app.log-20250310, app.log-20250310.gz (dateext)
//	app.*log*   app.1.log, app.1.log.gz (logrotate's "extension .log")
//	app-*log*   app-20250310.log, app-20250310.log.bz2
//
// The name only makes a file a candidate; what picks the one is content:
// the same device and inode and first bytes for a renamed file, the same
// first bytes (decompressed) for a copy or a compressed file. A followed
// file is never a candidate: it is being read on its own account, and two
// files that start alike are two files.
func isSibling(base, name string) bool {
	if name == base {
		return false
	}
	if strings.HasPrefix(name, base+".") || strings.HasPrefix(name, base+"-") {
		return true
	}
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	if ext == "" || stem == "" {
		return false
	}
	for _, sep := range []string{".", "-"} {
		if rest, ok := strings.CutPrefix(name, stem+sep); ok && strings.Contains(rest, ext) {
			return true
		}
	}
	return false
}

// candidate is a file that may hold the rest of another.
type candidate struct {
	path   string
	fi     os.FileInfo
	in     inode
	packed compression
	// head is the first bytes of its content (decompressed), at most
	// fingerprintBytes.
	head []byte
	// named is set when its name is one a rotation scheme makes of the
	// file's, not only a glob's match.
	named bool
}

// describes reports whether c is the file s was saved for, under
// another name: the same device, inode and first bytes.
func (s position) describes(c candidate) bool {
	return c.packed == uncompressed && c.in == (inode{s.Dev, s.Inode}) &&
		(s.FingerprintBytes == 0 || startsWith(c.head, s))
}

// holdsRest reports whether c is a copy (or a compressed copy) of the file
// whose saved fingerprint is print, holding at least its first off bytes
// (a compressed one is checked when read). A glob's match that is no
// rotated name must start with a whole fingerprint's worth alike: two logs
// that begin with the same short line are two logs.
func (c candidate) holdsRest(print position, off int64) bool {
	return startsWith(c.head, print) && (c.named || print.FingerprintBytes == fingerprintBytes) &&
		(c.packed != uncompressed || c.fi.Size() >= off)
}

// siblingFinder lists and opens candidates, reading each folder and each
// candidate's head once however many files ask.
type siblingFinder struct {
	t       *Tailer
	matches []string // the globs' matches
	dirs    map[string][]string
	heads   map[string]*candidate // nil: not a candidate
}

func (t *Tailer) siblingFinder(matches []string) *siblingFinder {
	return &siblingFinder{t: t, matches: matches, dirs: map[string][]string{}, heads: map[string]*candidate{}}
}

// of returns the candidates for the rest of the file last seen at path,
// newest first: of two files that start alike, the one rotated last is
// likeliest the file that was followed last.
func (s *siblingFinder) of(path string) []candidate {
	dir, base := filepath.Split(path)
	names, ok := s.dirs[dir]
	if !ok {
		entries, err := os.ReadDir(filepath.Clean(dir))
		if err != nil {
			s.t.log.Debug("read folder for rotated files", "dir", dir, "err", err)
		}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		s.dirs[dir] = names
	}
	var paths []string
	for _, name := range names {
		if isSibling(base, name) {
			paths = append(paths, filepath.Join(dir, name))
		}
	}
	named := len(paths)
	for _, m := range s.matches {
		if m != path && !slices.Contains(paths, m) {
			paths = append(paths, m)
		}
	}
	var out []candidate
	for i, p := range paths {
		if c := s.open(p); c != nil && !s.t.isLive(c.in) {
			c := *c
			c.named = i < named
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b candidate) int { return b.fi.ModTime().Compare(a.fi.ModTime()) })
	return out
}

// open reads what matters of a candidate, or returns nil for what cannot
// be one (gone, not a regular file, unreadable).
func (s *siblingFinder) open(path string) *candidate {
	if c, ok := s.heads[path]; ok {
		return c
	}
	s.heads[path] = nil
	// Statted first: opening a FIFO would block.
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	in, ok := inodeOf(fi)
	if !ok {
		return nil
	}
	packed, err := sniff(f)
	if err != nil {
		return nil
	}
	h, err := head(f, packed)
	if err != nil {
		s.t.log.Warn("rotated file unreadable, not searched", "file", path, "err", err)
		return nil
	}
	c := &candidate{path: path, fi: fi, in: in, packed: packed, head: h}
	s.heads[path] = c
	return c
}

func (t *Tailer) isLive(in inode) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live[in] != nil
}

// resumeRotated looks, at startup, for the rest of every file of the
// positions file that no glob found: rotated while the agent was down,
// once or more, and maybe compressed since. A renamed file is followed
// under its new name until released, like one renamed while followed; a
// copy or a compressed file is read to its end and released. Either
// resumes at its committed offset, replayed from its replay offset, as
// the file it is.
func (t *Tailer) resumeRotated(ctx context.Context, wg *sync.WaitGroup, lines chan<- pipeline.Line, matches []string) {
	if t.pos == nil {
		return
	}
	find := t.siblingFinder(matches)
	claimed := map[string]bool{}
	saved := t.pos.unmatched()
	// A file that is a saved file itself (same inode and first bytes) is
	// resumed as that file, never taken as another's copy.
	owned := func(c candidate) bool {
		return slices.ContainsFunc(saved, func(s position) bool { return s.describes(c) })
	}
	for _, s := range saved {
		if ctx.Err() != nil {
			return
		}
		if s.End > 0 && s.Offset >= s.End {
			continue // released after a rotation, and delivered to its end
		}
		// Look by the name a glob followed it under, and at the name it
		// was last seen under (a rotated name, if it was being read
		// there when the agent stopped).
		followed := s.FollowedAs
		if followed == "" {
			followed = s.Path
		}
		src, ok := t.sourceOf(followed)
		if !ok {
			continue // no source follows it any more
		}
		cands := find.of(followed)
		if s.Path != followed {
			if c := find.open(s.Path); c != nil && !t.isLive(c.in) {
				last := *c
				last.named = true
				cands = append([]candidate{last}, cands...)
			}
		}
		found := false
		for _, c := range cands {
			if claimed[c.path] {
				continue
			}
			// A renamed file the globs match is resumed by the discovery
			// that follows, like any file found at its path.
			renamed := c.named && s.describes(c)
			copied := !renamed && c.holdsRest(s, s.Offset) && !owned(c)
			if !renamed && !copied {
				continue
			}
			claimed[c.path], found = true, true
			t.log.Info("found the rest of a file rotated while the agent was down", "source", src.Name,
				"was", s.Path, "file", c.path, "compression", c.packed.String(), "committed", s.Offset)
			if renamed {
				t.follow(ctx, wg, lines, src, c.path, c.fi, followRotated)
			} else {
				t.followFinite(ctx, wg, lines, src, c, s)
			}
			break
		}
		if !found && s.End == 0 {
			t.log.Debug("file followed before not found", "was", s.Path, "committed", s.Offset)
		}
	}
}

// sourceOf returns the source whose globs match path.
func (t *Tailer) sourceOf(path string) (Source, bool) {
	name := t.cfg.SourceOf(path)
	for _, s := range t.cfg.Sources {
		if s.Name == name && name != "" {
			return s, true
		}
	}
	return Source{}, false
}

// globMatches returns the files the globs match now.
func globMatches(globs []string) []string {
	var out []string
	for _, pattern := range globs {
		m, _ := doublestar.FilepathGlob(pattern, doublestar.WithFilesOnly())
		out = append(out, m...)
	}
	return out
}

// copyOf returns the copy of the file a follower read up to its read
// offset, now that the file was truncated: a sibling that starts as the
// file did and holds at least as much (unknown for a compressed one, which
// readRest checks). It returns false when there is none.
func (f *follower) copiesOf() []candidate {
	print := f.print.Load()
	if print.FingerprintBytes == 0 {
		return nil
	}
	var out []candidate
	for _, c := range f.tl.siblingFinder(globMatches(f.globs)).of(f.path) {
		if c.holdsRest(*print, f.sp.pos) {
			out = append(out, c)
		}
	}
	return out
}

// isReleased reports whether the file in was read to its end and let go.
func (t *Tailer) isReleased(in inode) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.released[in]
	return ok
}
