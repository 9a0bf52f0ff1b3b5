package extract

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// timeKind is how a layout is parsed.
type timeKind int

const (
	timeLayout timeKind = iota // a Go reference layout (strftime layouts are converted to one)
	timeUnix                   // a decimal number of seconds, ms, µs or ns since the epoch
)

// timeParser parses the timestamps of one rule. It is compiled once; parse
// neither allocates on success nor reads the clock.
type timeParser struct {
	kind   timeKind
	layout string
	loc    *time.Location
	// unitNanos is the size of one unit of a unix layout in nanoseconds.
	unitNanos int64
	// zoneName is set when the layout reads a zone abbreviation ("MST").
	zoneName bool
}

// namedLayouts are the layouts a rule can name instead of spelling them out.
var namedLayouts = map[string]string{
	"rfc3339":     time.RFC3339,
	"rfc3339nano": time.RFC3339Nano,
	"syslog":      time.Stamp, // RFC 3164 "Jan _2 15:04:05": the year comes from the file
	"ansic":       time.ANSIC,
	"unixdate":    time.UnixDate,
	"rubydate":    time.RubyDate,
	"rfc822":      time.RFC822,
	"rfc822z":     time.RFC822Z,
	"rfc850":      time.RFC850,
	"rfc1123":     time.RFC1123,
	"rfc1123z":    time.RFC1123Z,
	"datetime":    time.DateTime,
}

var unixUnits = map[string]int64{
	"unix":    int64(time.Second),
	"unix_ms": int64(time.Millisecond),
	"unix_us": int64(time.Microsecond),
	"unix_ns": 1,
}

// compileTime checks a layout and location and returns their parser.
// The returned error names the part that is wrong ("time.layout" or
// "time.location") through a *partError.
func compileTime(layout, location string) (*timeParser, error) {
	loc := time.UTC
	if location != "" {
		l, err := time.LoadLocation(location)
		if err != nil {
			return nil, &partError{"time.location", fmt.Errorf("unknown location %q: use an IANA zone name such as \"Europe/Berlin\", \"UTC\" or \"Local\"", location)}
		}
		loc = l
	}
	if unit, ok := unixUnits[layout]; ok {
		return &timeParser{kind: timeUnix, unitNanos: unit, loc: loc}, nil
	}
	goLayout, err := goLayoutOf(layout)
	if err != nil {
		return nil, &partError{"time.layout", err}
	}
	return &timeParser{kind: timeLayout, layout: goLayout, loc: loc, zoneName: zoneByName(goLayout)}, nil
}

// zoneByName reports whether a layout's zone comes from an abbreviation
// alone: it has "MST" and no numeric offset, which would fix the time by
// itself.
func zoneByName(layout string) bool {
	if !strings.Contains(layout, "MST") {
		return false
	}
	for _, offset := range []string{"-07", "Z07"} { // -0700, -07:00, -07, Z0700, Z07:00, Z07
		if strings.Contains(layout, offset) {
			return false
		}
	}
	return true
}

// goLayoutOf turns a named, strftime or Go layout into a Go layout and checks
// that it can parse what it formats.
func goLayoutOf(layout string) (string, error) {
	if l, ok := namedLayouts[strings.ToLower(layout)]; ok {
		return l, nil
	}
	if strings.HasPrefix(layout, "%") {
		return strftimeToGo(layout)
	}
	// Any time other than the reference time changes a layout with elements.
	ref := time.Date(2009, time.November, 17, 20, 34, 58, 651387237, time.FixedZone("XYZ", 3*3600))
	s := ref.Format(layout)
	if s == layout {
		return "", fmt.Errorf("layout %q has no elements of Go's reference time: write it as Go's reference time Mon Jan 2 15:04:05 MST 2006 (for example \"02/Jan/2006:15:04:05 -0700\"), as strftime starting with %% (\"%%d/%%b/%%Y:%%H:%%M:%%S %%z\"), or use one of rfc3339, rfc3339nano, unix, unix_ms, unix_us, unix_ns, syslog", layout)
	}
	back, err := time.Parse(layout, s)
	if err != nil {
		return "", fmt.Errorf("layout %q cannot parse its own output %q: %v", layout, s, err)
	}
	// A layout must at least say the day or the time of day; "iso8601"
	// has an element ("1", the month) but is not a layout anyone meant.
	date := back.Month() == ref.Month() && back.Day() == ref.Day()
	clock := back.Hour() == ref.Hour() && back.Minute() == ref.Minute()
	if !date && !clock {
		return "", fmt.Errorf("layout %q names neither a day nor a time of day; write it as Go's reference time Mon Jan 2 15:04:05 MST 2006 or use one of rfc3339, rfc3339nano, unix, unix_ms, unix_us, unix_ns, syslog", layout)
	}
	return layout, nil
}

// strftimeDirectives maps strftime conversions to Go layout elements.
var strftimeDirectives = map[string]string{
	"a": "Mon", "A": "Monday", "b": "Jan", "h": "Jan", "B": "January",
	"d": "02", "e": "_2", "j": "002", "m": "01", "y": "06", "Y": "2006",
	"H": "15", "I": "03", "M": "04", "S": "05", "p": "PM",
	"z": "-0700", ":z": "-07:00", "Z": "MST",
	"f": "000000", "L": "000", "N": "000000000",
	"T": "15:04:05", "D": "01/02/06", "F": "2006-01-02", "R": "15:04",
	"%": "%",
}

// strftimeToGo converts a strftime layout. Literal text must not contain
// anything Go would read as a layout element (digits, month or day names),
// or the conversion would silently change its meaning.
func strftimeToGo(layout string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c != '%' {
			if c >= '0' && c <= '9' {
				return "", fmt.Errorf("strftime layout %q: literal digit %q would be read as a time element; use a Go layout instead", layout, c)
			}
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(layout) {
			return "", fmt.Errorf("strftime layout %q ends with a lone %%", layout)
		}
		d := layout[i+1 : i+2]
		if d == ":" && i+2 < len(layout) {
			d = layout[i+1 : i+3]
		}
		g, ok := strftimeDirectives[d]
		if !ok {
			return "", fmt.Errorf("strftime layout %q: %%%s is not supported; supported are %%a %%A %%b %%B %%d %%e %%j %%m %%y %%Y %%H %%I %%M %%S %%p %%z %%:z %%Z %%f %%L %%N %%T %%D %%F %%R %%%%", layout, d)
		}
		if (d == "f" || d == "L" || d == "N") && !strings.HasSuffix(b.String(), ".") && !strings.HasSuffix(b.String(), ",") {
			return "", fmt.Errorf("strftime layout %q: %%%s must follow a '.' or ','", layout, d)
		}
		b.WriteString(g)
		i += len(d)
	}
	goLayout := b.String()
	for _, word := range []string{"Jan", "Mon", "MST", "PM", "pm", "Z07"} {
		if strings.Count(goLayout, word) != strings.Count(expandedWords(layout), word) {
			return "", fmt.Errorf("strftime layout %q: literal text %q would be read as a time element; use a Go layout instead", layout, word)
		}
	}
	return goLayout, nil
}

// expandedWords returns the words the strftime directives of layout put into
// its Go layout, so literal text that collides with them can be found.
func expandedWords(layout string) string {
	var b strings.Builder
	for i := 0; i+1 < len(layout); i++ {
		if layout[i] != '%' {
			continue
		}
		d := layout[i+1 : i+2]
		if d == ":" && i+2 < len(layout) {
			d = layout[i+1 : i+3]
		}
		b.WriteString(strftimeDirectives[d])
		b.WriteByte(' ')
		i += len(d)
	}
	return b.String()
}

// errTimeRange is returned for times InfluxDB cannot store.
var errTimeRange = errors.New("time outside 1677-09-21..2262-04-11, the range InfluxDB can store")

var (
	minTime = time.Unix(0, -1<<63)
	maxTime = time.Unix(0, 1<<63-1)
)

// parse returns the time of s in Unix nanoseconds. A layout without a year
// (such as syslog's) takes the latest year that does not put the time after
// modTime, the file's modification time, so archives and files that span New
// Year get the right year.
func (p *timeParser) parse(s string, modTime time.Time) (int64, error) {
	if p.kind == timeUnix {
		return parseUnix(s, p.unitNanos)
	}
	t, err := time.ParseInLocation(p.layout, s, p.loc)
	if err != nil {
		return 0, err
	}
	if p.zoneName {
		// Go reads an abbreviation it does not know in p.loc as UTC
		// ("PDT" outside America/...) and keeps the wall clock of
		// "GMT+3": refuse rather than be hours off.
		if name, _ := t.Zone(); t.Location() != p.loc && name != "UTC" && name != "GMT" {
			return 0, fmt.Errorf("zone %q is unknown in location %s: set the rule's location to the zone the log is written in", name, p.loc)
		}
	}
	if t.Year() == 0 {
		t = inferYear(t, modTime)
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, errTimeRange
	}
	return t.UnixNano(), nil
}

// inferYear moves t, parsed without a year, into the latest year in which it
// is not after ref. A Feb 29 only exists in leap years, hence the loop.
func inferYear(t, ref time.Time) time.Time {
	ref = ref.In(t.Location())
	for y := ref.Year(); y > ref.Year()-8; y-- {
		c := time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
		if c.Day() != t.Day() || c.After(ref) {
			continue
		}
		return c
	}
	return t
}

// parseUnix reads a decimal number of units since the epoch, with an optional
// sign and fraction, exactly: no float rounding, fractions below 1 ns are cut.
func parseUnix(s string, unitNanos int64) (int64, error) {
	if s == "" {
		return 0, errors.New("empty unix time")
	}
	neg := false
	i := 0
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		i++
	}
	var whole, frac, fracScale int64 = 0, 0, 1
	digits := 0
	for ; i < len(s) && s[i] != '.'; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("unix time %q is not a decimal number", s)
		}
		if whole > (1<<63-1-9)/10 {
			return 0, errTimeRange
		}
		whole = whole*10 + int64(c-'0')
		digits++
	}
	if i < len(s) { // fraction
		i++
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("unix time %q is not a decimal number", s)
			}
			digits++
			if fracScale < unitNanos { // digits below 1 ns are dropped
				frac = frac*10 + int64(c-'0')
				fracScale *= 10
			}
		}
	}
	if digits == 0 {
		return 0, fmt.Errorf("unix time %q has no digits", s)
	}
	if whole > (1<<63-1-unitNanos)/unitNanos {
		return 0, errTimeRange
	}
	ns := whole*unitNanos + frac*(unitNanos/fracScale)
	if neg {
		ns = -ns
	}
	return ns, nil
}
