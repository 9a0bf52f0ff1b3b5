package config

import (
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/logging"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
	"github.com/logmetrics/logmetrics/tailer"
)

// loader carries what every phase needs and collects the diagnostics.
type loader struct {
	ctx   *hcl.EvalContext
	dir   string // the rules file's directory, absolute
	diags hcl.Diagnostics
	// ruleNames maps each rule name to the label that first used it. Rule
	// names are unique in the whole file, not just per source: a rule's name
	// is its default measurement and names it in the agent's own metrics
	// and in `logmetrics test`, so two rules of one name would be
	// indistinguishable there. Rules of different sources may still write
	// one measurement by setting measurement explicitly.
	ruleNames map[string]hcl.Range
	// places says where each rule's parts are, for extract.Compile's errors.
	places map[ruleKey]*rulePlaces
	// untimed are the rules without a time block.
	untimed []UntimedRule
	// examples are the rules' example blocks that passed their checks.
	examples []Example
}

func decodeFile(body hcl.Body, dir string) (*Config, hcl.Diagnostics) {
	l := &loader{
		ctx:       &hcl.EvalContext{Functions: functions(dir)},
		dir:       dir,
		ruleNames: map[string]hcl.Range{},
		places:    map[ruleKey]*rulePlaces{},
	}
	var root fileHCL
	l.decode(body, &root)

	cfg := &Config{Agent: l.agent(root.Agent), InfluxDB: l.influxDB(root.InfluxDB)}
	if cfg.InfluxDB != nil {
		cfg.InfluxDB.Sink.DeadLetterPath = filepath.Join(cfg.Agent.StateDir, DeadLetterFile)
	} else if cfg.Agent.SelfMetrics > 0 {
		// run only warned at startup, where an operator may not look.
		l.warnf(root.Agent.SelfMetricsRange, nil, "Self-metrics without an influxdb block",
			"The agent writes its own metrics to InfluxDB every self_metrics; without an influxdb block they are not written (they are still on /metrics). Add an influxdb block, or set self_metrics = \"0s\".")
	}
	agentTags := l.tags(agentTagsExpr(root.Agent), "tags")
	if len(root.Sources) == 0 {
		l.errorf(body.MissingItemRange(), nil, "No sources",
			"Add a source block with the paths to follow and at least one rule.")
	}
	// compilable are the parts of Extract that passed this package's own
	// checks: extract.Compile sees only those, so that its errors are new
	// problems rather than echoes of ones already reported.
	var compilable extract.Config
	seen := map[string]*sourceHCL{}
	for _, s := range root.Sources {
		first, dup := seen[s.Name]
		if dup {
			l.errorf(s.NameRange, &s.DefRange, "Duplicate source name",
				"A source named %q is already defined at %s; rename one of the two.", s.Name, first.NameRange)
		} else {
			seen[s.Name] = s
		}
		src, xsrc, ok := l.source(s, agentTags)
		cfg.Tailer.Sources = append(cfg.Tailer.Sources, src)
		cfg.Extract.Sources = append(cfg.Extract.Sources, xsrc)
		if len(ok.Rules) > 0 && !dup {
			compilable.Sources = append(compilable.Sources, ok)
		}
	}
	cfg.Agent.Tags = mergeTags(agentTags)
	cfg.Tailer.StateDir = cfg.Agent.StateDir
	cfg.Untimed = l.untimed
	cfg.Examples = l.examples
	l.compile(compilable)
	return cfg, l.diags
}

// decode runs gohcl, reporting whether it found no errors. A function that
// fails (env of an unset variable) leaves an unknown value behind, which
// gohcl then reports a second time as "value must be known"; that echo is
// dropped, since without variables nothing else is ever unknown. Matching
// gohcl's texts is brittle, but a change there only brings the echo back.
func (l *loader) decode(body hcl.Body, val any) bool {
	diags := gohcl.DecodeBody(body, l.ctx, val)
	for _, d := range diags {
		if d.Summary == "Unsuitable value type" {
			if strings.HasSuffix(d.Detail, "value must be known") {
				continue
			}
			// "Unsuitable value: a number is required" repeats the
			// Summary; keep what is required, as a sentence.
			d.Detail = sentence(strings.TrimPrefix(d.Detail, "Unsuitable value: "))
		}
		l.diags = append(l.diags, d)
	}
	return !diags.HasErrors()
}

func agentTagsExpr(a *agentHCL) hcl.Expression {
	if a == nil {
		return nil
	}
	return a.Tags
}

func (l *loader) agent(a *agentHCL) Agent {
	out := Agent{StateDir: DefaultStateDir, Listen: DefaultListen, UnhealthyAfter: DefaultUnhealthyAfter}
	if a == nil {
		return out
	}
	out.UnhealthyAfter, _ = l.duration(a.UnhealthyAfter, a.UnhealthyRange, "unhealthy_after", DefaultUnhealthyAfter, false)
	out.LogLevel = l.oneOf(a.LogLevel, a.LogLevelRange, "log_level", logging.Levels)
	out.LogFormat = l.oneOf(a.LogFormat, a.LogFormatRange, "log_format", logging.Formats)
	out.SelfMetrics, _ = l.duration(a.SelfMetrics, a.SelfMetricsRange, "self_metrics", 0, true)
	if a.StateDir != nil {
		if *a.StateDir == "" {
			// An empty state_dir would put positions in the working
			// directory, which changes with how the agent is started.
			l.errorf(a.StateDirRange, nil, "Empty state_dir",
				"Set state_dir to the directory for positions, or leave it out for %s.", DefaultStateDir)
		} else {
			out.StateDir = resolve(l.dir, *a.StateDir)
		}
	}
	if a.Listen != nil {
		out.Listen = *a.Listen
		if out.Listen != "" {
			_, port, err := net.SplitHostPort(out.Listen)
			if err == nil {
				_, err = strconv.ParseUint(port, 10, 16)
			}
			if err != nil {
				l.errorf(a.ListenRange, nil, "Invalid listen address",
					"listen must be host:port, such as \"127.0.0.1:9275\" or \":9275\", or \"\" to turn the endpoint off; %q is neither.", out.Listen)
			}
		}
	}
	return out
}

func (l *loader) influxDB(in *influxHCL) *InfluxDB {
	if in == nil {
		return nil
	}
	out := &InfluxDB{Sink: sink.Config{URL: in.URL, Org: in.Org, Bucket: in.Bucket}}
	out.Sink.Token = l.token(in)
	// An empty range means gohcl found no url and has said so. The URL is
	// quoted redacted: it may carry a password.
	u, err := url.Parse(in.URL)
	if !in.URLRange.Empty() && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		shown := strconv.Quote(in.URL)
		switch {
		case err == nil:
			shown = strconv.Quote(u.Redacted())
		case strings.Contains(in.URL, "@"):
			shown = "the url (not shown, as it may hold a password)"
		}
		l.errorf(in.URLRange, &in.DefRange, "Invalid url",
			"url must be an http or https URL of the InfluxDB server, such as \"http://127.0.0.1:8086\"; %s is not.", shown)
	}
	if in.TLS != nil {
		if err == nil && u.Scheme == "http" {
			l.errorf(in.URLRange, &in.TLS.DefRange, "tls block with an http url",
				"The tls block applies to https URLs only; change the url to https:// or remove the tls block.")
		}
		out.Sink.TLS = l.tls(in.TLS)
	}
	if in.Bucket == "" && !in.BucketRange.Empty() {
		l.errorf(in.BucketRange, &in.DefRange, "Empty bucket",
			"Set bucket to the bucket to write to, or to \"database/retention_policy\" for InfluxDB 1.8.")
	}
	var batchOK, pendingOK bool
	out.Sink.BatchSize, batchOK = l.positive(in.BatchSize, in.BatchSizeRange, "batch_size", DefaultBatchSize)
	out.MaxPending, pendingOK = l.positive(in.MaxPending, in.MaxPendingRange, "max_pending", DefaultMaxPending)
	if pendingOK && out.MaxPending > MaxMaxPending {
		// The pending points are memory: past a million the agent would
		// trade the log file, a free buffer, for the machine's RAM.
		l.errorf(in.MaxPendingRange, &in.DefRange, "max_pending too large",
			"max_pending (%d) must be at most %d; while InfluxDB is slow the log files themselves are the buffer.", out.MaxPending, MaxMaxPending)
		out.MaxPending, pendingOK = DefaultMaxPending, false
	}
	out.Sink.FlushInterval, _ = l.duration(in.FlushInterval, in.FlushIntervalRange, "flush_interval", DefaultFlushInterval, false)
	out.Sink.Timeout, _ = l.duration(in.Timeout, in.TimeoutRange, "timeout", DefaultTimeout, false)
	out.Sink.DeadLetterMaxBytes = DefaultDeadLetterMaxBytes
	if in.DeadLetterMaxBytes != nil {
		if n := *in.DeadLetterMaxBytes; n < MinDeadLetterMaxBytes {
			l.errorf(in.DeadLetterMaxBytesRange, &in.DefRange, "dead_letter_max_bytes too small",
				"dead_letter_max_bytes (%d) must be at least %d (1 MiB); leave it out for the default, %d (64 MiB).",
				n, MinDeadLetterMaxBytes, DefaultDeadLetterMaxBytes)
		} else {
			out.Sink.DeadLetterMaxBytes = n
		}
	}
	if batchOK && pendingOK && out.MaxPending < out.Sink.BatchSize {
		// A full batch must fit among the pending points, or the tailers
		// would pause before the first batch fills and wait for its timer.
		rng := in.MaxPendingRange
		if in.MaxPending == nil {
			rng = in.BatchSizeRange
		}
		l.errorf(rng, &in.DefRange, "max_pending below batch_size",
			"max_pending (%d) must be at least batch_size (%d); raise max_pending or lower batch_size.", out.MaxPending, out.Sink.BatchSize)
	}
	return out
}

// oneOf returns *v, or "" when v is nil, reporting a value not in allowed.
func (l *loader) oneOf(v *string, rng hcl.Range, name string, allowed []string) string {
	if v == nil {
		return ""
	}
	if !slices.Contains(allowed, *v) {
		l.errorf(rng, nil, "Invalid "+name, "%s must be one of %s; %q is not.", name, strings.Join(allowed, ", "), *v)
		return ""
	}
	return *v
}

// positive returns *v, or def when v is nil, reporting a value below 1.
func (l *loader) positive(v *int, rng hcl.Range, name string, def int) (int, bool) {
	if v == nil {
		return def, true
	}
	if *v < 1 {
		l.errorf(rng, nil, "Invalid "+name, "%s must be at least 1; leave it out for the default, %d.", name, def)
		return def, false
	}
	return *v, true
}

// duration parses a duration attribute, returning def when it is absent.
// Zero is allowed only where it means "none" (allowZero).
func (l *loader) duration(v *string, rng hcl.Range, name string, def time.Duration, allowZero bool) (time.Duration, bool) {
	if v == nil {
		return def, true
	}
	d, err := time.ParseDuration(*v)
	switch {
	case err != nil:
		l.errorf(rng, nil, "Invalid duration",
			"%s must be a duration: a number and a unit (ns, us, ms, s, m, h), such as \"500ms\" or \"10s\"; %q is not.", name, *v)
		return def, false
	case d < 0 || (d == 0 && !allowZero):
		limit := "greater than 0"
		if allowZero {
			limit = "0s or more"
		}
		l.errorf(rng, nil, "Invalid duration", "%s must be %s; it is %q.", name, limit, *v)
		return def, false
	}
	return d, true
}

// source checks one source block. It returns the tailer's part, the
// extraction part, and the extraction part reduced to the rules that passed
// this package's checks.
func (l *loader) source(s *sourceHCL, agentTags []item) (tailer.Source, extract.Source, extract.Source) {
	out := tailer.Source{Name: s.Name}
	if s.Name == "" {
		l.errorf(s.NameRange, &s.DefRange, "Empty source name", "Give the source a name, such as source \"nginx\".")
	}
	// gohcl does not require attributes decoded as expressions.
	paths, rngs, sh := l.strings(s.Paths, "paths")
	switch {
	case sh == absent:
		l.errorf(s.DefRange, nil, "Missing paths",
			"Source %q needs paths, the files to follow, such as paths = [\"/var/log/app/*.log\"].", s.Name)
	case sh == listShape && len(paths) == 0:
		l.errorf(s.Paths.Range(), &s.DefRange, "No paths",
			"Source %q needs at least one path or glob to follow, such as paths = [\"/var/log/app/*.log\"].", s.Name)
	}
	out.Paths = l.globs(paths, rngs, &s.DefRange, "paths", true)
	excl, rngs, _ := l.strings(s.Exclude, "exclude")
	out.Exclude = l.globs(excl, rngs, &s.DefRange, "exclude", false)
	if s.StartAt != nil {
		if at, ok := startAtNames[*s.StartAt]; ok {
			out.StartAt = at
		} else {
			l.errorf(s.StartAtRange, &s.DefRange, "Invalid start_at",
				"start_at must be \"end\" (only new lines) or \"beginning\" (the whole file); %q is neither.", *s.StartAt)
		}
	}

	out.Multiline = l.multiline(s.Name, s.Multiline)

	tags := append(slices.Clip(agentTags), l.tags(s.Tags, "tags")...)
	xsrc := extract.Source{Name: s.Name, Tags: mergeTags(tags)}
	if out.Multiline != nil {
		// A quiet file's last record waits for its timeout in the
		// tailer: the windows it belongs to must wait for it too.
		xsrc.Pending = out.Multiline.Timeout
	}
	ok := xsrc
	if len(s.Rules) == 0 {
		l.errorf(s.DefRange, nil, "No rules",
			"Source %q has no rule blocks; add at least one rule that turns its lines into fields.", s.Name)
	}
	for _, rb := range s.Rules {
		r, sound := l.rule(s.Name, rb, s.Multiline != nil, out.Multiline)
		xsrc.Rules = append(xsrc.Rules, r)
		if sound {
			ok.Rules = append(ok.Rules, r)
		}
	}
	return out, xsrc, ok
}

// multiline checks a source's multiline block; nil when there is none.
func (l *loader) multiline(source string, m *multilineHCL) *tailer.Multiline {
	if m == nil {
		return nil
	}
	out := &tailer.Multiline{}
	pattern := func(v *string, rng hcl.Range, name string) *regexp.Regexp {
		if v == nil {
			return nil
		}
		re, err := regexp.Compile(*v)
		if err != nil {
			l.errorf(rng, &m.DefRange, "Invalid regex",
				"The %s regex of the multiline block of source %q is not a valid RE2 regular expression: %v.", name, source, err)
		}
		return re
	}
	out.Start = pattern(m.Start, m.StartRange, "start")
	out.Continue = pattern(m.Continue, m.ContinueRange, "continue")
	switch {
	case m.Start != nil && m.Continue != nil:
		l.errorf(m.ContinueRange, &m.DefRange, "Both start and continue",
			"The multiline block of source %q sets both start and continue; keep one: start when a record's first line is easy to tell (a timestamp), continue when its other lines are (indented frames).", source)
	case m.Start == nil && m.Continue == nil:
		l.errorf(m.DefRange, nil, "Missing start or continue",
			"The multiline block of source %q must set start (a regex matching a record's first line) or continue (a regex matching its other lines).", source)
	}
	out.MaxLines, _ = l.positive(m.MaxLines, m.MaxLinesRange, "max_lines", tailer.DefaultMultilineMaxLines)
	out.Timeout, _ = l.duration(m.Timeout, m.TimeoutRange, "timeout", tailer.DefaultMultilineTimeout, false)
	return out
}

// globs checks patterns and makes relative ones absolute. A pattern without
// a "/" in exclude stays as it is: it matches base names ("*.gz").
func (l *loader) globs(pats []string, rngs []hcl.Range, context *hcl.Range, name string, isPaths bool) []string {
	var out []string
	for i, p := range pats {
		switch {
		case p == "":
			l.errorf(rngs[i], context, "Empty pattern", "Remove the empty string from %s.", name)
			continue
		case !doublestar.ValidatePattern(p):
			l.errorf(rngs[i], context, "Invalid glob",
				"%q in %s is not a valid glob: check its brackets, braces and escapes.", p, name)
			continue
		case isPaths || strings.Contains(p, "/"):
			p = resolve(l.dir, p)
		}
		out = append(out, p)
	}
	return out
}

// tags reads an agent or source tags map, reporting keys and values a point
// cannot carry.
func (l *loader) tags(expr hcl.Expression, name string) []item {
	if expr == nil {
		return nil
	}
	items := l.stringMap(expr, name)
	out := items[:0]
	for _, it := range items {
		switch {
		case it.Key == "" || it.Key == "time":
			l.errorf(it.Range, nil, "Invalid tag key",
				"A tag key cannot be %q; InfluxDB reserves it. Rename the tag.", it.Key)
		case it.Value.AsString() == "":
			l.errorf(it.Range, nil, "Empty tag value",
				"Tag %q has an empty value, which InfluxDB cannot store; give it a value or remove it.", it.Key)
		default:
			out = append(out, it)
		}
	}
	return out
}

// mergeTags turns tag entries into tags sorted by key, a later entry of a
// key replacing an earlier one: agent tags first, then source tags on top.
func mergeTags(items []item) []pipeline.Tag {
	m := make(map[string]string, len(items))
	for _, it := range items {
		m[it.Key] = it.Value.AsString()
	}
	if len(m) == 0 {
		return nil
	}
	out := make([]pipeline.Tag, 0, len(m))
	for k, v := range m {
		out = append(out, pipeline.Tag{Key: k, Value: v})
	}
	slices.SortFunc(out, func(a, b pipeline.Tag) int { return strings.Compare(a.Key, b.Key) })
	return out
}
