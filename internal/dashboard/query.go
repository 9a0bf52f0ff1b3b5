package dashboard

import (
	"regexp"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// InfluxQL is a raw InfluxQL query of Grafana's InfluxDB data source, the
// target of every panel. The SDK (v0.0.22) has no InfluxDB query type, so
// this implements its variants.Dataquery with the fields Grafana's
// InfluxDB plugin reads for a raw query.
type InfluxQL struct {
	RefID      string                `json:"refId"`
	Datasource *common.DataSourceRef `json:"datasource,omitempty"`
	// Query may use Grafana's macros $timeFilter, $__interval and
	// $__interval_ms, which Grafana replaces before sending it.
	Query    string `json:"query"`
	RawQuery bool   `json:"rawQuery"`
	// ResultFormat is "time_series": a series per column and GROUP BY
	// tag set.
	ResultFormat string `json:"resultFormat"`
	// Alias names the series: $col, $tag_<key>.
	Alias string `json:"alias,omitempty"`
}

// ImplementsDataqueryVariant marks InfluxQL as a panel target.
func (InfluxQL) ImplementsDataqueryVariant() {}

// DataqueryType is the data source plugin's id.
func (InfluxQL) DataqueryType() string { return "influxdb" }

// Validate reports nothing: the generator makes every query.
func (InfluxQL) Validate() error { return nil }

// Equals compares two targets by value.
func (q InfluxQL) Equals(other variants.Dataquery) bool {
	o, ok := other.(InfluxQL)
	if !ok {
		return false
	}
	same := q.Datasource == nil && o.Datasource == nil ||
		q.Datasource != nil && o.Datasource != nil && ptrEq(q.Datasource.Type, o.Datasource.Type) && ptrEq(q.Datasource.Uid, o.Datasource.Uid)
	q.Datasource, o.Datasource = nil, nil
	return same && q == o
}

func ptrEq(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// Build makes InfluxQL its own builder, so panels take it as a target.
func (q InfluxQL) Build() (variants.Dataquery, error) { return q, nil }

// ident quotes an InfluxQL identifier (measurement, tag or field key, alias).
func ident(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// Grafana's macros, which the queries use and a test or the demo replaces
// as Grafana would.
const (
	TimeFilter = "$timeFilter"
	Interval   = "$__interval"
	IntervalMS = "$__interval_ms"
)

// selectQuery is SELECT cols FROM m WHERE $timeFilter GROUP BY
// time($__interval), tags..., then tail (a fill clause).
func selectQuery(cols []string, m string, tags []string, tail string) string {
	var b strings.Builder
	b.WriteString("SELECT " + strings.Join(cols, ", ") + " FROM " + ident(m) + " WHERE " + TimeFilter + " GROUP BY time(" + Interval + ")")
	for _, t := range tags {
		b.WriteString(", " + ident(t))
	}
	if tail != "" {
		b.WriteString(" " + tail)
	}
	return b.String()
}

// perSecond divides an aggregate over an interval by the interval's
// seconds.
func perSecond(agg string) string { return agg + " * 1000 / " + IntervalMS }

// Tag keys a target's alias can refer to, by the pattern Grafana's
// InfluxQL backend finds references with (FormatFrameName's legendFormat,
// Go's ASCII \w): $tag_key ends at the first character outside [@\w-],
// so a key with dots or slashes needs [[tag_key]], and one with other
// characters (spaces, non-ASCII letters, $, empty dot segments) cannot be
// named at all.
var (
	dollarTagKey  = regexp.MustCompile(`^[@\w-]+$`)
	bracketTagKey = regexp.MustCompile(`^[@/\w-]+(\.[@/\w-]+)*$`)
)

// seriesAlias names a target's series: the column first when col, then
// key=value per tag, or name when there is neither. It is "" when a key
// cannot be referred to or name would be read as a reference: Grafana
// then names each series itself (measurement, column and every tag),
// which is long but never drops a tag.
func seriesAlias(name string, col bool, tags []string) string {
	var parts []string
	if col {
		parts = append(parts, "$col")
	}
	for _, t := range tags {
		switch {
		case dollarTagKey.MatchString(t):
			parts = append(parts, t+"=$tag_"+t)
		case bracketTagKey.MatchString(t):
			parts = append(parts, t+"=[[tag_"+t+"]]")
		default:
			return ""
		}
	}
	if len(parts) == 0 {
		if strings.Contains(name, "$") || strings.Contains(name, "[[") {
			return ""
		}
		return name
	}
	return strings.Join(parts, " ")
}
