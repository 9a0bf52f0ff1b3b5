// Package config reads a rules file (HCL) into the plain configurations of
// the stages. It is the only package that knows HCL: problems stay
// hcl.Diagnostics, with ranges in the file, until WriteDiagnostics prints
// them.
//
// Loading runs in phases, each collecting every problem it finds:
//
//  1. parse the file (hclparse, so the printer can quote it);
//  2. decode the blocks with gohcl into this package's tagged structs: the
//     top level and the sources first, then each rule on its own, so that
//     the problems of a rule are known to be its own;
//  3. check what gohcl cannot (durations, URLs, globs, duplicate names,
//     extraction modes, field types) and fill the plain structs;
//  4. hand the rules that passed to extract.Compile and turn its
//     RuleErrors into diagnostics on the attributes they name.
//
// Relative paths in paths, exclude, state_dir and file() are taken from the
// rules file's directory, so a rules file means the same wherever the agent
// runs. An exclude glob without a "/" matches base names and stays as it is.
package config

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/mitchellh/go-wordwrap"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
	"github.com/logmetrics/logmetrics/tailer"
)

// Config is a loaded rules file.
type Config struct {
	Agent Agent
	// InfluxDB is nil when the file has no influxdb block: points then go to
	// stdout as line protocol.
	InfluxDB *InfluxDB
	// Tailer holds the sources' files: names, paths (absolute globs),
	// exclude globs and start_at. Their tags and rules are in Extract,
	// under the same names.
	Tailer tailer.Config
	// Extract holds every source's tags and rules. extract.Compile has
	// accepted it during Load.
	Extract extract.Config
	// Untimed are the rules without a time block, which run stamps with
	// the time a line is read: backfill refuses them (see Untimed).
	Untimed []UntimedRule
	// Examples are the rules' example blocks, in file order: check runs
	// them (RunExamples); run and backfill do not.
	Examples []Example
}

// UntimedRule is a rule without a time block, and where it is.
type UntimedRule struct {
	Source, Rule string
	Range        hcl.Range
}

// NeedTime returns diags with the warning about each rule of untimed
// turned into an error at the rule: a command for which a point's time
// must come from its line (backfill, whose lines were written long before
// they are read) cannot use a rule without a time block.
func NeedTime(diags hcl.Diagnostics, untimed []UntimedRule, command string) hcl.Diagnostics {
	out := make(hcl.Diagnostics, 0, len(diags))
	for _, d := range diags {
		if d.Severity == hcl.DiagError || !slices.ContainsFunc(untimed, func(u UntimedRule) bool { return d.Subject != nil && *d.Subject == u.Range }) {
			out = append(out, d)
		}
	}
	for _, u := range untimed {
		out = append(out, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No time block",
			Detail: fmt.Sprintf("Rule %q has no time block, so %s cannot know when its lines were written: "+
				"every point would be stamped with the time it is read. Add a time block that reads the line's own timestamp.", u.Rule, command),
			Subject: u.Range.Ptr(),
		})
	}
	sortDiagnostics(out)
	return out
}

// Agent is the agent block.
type Agent struct {
	// StateDir is where positions are kept.
	StateDir string
	// Listen is the host:port of the self-metrics and health endpoint; ""
	// turns it off.
	Listen string
	// Tags are added to every point. They are already merged into each
	// extract.Source's Tags; they are here for the agent's own metrics.
	Tags []pipeline.Tag
	// LogLevel and LogFormat are the defaults of -log-level and
	// -log-format: "debug", "info", "warn" or "error"; "text" or "json".
	// "" (absent) leaves each command its own default.
	LogLevel, LogFormat string
	// SelfMetrics is how often the agent writes its own counters to
	// InfluxDB as the logmetrics_agent measurement; 0 (the default) never.
	SelfMetrics time.Duration
	// UnhealthyAfter is how long writes to InfluxDB may fail before
	// /healthz reports the agent unhealthy.
	UnhealthyAfter time.Duration
}

// InfluxDB is the influxdb block: where and how points are written.
type InfluxDB struct {
	// Sink holds url, token, org, bucket, batch_size, flush_interval,
	// timeout and dead_letter_max_bytes, and the dead-letter file in the
	// agent's state_dir (DeadLetterFile).
	Sink sink.Config
	// MaxPending is how many points may wait for delivery before the
	// tailers pause. It is at least Sink.BatchSize.
	MaxPending int
}

// startAtNames are the values of start_at.
var startAtNames = map[string]tailer.StartAt{"end": tailer.StartAtEnd, "beginning": tailer.StartAtBeginning}

// DefaultUnhealthyAfter is agent.unhealthy_after's default: a restart of
// InfluxDB takes seconds, and max_pending and the log files buffer far
// longer than a minute.
const DefaultUnhealthyAfter = time.Minute

// Defaults of the optional attributes.
const (
	DefaultStateDir      = "/var/lib/logmetrics"
	DefaultListen        = "127.0.0.1:9275"
	DefaultBatchSize     = sink.DefaultBatchSize
	DefaultFlushInterval = sink.DefaultFlushInterval
	DefaultMaxPending    = 100000
	MaxMaxPending        = 1000000
	DefaultTimeout       = sink.DefaultTimeout
	DefaultMaxSeries     = extract.DefaultMaxSeries
	// DefaultDeadLetterMaxBytes bounds the dead-letter file.
	DefaultDeadLetterMaxBytes = sink.DefaultDeadLetterMaxBytes
	// MinDeadLetterMaxBytes keeps room for a few of the largest entries
	// (a point refused as too large is over 64 KiB).
	MinDeadLetterMaxBytes = 1 << 20
)

// DeadLetterFile is the name of the dead-letter file in the state folder.
const DeadLetterFile = "dead-letters.lp"

// Load reads the rules file at path. It returns the parser's files, which
// WriteDiagnostics needs to quote the source, and every diagnostic found.
// The Config is nil when any diagnostic is an error; warnings come with a
// usable Config.
func Load(path string) (*Config, map[string]*hcl.File, hcl.Diagnostics) {
	p := hclparse.NewParser()
	f, diags := p.ParseHCLFile(path)
	return load(p, f, path, diags)
}

// LoadBytes is Load for a file already in memory. name is used in
// diagnostics and, through its directory, to resolve relative paths.
func LoadBytes(name string, src []byte) (*Config, map[string]*hcl.File, hcl.Diagnostics) {
	p := hclparse.NewParser()
	f, diags := p.ParseHCL(src, name)
	return load(p, f, name, diags)
}

func load(p *hclparse.Parser, f *hcl.File, name string, diags hcl.Diagnostics) (*Config, map[string]*hcl.File, hcl.Diagnostics) {
	if diags.HasErrors() || f == nil {
		return nil, p.Files(), diags
	}
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		// Only a missing working directory gets here; relative paths
		// then stay relative to whatever it becomes.
		dir = filepath.Dir(name)
	}
	cfg, more := decodeFile(f.Body, dir)
	diags = append(diags, more...)
	sortDiagnostics(diags)
	if diags.HasErrors() {
		return nil, p.Files(), diags
	}
	return cfg, p.Files(), diags
}

// wrapProse wraps detail at width up to its first line that starts with a
// space, and keeps the rest as it is.
func wrapProse(detail string, width uint) string {
	if width == 0 {
		return detail
	}
	prose, rest := detail, ""
	if i := strings.Index(detail, "\n "); i >= 0 {
		prose, rest = detail[:i], detail[i:]
	}
	return wordwrap.WrapString(prose, width) + rest
}

// maxPrinted bounds how many diagnostics WriteDiagnostics prints. A file
// that is not HCL at all (a binary, a log) gets a parse error for each bad
// byte, each quoting its line; past a few screens more only hide the first.
const maxPrinted = 50

// WriteDiagnostics prints diags without colour, quoting the lines of files
// they point at. A detail's prose is wrapped at width; from its first
// indented line on (the points and differences of a failing example) it is
// printed as it is, so that a point stays one line to copy into expect.
// After maxPrinted it only counts the rest.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, width uint) error {
	shown := make(hcl.Diagnostics, min(len(diags), maxPrinted))
	for i := range shown {
		d := *diags[i]
		d.Detail = wrapProse(d.Detail, width)
		shown[i] = &d
	}
	if err := hcl.NewDiagnosticTextWriter(w, maskTokens(files), 0, false).WriteDiagnostics(shown); err != nil {
		return err
	}
	if len(shown) == len(diags) {
		return nil
	}
	rest := diags[len(shown):]
	errs := len(rest.Errs())
	_, err := fmt.Fprintf(w, "... and %d more errors and %d more warnings, not shown; fix the ones above first.\n", errs, len(rest)-errs)
	return err
}
