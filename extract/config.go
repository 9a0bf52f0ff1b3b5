package extract

import (
	"time"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// Config is everything extraction needs: the sources and their rules. It has
// no HCL tags; internal/config decodes the rules file and fills it in.
type Config struct {
	Sources []Source
}

// Source is one source block. Every line of the source is offered to every
// one of its rules.
type Source struct {
	Name string
	// Tags are added to every point of the source: the agent's tags with the
	// source's own on top. A rule's tag of the same key wins when it has a
	// value on the line.
	Tags  []pipeline.Tag
	Rules []Rule
	// Pending is how long a record of the source may still wait upstream
	// once its last line is read: a multiline block's timeout, for which
	// the tailer holds the last record of a quiet file. Idle waits that
	// much longer before it closes the source's windows by wall time, so
	// that such a record folds into its window as it does in test and
	// backfill, instead of coming late.
	Pending time.Duration
}

// Mode is how a rule pulls named values out of a line.
type Mode int

// The extraction modes: exactly one per rule.
const (
	Regex  Mode = iota // RE2 with named groups
	JSON               // one JSON object per line; names are dotted paths
	Logfmt             // key=value pairs with optional quoted values
)

func (m Mode) String() string {
	switch m {
	case Regex:
		return "regex"
	case JSON:
		return "json"
	case Logfmt:
		return "logfmt"
	}
	return "unknown"
}

// Rule turns the lines it takes into points of one measurement.
type Rule struct {
	Name string
	// Measurement defaults to Name.
	Measurement string
	Mode        Mode
	// Pattern is the regular expression of a Regex rule.
	Pattern string
	// Require lists conditions that must all hold before the rule takes a line.
	Require []Require
	// Time is nil when points are stamped with the moment their line was read.
	Time *Time
	Tags []TagSpec
	// Rewrites change the values tags are made of, in order (rewrite.go).
	Rewrites []Rewrite
	Fields   []FieldSpec
	// Aggregate, when set, makes the rule fold its lines into windows of
	// log time and emit a point per window and tag set instead of one per
	// line (see aggregate.go). It needs Time.
	Aggregate *Aggregate
}

// Op is how a Require compares a value.
type Op int

// The comparisons a Require can make.
const (
	Equals Op = iota
	NotEquals
	Matches
	NotMatches
)

// Require is a condition on one named value. A missing value equals nothing
// and matches nothing, so it fails Equals and Matches and passes NotEquals
// and NotMatches.
type Require struct {
	Name  string
	Op    Op
	Value string // a string for Equals/NotEquals, an RE2 pattern for Matches/NotMatches
}

// Time says where a point's timestamp comes from.
type Time struct {
	From string
	// Layout is a Go reference layout, a strftime layout (starting with "%"),
	// or one of rfc3339, rfc3339nano, unix, unix_ms, unix_us, unix_ns, syslog.
	Layout string
	// Location is the zone for layouts without one; empty means UTC.
	Location string
}

// TagSpec sets tag Key from the named value From.
type TagSpec struct {
	Key, From string
}

// Rewrite replaces every match of Regex (RE2) in the value Name, which must
// be the value of a tag of the rule, with Replace, which may refer to the
// regex's groups as $1, ${1}, $name or ${name} (regexp.Expand); $$ is a
// dollar sign. Only the rule's tags see the rewritten value.
type Rewrite struct {
	Name, Regex, Replace string
}

// Type is the type a field value is converted to.
type Type int

// Field types. Duration values ("250ms", "1.5s") become float seconds.
const (
	TypeFloat Type = iota
	TypeInt
	TypeUint
	TypeBool
	TypeString
	TypeDuration
)

// Types maps the names used in rules files to field types.
var Types = map[string]Type{
	"float": TypeFloat, "int": TypeInt, "uint": TypeUint,
	"bool": TypeBool, "string": TypeString, "duration": TypeDuration,
}

// FieldSpec sets field Key from the named value From, converted to Type. A
// non-zero Scale multiplies float and duration values.
type FieldSpec struct {
	Key, From string
	Type      Type
	Scale     float64
}

// Aggregate is a rule's aggregate block.
type Aggregate struct {
	// Window is the length of the windows, aligned to multiples of it
	// since the Unix epoch; it must divide a day.
	Window time.Duration
	// Stats are computed for every numeric field: sum, min, max, mean,
	// pNN (0 < NN < 100). "count" may be listed; the window's count is
	// written in any case.
	Stats []string
	// Lateness is how long, in log time, a window stays open after its
	// end for lines that come out of order.
	Lateness time.Duration
	// Buckets are the increasing upper bounds of cumulative histogram
	// buckets, for every numeric field.
	Buckets []float64
	// MaxSeries bounds the tag sets open at once; 0 means
	// DefaultMaxSeries.
	MaxSeries int
}
