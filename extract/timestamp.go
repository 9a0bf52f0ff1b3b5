package extract

import (
	"errors"
	"fmt"
	"math"
	"strconv"
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
// does not read the clock, and allocates only to infer a missing year or
// date.
type timeParser struct {
	kind   timeKind
	layout string
	loc    *time.Location
	// unitNanos is the size of one unit of a unix layout in nanoseconds.
	unitNanos int64
	// zoneName is set when the layout reads a zone abbreviation ("MST").
	zoneName bool
	// missing is what the layout leaves out of the date, to infer.
	missing missingDate
	// wallClock is set when the layout has no zone and no day of the
	// year: its text is a wall clock in loc, whatever the date.
	wallClock bool
	// rfc3339 is set for the RFC 3339 layouts, which parseRFC3339 reads
	// faster than time.Parse.
	rfc3339 bool
}

// missingDate is what a layout leaves out of the date.
type missingDate int

const (
	fullDate missingDate = iota
	noYear               // month and day, or day of year, without the year
	noDate               // the time of day only
)

// The inferred year or date is the latest that does not put the time after
// the file's modification time plus a tolerance. The year's tolerance covers
// senders whose clock runs ahead and logs written in a zone east of the rule's
// location (up to UTC+14); the date's must stay well below a day, or a time
// of day just after the mtime's would land a day early instead of on the
// mtime's day.
const (
	yearTolerance = 24 * time.Hour
	dateTolerance = time.Hour
)

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
	goLayout, missing, err := goLayoutOf(layout)
	if err != nil {
		return nil, &partError{"time.layout", err}
	}
	return &timeParser{kind: timeLayout, layout: goLayout, loc: loc, zoneName: zoneByName(goLayout), missing: missing,
		wallClock: !hasZone(goLayout) && !strings.Contains(goLayout, "002") && !strings.Contains(goLayout, "__2"),
		rfc3339:   goLayout == time.RFC3339 || goLayout == time.RFC3339Nano}, nil
}

// zoneElements are what Go reads a zone from: an abbreviation, or an offset
// (-0700, -07:00, -07, Z0700, Z07:00, Z07).
var zoneElements = []string{"MST", "-07", "Z07"}

func hasZone(layout string) bool {
	for _, z := range zoneElements {
		if strings.Contains(layout, z) {
			return true
		}
	}
	return false
}

// zoneByName reports whether a layout's zone comes from an abbreviation
// alone: it has "MST" and no numeric offset, which would fix the time by
// itself.
func zoneByName(layout string) bool {
	return strings.Contains(layout, "MST") && !strings.Contains(layout, "-07") && !strings.Contains(layout, "Z07")
}

// goLayoutOf turns a named, strftime or Go layout into a Go layout, checks
// that it can parse what it formats, and says what it leaves out of the date.
func goLayoutOf(layout string) (string, missingDate, error) {
	if l, ok := namedLayouts[strings.ToLower(layout)]; ok {
		layout = l
	} else if strings.HasPrefix(layout, "%") {
		l, err := strftimeToGo(layout)
		if err != nil {
			return "", 0, err
		}
		layout = l
	}
	// Any time other than the reference time changes a layout with
	// elements. Day 321 of 2009 is Nov 17; Go reads a day of the year
	// without a year in year 0, a leap year, where it is Nov 16.
	ref := time.Date(2009, time.November, 17, 20, 34, 58, 651387237, time.FixedZone("XYZ", 3*3600))
	s := ref.Format(layout)
	if s == layout {
		return "", 0, fmt.Errorf("layout %q has no elements of Go's reference time: write it as Go's reference time Mon Jan 2 15:04:05 MST 2006 (for example \"02/Jan/2006:15:04:05 -0700\"), as strftime starting with %% (\"%%d/%%b/%%Y:%%H:%%M:%%S %%z\"), or use one of rfc3339, rfc3339nano, unix, unix_ms, unix_us, unix_ns, syslog", layout)
	}
	back, err := time.Parse(layout, s)
	if err != nil {
		return "", 0, fmt.Errorf("layout %q cannot parse its own output %q: %v", layout, s, err)
	}
	day := back.Month() == ref.Month() && back.Day() == ref.Day()
	clock := back.Hour() == ref.Hour() && back.Minute() == ref.Minute()
	switch {
	case back.Year() != 0 && day:
		return layout, fullDate, nil
	case back.Year() == 0 && (day || back.Month() == time.November && back.Day() == 16):
		return layout, noYear, nil
	case back.Year() == 0 && clock && back.Month() == time.January && back.Day() == 1:
		return layout, noDate, nil
	case !day && !clock:
		// "iso8601" has an element ("1", the month) but is not a
		// layout anyone meant.
		return "", 0, fmt.Errorf("layout %q names neither a day nor a time of day; write it as Go's reference time Mon Jan 2 15:04:05 MST 2006 or use one of rfc3339, rfc3339nano, unix, unix_ms, unix_us, unix_ns, syslog", layout)
	}
	return "", 0, fmt.Errorf("layout %q names part of a date only (a year, month or day without the rest), which would put every line on one day: give the month and day (Jan 2, 01/02, %%b %%d) or the day of the year (002, %%j), with or without the year, or the time of day alone", layout)
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
var errTimeRange = errors.New("time outside 1677-09-21T00:12:43.145224194Z..2262-04-11T23:47:16.854775806Z, the range InfluxDB can store")

var (
	minTime = time.Unix(0, minStorable)
	maxTime = time.Unix(0, maxStorable)
)

// parse returns the time of s in Unix nanoseconds. A layout without the year
// takes the latest year, and one with the time of day only the latest date,
// that does not put the time after modTime, the file's modification time,
// plus a tolerance (yearTolerance, dateTolerance): archives and files that
// span New Year or midnight get the right dates.
func (p *timeParser) parse(s string, modTime time.Time) (int64, error) {
	if p.kind == timeUnix {
		return parseUnix(s, p.unitNanos)
	}
	var t time.Time
	var err error
	switch p.missing {
	case fullDate:
		if p.rfc3339 {
			// The offset in the text fixes the time; p.loc would only
			// name its zone.
			if ns, ok := parseRFC3339(s); ok {
				return ns, nil
			}
		}
		t, err = time.ParseInLocation(p.layout, s, p.loc)
	case noYear:
		t, err = p.inferYear(s, modTime.Add(yearTolerance))
	case noDate:
		t, err = p.inferDate(s, modTime.Add(dateTolerance))
	}
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
	if t.Before(minTime) || t.After(maxTime) {
		return 0, errTimeRange
	}
	return t.UnixNano(), nil
}

// inferYear parses s, which has no year, in the latest year that does not
// put it after latest; Feb 29 and day 366 look back at most 8 years, to the
// leap year before a century that is not one.
//
// A layout without a zone or day of the year is parsed once, in year 0, and
// its wall clock moved into each candidate year in p.loc. Otherwise the year
// is written into the text before parsing, so that Go resolves the zone (an
// abbreviation's offset, which may differ by year) and the day of the year
// in that year: in year 0 zones have local mean time offsets and every year
// is a leap year. That costs an allocation or two per line.
func (p *timeParser) inferYear(s string, latest time.Time) (time.Time, error) {
	first := latest.In(p.loc).Year()
	if p.wallClock {
		t, err := time.ParseInLocation(p.layout, s, p.loc)
		if err != nil {
			return time.Time{}, err
		}
		for y := first; y >= first-8; y-- {
			c := time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), p.loc)
			if c.Day() == t.Day() && !c.After(latest) { // a Feb 29 of another year is Mar 1
				return c, nil
			}
		}
	} else {
		layout := "2006 " + p.layout
		for y := first; y >= first-8; y-- {
			t, err := time.ParseInLocation(layout, strconv.Itoa(y)+" "+s, p.loc)
			if err != nil {
				// Not a date of year y, or not a date at all: the
				// error, if any, is about s as the line has it.
				if _, err := time.ParseInLocation(p.layout, s, p.loc); err != nil {
					return time.Time{}, err
				}
				continue
			}
			if !t.After(latest) {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("%q is in no year from %d to %d", s, first-8, first)
}

// inferDate parses s, a time of day, on the latest date that does not put
// it after latest. Dates are counted on the calendar, not by subtracting 24
// hours from a wall clock (which a DST change at midnight moves to another
// day). A layout with a zone may name one east of p.loc, whose time of day
// belongs to p.loc's next date; one without is parsed once, as inferYear does.
func (p *timeParser) inferDate(s string, latest time.Time) (time.Time, error) {
	y, m, d := latest.In(p.loc).Date()
	if p.wallClock {
		t, err := time.ParseInLocation(p.layout, s, p.loc)
		if err != nil {
			return time.Time{}, err
		}
		// Two days back: a day a zone skipped (Pacific/Apia, 2011).
		for k := 0; k >= -2; k-- {
			c := time.Date(y, m, d+k, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), p.loc)
			if !c.After(latest) {
				return c, nil
			}
		}
	} else {
		layout := "2006-01-02 " + p.layout
		for k := 1; k >= -2; k-- {
			day := time.Date(y, m, d+k, 12, 0, 0, 0, time.UTC).Format("2006-01-02 ")
			t, err := time.ParseInLocation(layout, day+s, p.loc)
			if err != nil {
				// The error, as the line has it.
				if _, err := time.ParseInLocation(p.layout, s, p.loc); err != nil {
					return time.Time{}, err
				}
				return time.Time{}, fmt.Errorf("time of day %q on %s: %w", s, day, err)
			}
			if !t.After(latest) {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("time of day %q is on no date from two days before %v", s, latest)
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
		if whole > (math.MaxInt64-int64(c-'0'))/10 {
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
	fracNanos := frac * (unitNanos / fracScale)
	if whole > (math.MaxInt64-fracNanos)/unitNanos {
		return 0, errTimeRange
	}
	ns := whole*unitNanos + fracNanos
	if neg {
		ns = -ns
	}
	if ns < minStorable || ns > maxStorable {
		return 0, errTimeRange
	}
	return ns, nil
}
