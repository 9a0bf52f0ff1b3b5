package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/logging"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
	"github.com/logmetrics/logmetrics/tailer"
)

// cmdTest is the dry run a user iterates on a rule with: points as line
// protocol on stdout, a table of what each rule did on stderr. It never
// contacts InfluxDB and never writes state.
func cmdTest(e *env, args []string) int {
	fs := flags(e, "test")
	path := configFlag(fs)
	only := fs.String("source", "", "offer the lines to the rules of source `NAME` only (default: the sources whose paths match each file, or all)")
	if code, done := parse(fs, args); done {
		return code
	}
	cfg, files := loadConfigFiles(e, "test", *path, nil)
	if cfg == nil {
		return exitUsage
	}
	if *only != "" && !slices.ContainsFunc(cfg.Tailer.Sources, func(s tailer.Source) bool { return s.Name == *only }) {
		fmt.Fprintf(e.stderr, "logmetrics test: no source %q in %s\n", *only, *path)
		return exitUsage
	}
	ex, err := extract.Compile(cfg.Extract)
	if err != nil {
		fmt.Fprintf(e.stderr, "logmetrics test: bug: rules passed check but not compile: %v\n", err)
		return exitFailure
	}
	// Samples of per-line problems, without timestamps: a dry run's
	// output should read the same every time.
	log, err := logging.New(e.stderr, logging.Options{Level: "warn", NoTime: true, Secrets: secrets(cfg)})
	if err != nil {
		fmt.Fprintf(e.stderr, "logmetrics test: bug: %v\n", err)
		return exitFailure
	}
	ex.SetLogger(log)

	// Without files, test runs the examples, then reads stdin unless it
	// is a terminal (a user who means to type lines names "-"): "test
	// -config FILE" alone is the rules file's unit test.
	inputs := fs.Args()
	code := exitOK
	if len(inputs) == 0 {
		if !testExamples(e, *path, cfg, files) {
			code = exitUsage
		}
		if !isTerminal(e.stdin) {
			inputs = []string{"-"}
		} else if len(cfg.Examples) == 0 {
			fmt.Fprintf(e.stderr, "logmetrics test: %s has no examples and standard input is a terminal: name the files to read, or - to type lines\n", *path)
		}
		if len(inputs) == 0 {
			return code
		}
	}
	// A large buffer: with bufio's default 4 KiB, the write system calls
	// cost more CPU than the encoding.
	out := bufio.NewWriterSize(e.stdout, outBufSize)
	var buf []byte
	d := dryRun{ex: ex, now: time.Now(), tailer: cfg.Tailer, emit: func(p *pipeline.Point) error {
		buf = sink.AppendPoint(buf[:0], p)
		if _, err := out.Write(buf); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	}}
	for _, in := range inputs {
		sources := pickSources(cfg.Tailer, *only, in)
		if err := d.file(in, sources, e.stdin); err != nil {
			fmt.Fprintf(e.stderr, "logmetrics test: %v\n", err)
			code = exitFailure
		}
	}
	// The end of the input closes the aggregation windows still open.
	if err := d.flush(); err != nil {
		fmt.Fprintf(e.stderr, "logmetrics test: %v\n", err)
		code = exitFailure
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(e.stderr, "logmetrics test: write: %v\n", err)
		return exitFailure
	}
	printTable(e.stderr, ex.Stats(), d.tooLong)
	printJoined(e.stderr, d.joined)
	return code
}

// testExamples runs the examples of cfg, prints the failing ones as
// diagnostics and a count, and reports whether all passed.
func testExamples(e *env, path string, cfg *config.Config, files map[string]*hcl.File) bool {
	if len(cfg.Examples) == 0 {
		return true
	}
	passed, failed := config.RunExamples(cfg, time.Now())
	if len(failed) > 0 {
		if err := config.WriteDiagnostics(e.stderr, files, failed, diagWidth); err != nil {
			fmt.Fprintf(e.stderr, "logmetrics: print diagnostics: %v\n", err)
		}
	}
	fmt.Fprintf(e.stderr, "%s: %d example(s) passed, %d failed\n", path, passed, len(failed))
	return len(failed) == 0
}

// isTerminal reports whether r is a terminal, which test does not read
// unless told to with "-".
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// outBufSize is the buffer of test's standard output.
const outBufSize = 64 << 10

// pickSources returns the sources a file's lines are offered to: the one
// named by -source; else the source `run` would follow the file for; else,
// for stdin and files outside every source's paths, all of them.
func pickSources(cfg tailer.Config, only, file string) []string {
	if only != "" {
		return []string{only}
	}
	if abs, err := filepath.Abs(file); err == nil && file != "-" {
		if name := cfg.SourceOf(abs); name != "" {
			return []string{name}
		}
	}
	var names []string
	for _, s := range cfg.Sources {
		names = append(names, s.Name)
	}
	return names
}

// dryRun extracts files and hands their points to emit, in file order.
type dryRun struct {
	ex      *extract.Extractor
	emit    func(*pipeline.Point) error
	now     time.Time // every line of the run is "read" at this moment
	rec     pipeline.Record
	tooLong int64
	// tailer has the sources' multiline blocks; joined sums, per
	// multiline source, its lines and records (Counts.Records...).
	tailer tailer.Config
	joined map[string]tailer.Counts
}

func (d *dryRun) file(name string, sources []string, stdin io.Reader) error {
	r, mod := stdin, d.now
	var id pipeline.FileID
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if st.IsDir() {
			return fmt.Errorf("%s is a directory: name the log files", name)
		}
		r, mod = f, st.ModTime()
		// Each file is its own unit for the collision separator, as in run.
		if id, err = tailer.Identify(f); err != nil {
			return err
		}
	}
	// Borrowed: each line is extracted and its points encoded before
	// the next is read, and Extract keeps nothing of its text.
	in := tailer.Input{Path: name, ModTime: mod, Now: func() time.Time { return d.now }, File: id, Borrowed: true}
	// A source with a multiline block gets the file's records from a
	// joiner of its own: the sources offered the file may join it apart.
	joiners := d.joiners(sources)
	joined := func(rec pipeline.Line) error { return d.extract(&rec) }
	counts, err := tailer.Scan(context.Background(), r, in, func(line pipeline.Line) error {
		for i, s := range sources {
			line.Source = s
			var err error
			if j := joiners[i]; j != nil {
				err = j.Add(line, joined)
			} else {
				err = d.extract(&line)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	d.tooLong += counts.TooLong
	for i, j := range joiners {
		if j == nil {
			continue
		}
		if err == nil {
			err = j.Flush(joined) // the end of the file ends its last record
		}
		if d.joined == nil {
			d.joined = map[string]tailer.Counts{}
		}
		c, jc := d.joined[sources[i]], j.Counts()
		jc.Lines = counts.Lines
		c.Add(jc)
		d.joined[sources[i]] = c
	}
	return err
}

// joiners returns, for each source, a Joiner when it has a multiline
// block, else nil.
func (d *dryRun) joiners(sources []string) []*tailer.Joiner {
	out := make([]*tailer.Joiner, len(sources))
	for i, name := range sources {
		for _, s := range d.tailer.Sources {
			if s.Name == name && s.Multiline != nil {
				out[i] = tailer.NewJoiner(s.Multiline, d.tailer.MaxLineBytes, true)
			}
		}
	}
	return out
}

// extract extracts one line (or record) and emits its points.
func (d *dryRun) extract(line *pipeline.Line) error {
	d.ex.Extract(line, &d.rec)
	for i := range d.rec.Points {
		if err := d.emit(&d.rec.Points[i]); err != nil {
			return err
		}
	}
	return nil
}

// printJoined says, for each source with a multiline block, how many
// records its lines made and how many were cut (see tailer.Counts).
func printJoined(w io.Writer, joined map[string]tailer.Counts) {
	if len(joined) > 0 {
		fmt.Fprintln(w)
	}
	for _, name := range slices.Sorted(maps.Keys(joined)) {
		c := joined[name]
		fmt.Fprintf(w, "%s: multiline: %d lines joined into %d records; %d cut at max_lines, %d cut at max_line_bytes\n",
			name, c.Lines, c.Records, c.CutMaxLines, c.CutMaxBytes)
	}
}

// flush emits the points of the aggregation windows still open.
func (d *dryRun) flush() error {
	d.rec.Points = d.rec.Points[:0]
	d.ex.Flush(&d.rec)
	for i := range d.rec.Points {
		if err := d.emit(&d.rec.Points[i]); err != nil {
			return err
		}
	}
	return nil
}

// printRuleNotes says, under a table of rules, what aggregate rules did
// with their lines: the windows written, the late lines dropped and the
// lines folded past max_series.
func printRuleNotes(w io.Writer, st extract.Stats, used map[string]bool) {
	for _, r := range st.Rules {
		if !used[r.Source] || r.Aggregated+r.Late+r.Folded == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: %d lines aggregated into %d window points; %d late lines dropped (their window was already written); %d lines folded into the tag set \"other\" (max_series)\n",
			r.Rule, r.Aggregated, r.Points, r.Late, r.Folded)
	}
}

// printTable shows what each rule did, and the first lines no rule took,
// for the sources that were offered lines.
func printTable(w io.Writer, st extract.Stats, tooLong int64) {
	used := map[string]bool{}
	for _, s := range st.Sources {
		used[s.Source] = s.Lines > 0
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "source\trule\ttaken\tnot taken\tfiltered\tpoints\tbad value\tmissing\tbad time\tdropped\t")
	for _, r := range st.Rules {
		if !used[r.Source] {
			continue
		}
		points := fmt.Sprint(r.Points)
		if r.Aggregated > 0 {
			points = fmt.Sprintf("(aggregate) %d", r.Points)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t\n", r.Source, r.Rule, r.Taken, r.NotTaken, r.Filtered,
			points, r.ConversionErrors+r.CompositeValues, r.Missing, r.TimeErrors, r.NoFields+r.SeriesTooLong)
	}
	tw.Flush()
	printRuleNotes(w, st, used)
	for _, r := range st.Rules {
		if r.Displaced > 0 {
			fmt.Fprintf(w, "\n%s: %d points written after times the collision separator had forgotten (see the README's Colliding points)\n", r.Rule, r.Displaced)
		}
	}
	for _, s := range st.Sources {
		if !used[s.Source] {
			continue
		}
		fmt.Fprintf(w, "\n%s: %d lines, %d taken by no rule\n", s.Source, s.Lines, s.Unmatched)
		for _, smp := range s.Samples {
			// Quoted: a log line must not drive the terminal.
			fmt.Fprintf(w, "  %s, line ending at byte %d: %q\n", smp.Path, smp.Offset, smp.Text)
		}
	}
	if tooLong > 0 {
		fmt.Fprintf(w, "\n%d lines longer than the line limit were skipped\n", tooLong)
	}
}
