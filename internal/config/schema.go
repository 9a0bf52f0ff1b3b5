package config

import "github.com/hashicorp/hcl/v2"

// The tagged structs below are the rules file as gohcl sees it. Optional
// attributes are pointers so that "absent" (take the default) and an explicit
// zero (an error where zero is invalid) stay apart. Attributes whose value
// may be a list or a map, or whose elements need their own ranges in
// diagnostics, stay hcl.Expression and are walked in values.go. The *Range
// fields are filled by gohcl and are zero when the attribute is absent.

// fileHCL is the top level. Rules are decoded in a later phase (ruleBlockHCL
// keeps their bodies) so that each rule's problems are known to be its own.
type fileHCL struct {
	Agent    *agentHCL    `hcl:"agent,block"`
	InfluxDB *influxHCL   `hcl:"influxdb,block"`
	Sources  []*sourceHCL `hcl:"source,block"`
}

type agentHCL struct {
	StateDir         *string        `hcl:"state_dir,optional"`
	StateDirRange    hcl.Range      `hcl:"state_dir,attr_value_range"`
	Listen           *string        `hcl:"listen,optional"`
	ListenRange      hcl.Range      `hcl:"listen,attr_value_range"`
	Tags             hcl.Expression `hcl:"tags,optional"`
	LogLevel         *string        `hcl:"log_level,optional"`
	LogLevelRange    hcl.Range      `hcl:"log_level,attr_value_range"`
	LogFormat        *string        `hcl:"log_format,optional"`
	LogFormatRange   hcl.Range      `hcl:"log_format,attr_value_range"`
	SelfMetrics      *string        `hcl:"self_metrics,optional"`
	SelfMetricsRange hcl.Range      `hcl:"self_metrics,attr_value_range"`
	UnhealthyAfter   *string        `hcl:"unhealthy_after,optional"`
	UnhealthyRange   hcl.Range      `hcl:"unhealthy_after,attr_value_range"`
	DefRange         hcl.Range      `hcl:",def_range"`
}

type influxHCL struct {
	URL      string    `hcl:"url"`
	URLRange hcl.Range `hcl:"url,attr_value_range"`
	// Token stays an expression: whether it is a literal (rather than
	// env() or file()) decides a warning, and its place is masked when a
	// diagnostic quotes the file.
	Token                   hcl.Expression `hcl:"token,optional"`
	Org                     string         `hcl:"org,optional"`
	Bucket                  string         `hcl:"bucket"`
	BucketRange             hcl.Range      `hcl:"bucket,attr_value_range"`
	BatchSize               *int           `hcl:"batch_size,optional"`
	BatchSizeRange          hcl.Range      `hcl:"batch_size,attr_value_range"`
	FlushInterval           *string        `hcl:"flush_interval,optional"`
	FlushIntervalRange      hcl.Range      `hcl:"flush_interval,attr_value_range"`
	MaxPending              *int           `hcl:"max_pending,optional"`
	MaxPendingRange         hcl.Range      `hcl:"max_pending,attr_value_range"`
	Timeout                 *string        `hcl:"timeout,optional"`
	TimeoutRange            hcl.Range      `hcl:"timeout,attr_value_range"`
	DeadLetterMaxBytes      *int64         `hcl:"dead_letter_max_bytes,optional"`
	DeadLetterMaxBytesRange hcl.Range      `hcl:"dead_letter_max_bytes,attr_value_range"`
	TLS                     *tlsHCL        `hcl:"tls,block"`
	DefRange                hcl.Range      `hcl:",def_range"`
}

type tlsHCL struct {
	CAFile                  *string   `hcl:"ca_file,optional"`
	CAFileRange             hcl.Range `hcl:"ca_file,attr_value_range"`
	CertFile                *string   `hcl:"cert_file,optional"`
	CertFileRange           hcl.Range `hcl:"cert_file,attr_value_range"`
	KeyFile                 *string   `hcl:"key_file,optional"`
	KeyFileRange            hcl.Range `hcl:"key_file,attr_value_range"`
	ServerName              *string   `hcl:"server_name,optional"`
	InsecureSkipVerify      *bool     `hcl:"insecure_skip_verify,optional"`
	InsecureSkipVerifyRange hcl.Range `hcl:"insecure_skip_verify,attr_range"`
	DefRange                hcl.Range `hcl:",def_range"`
}

type sourceHCL struct {
	Name         string          `hcl:"name,label"`
	NameRange    hcl.Range       `hcl:"name,label_range"`
	DefRange     hcl.Range       `hcl:",def_range"`
	Paths        hcl.Expression  `hcl:"paths"`
	Exclude      hcl.Expression  `hcl:"exclude,optional"`
	StartAt      *string         `hcl:"start_at,optional"`
	StartAtRange hcl.Range       `hcl:"start_at,attr_value_range"`
	Tags         hcl.Expression  `hcl:"tags,optional"`
	Multiline    *multilineHCL   `hcl:"multiline,block"`
	Rules        []*ruleBlockHCL `hcl:"rule,block"`
}

type multilineHCL struct {
	Start         *string   `hcl:"start,optional"`
	StartRange    hcl.Range `hcl:"start,attr_value_range"`
	Continue      *string   `hcl:"continue,optional"`
	ContinueRange hcl.Range `hcl:"continue,attr_value_range"`
	MaxLines      *int      `hcl:"max_lines,optional"`
	MaxLinesRange hcl.Range `hcl:"max_lines,attr_value_range"`
	Timeout       *string   `hcl:"timeout,optional"`
	TimeoutRange  hcl.Range `hcl:"timeout,attr_value_range"`
	DefRange      hcl.Range `hcl:",def_range"`
}

// ruleBlockHCL is a rule before its body is decoded.
type ruleBlockHCL struct {
	Name      string    `hcl:"name,label"`
	NameRange hcl.Range `hcl:"name,label_range"`
	DefRange  hcl.Range `hcl:",def_range"`
	Body      hcl.Body  `hcl:",remain"`
}

type ruleHCL struct {
	Regex            *string        `hcl:"regex,optional"`
	RegexRange       hcl.Range      `hcl:"regex,attr_range"`
	RegexValueRange  hcl.Range      `hcl:"regex,attr_value_range"`
	JSON             *bool          `hcl:"json,optional"`
	JSONRange        hcl.Range      `hcl:"json,attr_range"`
	Logfmt           *bool          `hcl:"logfmt,optional"`
	LogfmtRange      hcl.Range      `hcl:"logfmt,attr_range"`
	Measurement      *string        `hcl:"measurement,optional"`
	MeasurementRange hcl.Range      `hcl:"measurement,attr_value_range"`
	Time             *timeHCL       `hcl:"time,block"`
	Tags             hcl.Expression `hcl:"tags,optional"`
	Fields           hcl.Expression `hcl:"fields,optional"`
	Field            []*fieldHCL    `hcl:"field,block"`
	Require          []*requireHCL  `hcl:"require,block"`
	Rewrite          []*rewriteHCL  `hcl:"rewrite,block"`
	Aggregate        *aggregateHCL  `hcl:"aggregate,block"`
}

type timeHCL struct {
	From          string    `hcl:"from"`
	FromRange     hcl.Range `hcl:"from,attr_value_range"`
	Layout        string    `hcl:"layout"`
	LayoutRange   hcl.Range `hcl:"layout,attr_value_range"`
	Location      *string   `hcl:"location,optional"`
	LocationRange hcl.Range `hcl:"location,attr_value_range"`
	DefRange      hcl.Range `hcl:",def_range"`
}

type fieldHCL struct {
	Key        string    `hcl:"key,label"`
	KeyRange   hcl.Range `hcl:"key,label_range"`
	DefRange   hcl.Range `hcl:",def_range"`
	From       *string   `hcl:"from,optional"`
	FromRange  hcl.Range `hcl:"from,attr_value_range"`
	Type       *string   `hcl:"type,optional"`
	TypeRange  hcl.Range `hcl:"type,attr_value_range"`
	Scale      *float64  `hcl:"scale,optional"`
	ScaleRange hcl.Range `hcl:"scale,attr_range"`
}

type requireHCL struct {
	Name           string    `hcl:"name,label"`
	NameRange      hcl.Range `hcl:"name,label_range"`
	DefRange       hcl.Range `hcl:",def_range"`
	Equals         *string   `hcl:"equals,optional"`
	EqualsRange    hcl.Range `hcl:"equals,attr_range"`
	NotEquals      *string   `hcl:"not_equals,optional"`
	NotEqualsRange hcl.Range `hcl:"not_equals,attr_range"`
	Regex          *string   `hcl:"regex,optional"`
	RegexRange     hcl.Range `hcl:"regex,attr_range"`
	NotRegex       *string   `hcl:"not_regex,optional"`
	NotRegexRange  hcl.Range `hcl:"not_regex,attr_range"`
}

type rewriteHCL struct {
	Name         string    `hcl:"name,label"`
	NameRange    hcl.Range `hcl:"name,label_range"`
	Regex        string    `hcl:"regex"`
	RegexRange   hcl.Range `hcl:"regex,attr_value_range"`
	Replace      string    `hcl:"replace"`
	ReplaceRange hcl.Range `hcl:"replace,attr_value_range"`
}

type aggregateHCL struct {
	Window         string         `hcl:"window"`
	WindowRange    hcl.Range      `hcl:"window,attr_value_range"`
	Stats          hcl.Expression `hcl:"stats"`
	Lateness       *string        `hcl:"lateness,optional"`
	LatenessRange  hcl.Range      `hcl:"lateness,attr_value_range"`
	Buckets        hcl.Expression `hcl:"buckets,optional"`
	MaxSeries      *int           `hcl:"max_series,optional"`
	MaxSeriesRange hcl.Range      `hcl:"max_series,attr_value_range"`
	DefRange       hcl.Range      `hcl:",def_range"`
}
