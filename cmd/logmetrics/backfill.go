package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/hashicorp/hcl/v2"
	"golang.org/x/sync/errgroup"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/tailer"
)

// exitInterrupted is backfill's exit code after Ctrl-C, as a shell's.
const exitInterrupted = 130

// backfillDeadLetters is the dead-letter file of backfill in the state
// folder: not run's, which a running agent holds.
const backfillDeadLetters = "backfill-dead-letters.lp"

// backfillInFlight is how many write requests backfill keeps in flight:
// the next batch is encoded and sent while InfluxDB stores the last.
const backfillInFlight = 2

// firstTimeLines bounds how far into a file backfill looks for its first
// parseable time, to order the files of a source: a file with none that
// early is read after those with one, in name order.
const firstTimeLines = 10000

// cmdBackfill reads archived logs (plain, gzip, zstd, bzip2) with the rules
// of their sources and writes their points as run would have: each file
// one unit for the collision separator, the files of a source in time
// order. It never writes the state folder (only reads where run began
// files it follows from their end, to stop there).
func cmdBackfill(e *env, args []string) int {
	fs := flags(e, "backfill")
	path := configFlag(fs)
	only := fs.String("source", "", "read every file with the rules of source `NAME` (default: the source whose paths match each file)")
	sinceFlag := fs.String("since", "", "keep only the lines stamped at or after `TIME` (RFC 3339)")
	untilFlag := fs.String("until", "", "keep only the lines stamped before `TIME` (RFC 3339)")
	dry := fs.Bool("n", false, "dry run: read, count and report, write nothing")
	logf := addLogFlags(fs, "warn")
	if code, done := parse(fs, args); done {
		return code
	}
	since, until, err := window(*sinceFlag, *untilFlag)
	if err != nil {
		fmt.Fprintf(e.stderr, "logmetrics backfill: %v\n", err)
		return exitUsage
	}
	var inputs []*input
	var selectErrs []error
	cfg, log := loadConfigLogged(e, "backfill", *path, logf, func(cfg *config.Config, diags hcl.Diagnostics) hcl.Diagnostics {
		inputs, selectErrs = selectInputs(cfg.Tailer, *only, fs.Args())
		var untimed []config.UntimedRule
		for _, u := range cfg.Untimed {
			if slices.ContainsFunc(inputs, func(in *input) bool { return in.source == u.Source }) {
				untimed = append(untimed, u)
			}
		}
		return config.NeedTime(diags, untimed, "backfill")
	})
	if cfg == nil {
		return exitUsage
	}
	if *only != "" && !slices.ContainsFunc(cfg.Tailer.Sources, func(s tailer.Source) bool { return s.Name == *only }) {
		fmt.Fprintf(e.stderr, "logmetrics backfill: no source %q in %s\n", *only, *path)
		return exitUsage
	}
	for _, err := range selectErrs {
		fmt.Fprintf(e.stderr, "logmetrics backfill: %v\n", err)
	}
	if len(fs.Args()) > 0 && len(selectErrs) > 0 {
		return exitUsage // a path the user named is not there, or has no source
	}
	if len(inputs) == 0 {
		fmt.Fprintln(e.stderr, "logmetrics backfill: nothing to read")
		return exitFailure
	}
	// A folder that could not be listed: its files would be missed.
	listFailed := slices.ContainsFunc(selectErrs, func(err error) bool { return !errors.As(err, new(noFiles)) })
	started, err := tailer.ReadStarted(cfg.Agent.StateDir)
	if err != nil {
		fmt.Fprintf(e.stderr, "logmetrics backfill: %v\n", err)
		return exitFailure
	}
	st, err := newStages(cfg, log, stageOptions{stdout: e.stdout, discard: *dry,
		deadLetters: filepath.Join(cfg.Agent.StateDir, backfillDeadLetters), inFlight: backfillInFlight})
	if err != nil {
		fmt.Fprintf(e.stderr, "logmetrics backfill: %v\n", err)
		return exitUsage
	}
	if !since.IsZero() || !until.IsZero() {
		st.ex.SetWindow(since, until)
	}
	// The producer finds times with an extractor of its own: st.ex runs
	// in another goroutine.
	probe, err := extract.Compile(cfg.Extract)
	if err != nil {
		fmt.Fprintf(e.stderr, "logmetrics backfill: bug: %v\n", err)
		return exitFailure
	}
	b := &backfill{e: e, log: log, st: st, probe: probe, maxLine: cfg.Tailer.MaxLineBytes, dry: *dry,
		start: time.Now(), tooLong: map[string]int64{}, multiline: map[string]*tailer.Multiline{}, joined: map[string]tailer.Counts{}}
	for _, src := range cfg.Tailer.Sources {
		if src.Multiline != nil {
			b.multiline[src.Name] = src.Multiline
		}
	}
	b.describe(inputs, started)

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	runErr := b.run(context.Background(), sigs)
	b.summary()
	switch {
	case b.interrupted.Load():
		return exitInterrupted
	case runErr != nil || len(b.failed) > 0 || listFailed:
		return exitFailure
	}
	return exitOK
}

// window parses -since and -until; a zero time is no bound.
func window(sinceFlag, untilFlag string) (since, until time.Time, err error) {
	if sinceFlag != "" {
		if since, err = time.Parse(time.RFC3339Nano, sinceFlag); err != nil {
			return since, until, fmt.Errorf("-since: %w", err)
		}
	}
	if untilFlag == "" {
		until = time.Unix(0, 1<<63-1)
	} else if until, err = time.Parse(time.RFC3339Nano, untilFlag); err != nil {
		return since, until, fmt.Errorf("-until: %w", err)
	}
	if since.IsZero() {
		since = time.Unix(0, -1<<63)
	}
	if !until.After(since) {
		if untilFlag == "" {
			return since, until, fmt.Errorf("-since %s is past the last time InfluxDB can store", sinceFlag)
		}
		return since, until, fmt.Errorf("-until %s is not after -since %s", untilFlag, sinceFlag)
	}
	if sinceFlag == "" && untilFlag == "" {
		return time.Time{}, time.Time{}, nil
	}
	return since, until, nil
}

// input is one file to read and the source whose rules read it.
type input struct {
	path, source string
	arch         *tailer.Archive
	first        time.Time // its first parseable time; zero when none was found
	// stop, when above 0, is where run began following the file (from its
	// end): only the bytes before it are read here.
	stop int64
}

// selectInputs returns the files to read with their sources: the paths
// given (globs expanded), each with the -source named or the source whose
// paths match it or its rotated names; without paths, every file of every
// source (or of -source), rotated siblings included. A file is read once,
// for the first source that has it.
func selectInputs(cfg tailer.Config, only string, paths []string) ([]*input, []error) {
	var inputs []*input
	var errs []error
	seen := map[string]bool{}
	add := func(path, source string) {
		if key := fileKey(path); !seen[key] {
			seen[key] = true
			inputs = append(inputs, &input{path: path, source: source})
		}
	}
	if len(paths) == 0 {
		// A file a source's globs match is that source's, as in run,
		// even when it is also a rotated name of another's file.
		var listed [][]string
		for _, src := range cfg.Sources {
			if only != "" && src.Name != only {
				listed = append(listed, nil)
				continue
			}
			files, err := tailer.BackfillFiles(src)
			if err != nil {
				errs = append(errs, fmt.Errorf("source %s: %w", src.Name, err))
			}
			listed = append(listed, files)
		}
		for i, src := range cfg.Sources {
			for _, f := range listed[i] {
				if owner := cfg.SourceOf(f); only != "" || owner == "" || owner == src.Name {
					add(f, src.Name)
				}
			}
		}
		for i, src := range cfg.Sources {
			for _, f := range listed[i] {
				add(f, src.Name) // a rotated name only: the first source that lists it
			}
			if only == "" || src.Name == only {
				if len(listed[i]) == 0 {
					errs = append(errs, noFiles{src})
				}
			}
		}
		return inputs, errs
	}
	siblings := map[string][]string{} // per source, lazily
	for _, p := range paths {
		matches := []string{p}
		if strings.ContainsAny(p, "*?[{") {
			var err error
			if matches, err = doublestar.FilepathGlob(p, doublestar.WithFilesOnly()); err != nil || len(matches) == 0 {
				errs = append(errs, fmt.Errorf("%s: no file matches", p))
				continue
			}
		}
		for _, m := range matches {
			source := only
			if source == "" {
				source = sourceOf(cfg, m, siblings)
			}
			if source == "" {
				errs = append(errs, fmt.Errorf("%s: no source's paths match it or its rotated names: name one with -source", m))
				continue
			}
			add(m, source)
		}
	}
	return inputs, errs
}

// noFiles is a source none of whose paths matches a file: a warning when
// other sources have files (a typo in paths still shows), not a failure.
type noFiles struct{ src tailer.Source }

func (n noFiles) Error() string {
	return fmt.Sprintf("source %s: no file matches its paths %q or their rotated names", n.src.Name, n.src.Paths)
}

// fileKey is what makes two paths one file: its device and inode (a link
// and its target, a file given twice), else its absolute path.
func fileKey(path string) string {
	if fi, err := os.Stat(path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
		}
	}
	abs, _ := filepath.Abs(path)
	return abs
}

// sourceOf returns the source whose globs match path or whose files have
// it as a rotated sibling (access.log.2.gz of access.log), or "".
func sourceOf(cfg tailer.Config, path string, siblings map[string][]string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	if name := cfg.SourceOf(abs); name != "" {
		return name
	}
	for _, src := range cfg.Sources {
		files, ok := siblings[src.Name]
		if !ok {
			files, _ = tailer.BackfillFiles(src)
			siblings[src.Name] = files
		}
		if slices.Contains(files, abs) {
			return src.Name
		}
	}
	return ""
}

// backfill is one run of the command.
type backfill struct {
	e       *env
	log     *slog.Logger
	st      *stages
	probe   *extract.Extractor
	maxLine int
	dry     bool
	start   time.Time

	inputs []*input // in reading order
	failed []string // files that could not be read whole

	// Progress: the bytes on disk of all inputs, of those done, and the
	// reader of the one being read.
	total, done int64
	reading     atomic.Pointer[tailer.ArchiveReader]
	doneBytes   atomic.Int64
	// at is how far reading got, for the summary after an interrupt.
	mu          sync.Mutex
	at          pipeline.Origin
	interrupted atomic.Bool
	filesRead   map[string]int               // per source
	tooLong     map[string]int64             // lines over max_line_bytes skipped, per source
	multiline   map[string]*tailer.Multiline // the sources' multiline blocks
	joined      map[string]tailer.Counts     // lines and records of the multiline sources
	wall        time.Duration
}

// describe opens each input to learn its compression, identity and first
// time, and where run began it, then orders the files of each source by
// their first time. A file that cannot be opened is reported and skipped.
func (b *backfill) describe(inputs []*input, started []tailer.Started) {
	for _, in := range inputs {
		arch, r, err := tailer.OpenArchive(in.path)
		if err != nil {
			b.fail(in.path, err)
			continue
		}
		in.arch = arch
		in.first = b.firstTime(r, in)
		r.Close()
		for _, s := range started {
			if s.Describes(arch) {
				in.stop = s.Offset
			}
		}
		b.inputs = append(b.inputs, in)
		b.total += arch.Size
	}
	// Files without a time go last: they give no points anyway (every
	// rule used has a time block), only counts.
	slices.SortStableFunc(b.inputs, func(x, y *input) int {
		if c := cmp.Compare(x.source, y.source); c != 0 {
			return c
		}
		if c := boolCmp(x.first.IsZero(), y.first.IsZero()); c != 0 {
			return c
		}
		if c := x.first.Compare(y.first); c != 0 {
			return c
		}
		return cmp.Compare(x.path, y.path)
	})
}

// boolCmp orders false before true.
func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// errFound stops a Scan once it has what it looked for.
var errFound = errors.New("found")

// firstTime returns the time of the first of the first firstTimeLines lines
// of r that a rule of in's source parses, or zero.
func (b *backfill) firstTime(r io.Reader, in *input) time.Time {
	var first time.Time
	n := 0
	tailer.Scan(context.Background(), r, tailer.Input{Path: in.path, MaxLineBytes: b.maxLine}, func(l pipeline.Line) error {
		if t, ok := b.probe.LineTime(in.source, l.Text, in.arch.ModTime); ok {
			first = t
			return errFound
		}
		if n++; n >= firstTimeLines {
			return errFound
		}
		return nil
	})
	return first
}

// fail records that a file could not be read (whole) and says why.
func (b *backfill) fail(path string, err error) {
	b.failed = append(b.failed, path)
	// A damaged archive's error names the file and where it broke;
	// Scan's "read PATH:" would name the file twice.
	if ae := (*tailer.ArchiveError)(nil); errors.As(err, &ae) {
		fmt.Fprintf(b.e.stderr, "logmetrics backfill: %v; the points of the lines before it are kept\n", ae)
		return
	}
	fmt.Fprintf(b.e.stderr, "logmetrics backfill: %v\n", err)
}

// run reads the inputs through extract and the sink. The first signal
// stops reading; what was read is then delivered, within shutdownGrace.
func (b *backfill) run(parent context.Context, sigs <-chan os.Signal) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	readCtx, stopReading := context.WithCancel(gctx)
	defer stopReading()
	finished := make(chan struct{})
	defer close(finished)
	go func() { // owned by run
		select {
		case <-sigs:
			b.interrupted.Store(true)
			b.st.ex.Cut() // open windows are partial: not written
			stopReading()
		case <-finished:
			return
		}
		select {
		case <-sigs:
		case <-time.After(shutdownGrace):
		case <-finished:
			return
		}
		cancel()
	}()
	stopProgress := b.progress()
	defer stopProgress()

	lines := make(chan pipeline.Line, lineBufferFor(b.maxLine))
	recs := make(chan pipeline.Record, b.st.recCap)
	acks := make(chan pipeline.Ack, 64)
	g.Go(func() error { defer close(lines); b.read(readCtx, lines); return nil })
	g.Go(func() error { return b.st.ex.RunParallel(gctx, lines, recs, runtime.GOMAXPROCS(0)) })
	g.Go(func() error { return b.st.sk.Run(gctx, recs, acks) })
	g.Go(func() error {
		for range acks { // no positions: the files are read whole each time
		}
		return nil
	})
	err := g.Wait()
	b.wall = time.Since(b.start)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(b.e.stderr, "logmetrics backfill: %v\n", err)
	}
	return err
}

// read sends the lines of every input, in order, to lines.
func (b *backfill) read(ctx context.Context, lines chan<- pipeline.Line) {
	b.filesRead = map[string]int{}
	for _, in := range b.inputs {
		if ctx.Err() != nil {
			return
		}
		b.filesRead[in.source]++
		err := b.readInput(ctx, in, lines)
		b.doneBytes.Add(in.arch.Size)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			b.fail(in.path, err)
		}
	}
}

// readInput sends the lines of one input, then the EOF Line that frees its
// separator state. For a file run began from its end, the lines run read
// in the second where it began are replayed first (see handoff).
func (b *backfill) readInput(ctx context.Context, in *input, lines chan<- pipeline.Line) error {
	if in.stop > 0 {
		if err := b.handoff(ctx, in, lines); err != nil {
			return err
		}
	}
	_, r, err := tailer.OpenArchive(in.path)
	if err != nil {
		return err
	}
	defer r.Close()
	b.reading.Store(r)
	defer b.reading.Store(nil)
	var src io.Reader = r
	if in.stop > 0 {
		src = io.LimitReader(r, in.stop)
	}
	end := int64(0)
	counts, err := tailer.Scan(ctx, src, b.scanInput(in), func(l pipeline.Line) error {
		end = l.Offset
		return b.send(ctx, lines, l)
	})
	b.tooLong[in.source] += counts.TooLong
	if b.multiline[in.source] != nil {
		c := b.joined[in.source]
		c.Add(counts)
		b.joined[in.source] = c
	}
	if err != nil {
		return err
	}
	if in.stop > 0 {
		if err := b.adoption(ctx, in, lines); err != nil {
			return err
		}
	}
	eof := pipeline.Line{Origin: pipeline.Origin{Path: in.path, Offset: end, File: in.arch.ID}, Source: in.source, EOF: true}
	return b.send(ctx, lines, eof)
}

func (b *backfill) scanInput(in *input) tailer.Input {
	now := b.start
	return tailer.Input{Source: in.source, Path: in.path, ModTime: in.arch.ModTime, MaxLineBytes: b.maxLine,
		Now: func() time.Time { return now }, File: in.arch.ID, Multiline: b.multiline[in.source]}
}

// send passes a line on and notes how far reading got.
func (b *backfill) send(ctx context.Context, lines chan<- pipeline.Line, l pipeline.Line) error {
	select {
	case lines <- l:
		if !l.Replay && !l.AggregateOnly {
			b.mu.Lock()
			b.at = l.Origin
			b.mu.Unlock()
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handoff prepares the separator for a file that run began at in.stop: run
// separated the lines after in.stop from a fresh state, so their points
// took the first times of their seconds. Before the lines before in.stop
// are read, the lines after it up to the latest time among them are
// replayed (no points), giving the separator the times run took: the
// earlier lines of a shared second then take the times after them, and
// no point run wrote is overwritten.
func (b *backfill) handoff(ctx context.Context, in *input, lines chan<- pipeline.Line) error {
	_, r, err := tailer.OpenArchive(in.path)
	if err != nil {
		return err
	}
	defer r.Close()
	var latest time.Time
	_, err = tailer.Scan(ctx, io.LimitReader(r, in.stop), b.scanInput(in), func(l pipeline.Line) error {
		if t, ok := b.probe.LineTime(in.source, l.Text, in.arch.ModTime); ok && t.After(latest) {
			latest = t
		}
		return nil
	})
	if err != nil {
		return err
	}
	if latest.IsZero() {
		return nil
	}
	// r is now at in.stop: what run read.
	_, err = tailer.Scan(ctx, r, b.scanInput(in), func(l pipeline.Line) error {
		t, ok := b.probe.LineTime(in.source, l.Text, in.arch.ModTime)
		if ok && t.After(latest) {
			return errFound
		}
		l.Replay, l.Offset = true, in.stop+l.Offset
		return b.send(ctx, lines, l)
	})
	if errors.Is(err, errFound) {
		return nil
	}
	return err
}

// adoption completes the adoption windows of a file run began at in.stop:
// the aggregation windows that start at or before the window of the first
// line after in.stop got lines on both sides of it, and run leaves them to
// backfill (pipeline.Line.Adopted). After the lines before in.stop, the
// lines after it are read again as AggregateOnly lines (the first one
// Adopted, which fixes those windows as run fixed them): they fold only
// into the adoption windows, and the end of the input writes them whole.
// Reading stops once a line's time is past the first one's by the longest
// window and lateness of the source's aggregate rules: its watermark has
// closed them.
func (b *backfill) adoption(ctx context.Context, in *input, lines chan<- pipeline.Line) error {
	reach := b.probe.AggregateReach(in.source)
	if reach == 0 {
		return nil
	}
	_, r, err := tailer.OpenArchive(in.path)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := io.CopyN(io.Discard, r, in.stop); err != nil {
		return fmt.Errorf("read %s: %w", in.path, err)
	}
	var first time.Time
	adopted := true
	_, err = tailer.Scan(ctx, r, b.scanInput(in), func(l pipeline.Line) error {
		if t, ok := b.probe.LineTime(in.source, l.Text, in.arch.ModTime); ok {
			if first.IsZero() {
				first = t
			} else if t.Sub(first) > reach {
				return errFound
			}
		}
		l.AggregateOnly, l.Adopted, l.Offset = true, adopted, in.stop+l.Offset
		adopted = false
		return b.send(ctx, lines, l)
	})
	if errors.Is(err, errFound) {
		return nil
	}
	return err
}
