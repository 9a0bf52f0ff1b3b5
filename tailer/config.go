package tailer

import (
	"errors"
	"fmt"
	"time"

	"github.com/bmatcuk/doublestar/v4"
)

// Defaults for the zero values of Config.
const (
	// DefaultPollInterval is how often the globs are matched again, so a new
	// file is picked up within about this long.
	DefaultPollInterval = time.Second

	// DefaultMaxLineBytes is 4 MiB. Real log lines stay far below it, even
	// single-line JSON events that inline a request or response body (often
	// hundreds of KiB), so nothing legitimate is dropped; a longer "line" is
	// almost always a binary or a dump written to the wrong place, and passing
	// it on would cost extract regex time for nothing. Scan's reused buffer
	// grows to at most this size, so it also bounds Scan's memory.
	DefaultMaxLineBytes = 4 << 20
)

// Config is what the tailer follows and how. It has no HCL tags:
// internal/config decodes the rules file and fills it in. Zero values mean
// the defaults above.
type Config struct {
	Sources []Source
	// PollInterval is how often the globs are matched again to find new files.
	PollInterval time.Duration
	// MaxLineBytes is the longest line passed downstream, without its line
	// ending. A longer line is dropped and counted with reason "too_long";
	// the following lines are read as usual.
	MaxLineBytes int
	// StateDir is where the positions file and the lock are kept. Empty
	// means no positions: every run starts at StartAt (tests).
	StateDir string
}

// Source is one source block: the files it names and where to start in them.
type Source struct {
	Name string
	// Paths are globs; "**" matches any number of directories. A path is
	// used as written: relative paths are relative to the working directory.
	Paths []string
	// Exclude globs are matched against both the full path and the base name
	// of every file the Paths find, so "*.gz" skips compressed archives
	// wherever they are.
	Exclude []string
	// StartAt says where reading begins in the files found at startup.
	StartAt StartAt
	// Multiline, when not nil, makes each record of the source's files
	// (a line and its continuation lines) one Line: see Multiline.
	Multiline *Multiline
}

// StartAt says where to start reading a file that already exists when the
// tailer starts. Files that appear later are always read from their beginning,
// since every line in them is new.
type StartAt int

// The places to start at.
const (
	// StartAtEnd skips the lines already in the file: only lines written
	// after startup are read. A line still being written at startup is read
	// whole once complete. It is the zero value because it is the safe
	// choice for a first deployment next to large existing logs.
	StartAtEnd StartAt = iota
	// StartAtBeginning reads the file from its first byte.
	StartAtBeginning
)

func (s StartAt) String() string {
	switch s {
	case StartAtEnd:
		return "end"
	case StartAtBeginning:
		return "beginning"
	}
	return fmt.Sprintf("StartAt(%d)", int(s))
}

// ConfigError is one problem found by Validate. internal/config turns it
// into a diagnostic on the attribute that Part names.
type ConfigError struct {
	// Source is the name of the source block, empty for the settings that
	// apply to all of them.
	Source string
	// Part names what is wrong, in the rules file's own words: "sources",
	// "name", "paths", "exclude", "start_at", "poll_interval",
	// "max_line_bytes", or of a multiline block "multiline", "max_lines"
	// or "timeout".
	Part string
	Err  error
}

func (e *ConfigError) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("%s: %v", e.Part, e.Err)
	}
	return fmt.Sprintf("source %q: %s: %v", e.Source, e.Part, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// Validate reports every problem, not just the first: the result joins one
// *ConfigError per problem (see errors.Join), or is nil.
func (c Config) Validate() error {
	var errs []error
	add := func(source, part, format string, args ...any) {
		errs = append(errs, &ConfigError{Source: source, Part: part, Err: fmt.Errorf(format, args...)})
	}
	if c.PollInterval < 0 {
		add("", "poll_interval", "must not be negative, got %s", c.PollInterval)
	}
	if c.MaxLineBytes < 0 {
		add("", "max_line_bytes", "must not be negative, got %d", c.MaxLineBytes)
	}
	if len(c.Sources) == 0 {
		add("", "sources", "no source to follow")
	}
	seen := make(map[string]bool)
	for _, s := range c.Sources {
		switch {
		case s.Name == "":
			add("", "name", "a source needs a name")
		case seen[s.Name]:
			add(s.Name, "name", "another source has the same name")
		}
		seen[s.Name] = true
		if len(s.Paths) == 0 {
			add(s.Name, "paths", "no path to follow")
		}
		for _, p := range s.Paths {
			if p == "" {
				add(s.Name, "paths", "empty path")
			} else if !doublestar.ValidatePathPattern(p) {
				add(s.Name, "paths", "bad glob %q", p)
			}
		}
		for _, p := range s.Exclude {
			if p == "" || !doublestar.ValidatePathPattern(p) {
				add(s.Name, "exclude", "bad glob %q", p)
			}
		}
		if s.StartAt != StartAtEnd && s.StartAt != StartAtBeginning {
			add(s.Name, "start_at", "unknown value %d", int(s.StartAt))
		}
		if m := s.Multiline; m != nil {
			if (m.Start == nil) == (m.Continue == nil) {
				add(s.Name, "multiline", "set exactly one of start and continue")
			}
			if m.MaxLines < 0 {
				add(s.Name, "max_lines", "must not be negative, got %d", m.MaxLines)
			}
			if m.Timeout < 0 {
				add(s.Name, "timeout", "must not be negative, got %s", m.Timeout)
			}
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with its zero values replaced by the defaults.
func (c Config) withDefaults() Config {
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	c.MaxLineBytes = maxLineBytes(c.MaxLineBytes)
	return c
}

func maxLineBytes(n int) int {
	if n == 0 {
		return DefaultMaxLineBytes
	}
	return n
}

// SourceOf returns the name of the source that owns path, the one Run
// follows it for: the first in config order whose Paths match it and whose
// Exclude globs do not. It returns "" when no source matches.
func (c Config) SourceOf(path string) string {
	for _, s := range c.Sources {
		if excluded(s.Exclude, path) {
			continue
		}
		for _, p := range s.Paths {
			if doublestar.PathMatchUnvalidated(p, path) {
				return s.Name
			}
		}
	}
	return ""
}
