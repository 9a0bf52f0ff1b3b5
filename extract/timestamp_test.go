package extract

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	mod := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	ns := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixNano()
	}
	tests := []struct {
		name, layout, location, in string
		modTime                    time.Time
		want                       int64
		wantErr                    string
	}{
		{name: "go layout with zone", layout: "02/Jan/2006:15:04:05 -0700", in: "10/Oct/2025:13:55:36 +0200", want: ns("2025-10-10T11:55:36Z")},
		{name: "strftime", layout: "%d/%b/%Y:%H:%M:%S %z", in: "10/Oct/2025:13:55:36 +0000", want: ns("2025-10-10T13:55:36Z")},
		{name: "strftime fraction", layout: "%Y-%m-%dT%H:%M:%S.%f", in: "2025-10-10T13:55:36.123456", want: ns("2025-10-10T13:55:36.123456Z")},
		{name: "strftime T and :z", layout: "%F %T%:z", in: "2025-10-10 13:55:36+01:00", want: ns("2025-10-10T12:55:36Z")},
		{name: "rfc3339", layout: "rfc3339", in: "2025-10-10T13:55:36.123Z", want: ns("2025-10-10T13:55:36.123Z")},
		{name: "rfc3339nano", layout: "rfc3339nano", in: "2025-10-10T13:55:36.123456789+02:00", want: ns("2025-10-10T11:55:36.123456789Z")},
		{name: "location applies without zone", layout: "2006-01-02 15:04:05", location: "Europe/Berlin", in: "2025-10-10 13:55:36", want: ns("2025-10-10T11:55:36Z")},
		{name: "default location is UTC", layout: "2006-01-02 15:04:05", in: "2025-10-10 13:55:36", want: ns("2025-10-10T13:55:36Z")},
		{name: "unix", layout: "unix", in: "1760104536", want: 1760104536_000000000},
		{name: "unix fraction", layout: "unix", in: "1760104536.123456789", want: 1760104536_123456789},
		{name: "unix fraction below ns cut", layout: "unix", in: "1760104536.1234567891", want: 1760104536_123456789},
		{name: "unix_ms", layout: "unix_ms", in: "1760104536123", want: 1760104536_123000000},
		{name: "unix_ms fraction", layout: "unix_ms", in: "1760104536123.5", want: 1760104536_123500000},
		{name: "unix_us", layout: "unix_us", in: "1760104536123456", want: 1760104536_123456000},
		{name: "unix_ns", layout: "unix_ns", in: "1760104536123456789", want: 1760104536_123456789},
		{name: "unix negative", layout: "unix", in: "-1.5", want: -1_500000000},
		{name: "unix junk", layout: "unix", in: "17x", wantErr: "not a decimal number"},
		{name: "unix empty", layout: "unix", in: "", wantErr: "empty"},
		{name: "unix dot only", layout: "unix", in: ".", wantErr: "no digits"},
		{name: "unix too large", layout: "unix", in: "99999999999999999999", wantErr: "outside"},
		{name: "unix_ns too large", layout: "unix_ns", in: "9223372036854775808", wantErr: "outside"},
		{name: "syslog same year", layout: "syslog", in: "Jan  1 00:10:00", modTime: mod, want: ns("2025-01-01T00:10:00Z")},
		{name: "syslog previous year across New Year", layout: "syslog", in: "Dec 31 23:59:59", modTime: mod, want: ns("2024-12-31T23:59:59Z")},
		{name: "syslog up to a day after mtime keeps its year", layout: "syslog", in: "Jan  2 12:00:00", modTime: mod, want: ns("2025-01-02T12:00:00Z")},
		{name: "syslog over a day after mtime goes back a year", layout: "syslog", in: "Jan  2 12:00:01", modTime: mod, want: ns("2024-01-02T12:00:01Z")},
		{name: "zone abbreviation without year in its year's offset", layout: "Jan _2 15:04:05 MST", location: "America/Los_Angeles", in: "Mar 10 12:00:00 PDT", modTime: mod, want: ns("2024-03-10T19:00:00Z")},
		{name: "zone abbreviation CET without year", layout: "Jan _2 15:04:05 MST", location: "Europe/Berlin", in: "Mar 10 12:00:00 CET", modTime: mod, want: ns("2024-03-10T11:00:00Z")},
		{name: "zone abbreviation IST without year", layout: "Jan _2 15:04:05 MST", location: "Asia/Kolkata", in: "Mar 10 12:00:00 IST", modTime: mod, want: ns("2024-03-10T06:30:00Z")},
		{name: "time of day only on the mtime's date", layout: "15:04:05.000", in: "10:00:00.000", modTime: time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC), want: ns("2025-03-10T10:00:00Z")},
		{name: "time of day up to an hour after mtime", layout: "15:04:05.000", in: "13:00:00.000", modTime: time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC), want: ns("2025-03-10T13:00:00Z")},
		{name: "time of day over an hour after mtime is the day before", layout: "15:04:05.000", in: "13:00:00.001", modTime: time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC), want: ns("2025-03-09T13:00:00.001Z")},
		{name: "time of day bad", layout: "15:04:05.000", in: "10:00", modTime: mod, wantErr: `cannot parse "" as ":"`},
		{name: "day of year 60 not leap", layout: "%j", in: "060", modTime: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), want: ns("2025-03-01T00:00:00Z")},
		{name: "day of year 100", layout: "%j", in: "100", modTime: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), want: ns("2025-04-10T00:00:00Z")},
		{name: "day of year 365 last year", layout: "%j", in: "365", modTime: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), want: ns("2024-12-30T00:00:00Z")},
		{name: "day of year 366 leap year", layout: "%j", in: "366", modTime: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), want: ns("2024-12-31T00:00:00Z")},
		{name: "day of year 367", layout: "%j", in: "367", modTime: mod, wantErr: "day-of-year out of range"},
		{name: "time of day east of location is the next date", layout: "%H:%M:%S %z", in: "00:30:00 +0900", modTime: time.Date(2025, 3, 10, 15, 30, 0, 0, time.UTC), want: ns("2025-03-10T15:30:00Z")},
		{name: "time of day west of location two dates back", layout: "15:04:05 -0700", in: "16:00:00 -1000", modTime: time.Date(2025, 3, 10, 0, 30, 0, 0, time.UTC), want: ns("2025-03-09T02:00:00Z")},
		{name: "time of day west of location the day before", layout: "15:04:05 -0700", in: "20:00:00 -1000", modTime: time.Date(2025, 3, 10, 0, 30, 0, 0, time.UTC), want: ns("2025-03-09T06:00:00Z")},
		{name: "time of day DST at midnight Havana", layout: "%H:%M:%S", location: "America/Havana", in: "23:00:00", modTime: time.Date(2025, 3, 10, 3, 30, 0, 0, time.UTC), want: ns("2025-03-10T03:00:00Z")},
		{name: "time of day DST at midnight Santiago", layout: "%H:%M:%S", location: "America/Santiago", in: "23:00:00", modTime: time.Date(2025, 9, 8, 2, 30, 0, 0, time.UTC), want: ns("2025-09-08T02:00:00Z")},
		{name: "time of day with abbreviation DST at midnight Havana", layout: "15:04:05 MST", location: "America/Havana", in: "23:00:00 CDT", modTime: time.Date(2025, 3, 10, 3, 30, 0, 0, time.UTC), want: ns("2025-03-10T03:00:00Z")},
		{name: "Feb 29 across a century that is no leap year", layout: "syslog", in: "Feb 29 10:00:00", modTime: time.Date(2104, 1, 15, 0, 0, 0, 0, time.UTC), want: ns("2096-02-29T10:00:00Z")},
		{name: "day 366 across a century that is no leap year", layout: "%j %H:%M", in: "366 10:00", modTime: time.Date(2104, 1, 15, 0, 0, 0, 0, time.UTC), want: ns("2096-12-31T10:00:00Z")},
		{name: "Feb 29 with abbreviation across a century", layout: "Jan _2 15:04:05 MST", in: "Feb 29 10:00:00 UTC", modTime: time.Date(2104, 1, 15, 0, 0, 0, 0, time.UTC), want: ns("2096-02-29T10:00:00Z")},
		{name: "syslog Feb 30", layout: "syslog", in: "Feb 30 10:00:00", modTime: mod, wantErr: "day out of range"},
		{name: "rfc3339nano last storable", layout: "rfc3339nano", in: "2262-04-11T23:47:16.854775806Z", want: math.MaxInt64 - 1},
		{name: "rfc3339nano MaxInt64", layout: "rfc3339nano", in: "2262-04-11T23:47:16.854775807Z", wantErr: "outside"},
		{name: "rfc3339nano first storable", layout: "rfc3339nano", in: "1677-09-21T00:12:43.145224194Z", want: math.MinInt64 + 2},
		{name: "rfc3339nano MinInt64+1", layout: "rfc3339nano", in: "1677-09-21T00:12:43.145224193Z", wantErr: "outside"},
		{name: "unix_ns last storable", layout: "unix_ns", in: "9223372036854775806", want: math.MaxInt64 - 1},
		{name: "unix_ns MaxInt64", layout: "unix_ns", in: "9223372036854775807", wantErr: "outside"},
		{name: "unix_ns first storable", layout: "unix_ns", in: "-9223372036854775806", want: math.MinInt64 + 2},
		{name: "unix_ns MinInt64+1", layout: "unix_ns", in: "-9223372036854775807", wantErr: "outside"},
		{name: "unix last storable second", layout: "unix", in: "9223372036.854775806", want: math.MaxInt64 - 1},
		{name: "unix past last storable", layout: "unix", in: "9223372036.854775807", wantErr: "outside"},
		{name: "syslog Feb 29 finds a leap year", layout: "syslog", in: "Feb 29 10:00:00", modTime: mod, want: ns("2024-02-29T10:00:00Z")},
		{name: "syslog with location", layout: "syslog", location: "America/New_York", in: "Oct 10 08:00:00", modTime: mod, want: ns("2024-10-10T12:00:00Z")},
		{name: "zone abbreviation known in location", layout: "unixdate", location: "America/Los_Angeles", in: "Fri Oct 10 13:55:36 PDT 2025", want: ns("2025-10-10T20:55:36Z")},
		{name: "zone abbreviation UTC", layout: "unixdate", in: "Fri Oct 10 13:55:36 UTC 2025", want: ns("2025-10-10T13:55:36Z")},
		{name: "zone abbreviation unknown", layout: "unixdate", in: "Fri Oct 10 13:55:36 PDT 2025", wantErr: `zone "PDT" is unknown in location UTC`},
		{name: "strftime %Z unknown", layout: "%Y-%m-%d %H:%M:%S %Z", location: "America/Los_Angeles", in: "2025-10-10 13:55:36 CEST", wantErr: `zone "CEST" is unknown`},
		{name: "zone GMT+3 refused", layout: "unixdate", in: "Fri Jan 10 13:55:36 GMT+3 2025", wantErr: `zone "GMT+3" is unknown`},
		{name: "zone GMT anywhere", layout: "rfc1123", location: "Europe/Berlin", in: "Fri, 10 Jan 2025 13:55:36 GMT", want: ns("2025-01-10T13:55:36Z")},
		{name: "numeric offset decides over the name", layout: "2006-01-02 15:04:05 -0700 MST", in: "2025-01-10 13:55:36 +0000 WET", want: ns("2025-01-10T13:55:36Z")},
		{name: "abbreviation with offset 0 known in location", layout: "unixdate", location: "Europe/Lisbon", in: "Fri Jan 10 13:55:36 WET 2025", want: ns("2025-01-10T13:55:36Z")},
		{name: "bad input", layout: "rfc3339", in: "yesterday", wantErr: "cannot parse"},
		{name: "year out of range", layout: "2006-01-02", in: "3000-01-01", wantErr: "outside"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := compileTime(tc.layout, tc.location)
			if err != nil {
				t.Fatalf("compileTime: %v", err)
			}
			got, err := p.parse(tc.in, tc.modTime)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parse(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("parse(%q) = %s, want %s", tc.in, time.Unix(0, got).UTC().Format(time.RFC3339Nano), time.Unix(0, tc.want).UTC().Format(time.RFC3339Nano))
			}
		})
	}
}

func TestCompileTimeErrors(t *testing.T) {
	tests := []struct {
		name, layout, location, wantPart, wantErr string
	}{
		{name: "no elements", layout: "yyyy-MM-dd", wantPart: "time.layout", wantErr: "no elements of Go's reference time"},
		{name: "unknown name", layout: "iso8601", wantPart: "time.layout", wantErr: "neither a day nor a time of day"},
		{name: "strftime unknown directive", layout: "%Y %Q", wantPart: "time.layout", wantErr: "%Q is not supported"},
		{name: "strftime lone percent", layout: "%Y %", wantPart: "time.layout", wantErr: "lone %"},
		{name: "strftime literal digit", layout: "%Y-1", wantPart: "time.layout", wantErr: "literal digit"},
		{name: "strftime literal word", layout: "%Y Mon", wantPart: "time.layout", wantErr: `literal text "Mon"`},
		{name: "strftime fraction without dot", layout: "%S%f", wantPart: "time.layout", wantErr: "must follow"},
		{name: "bad location", layout: "rfc3339", location: "Mars/Olympus", wantPart: "time.location", wantErr: "unknown location"},
		{name: "month without day", layout: "Jan 15:04:05", wantPart: "time.layout", wantErr: "part of a date only"},
		{name: "year without day", layout: "2006 15:04", wantPart: "time.layout", wantErr: "part of a date only"},
		{name: "day without month", layout: "%d %H:%M", wantPart: "time.layout", wantErr: "part of a date only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compileTime(tc.layout, tc.location)
			pe, ok := err.(*partError)
			if !ok {
				t.Fatalf("compileTime(%q, %q) = %v, want a *partError", tc.layout, tc.location, err)
			}
			if pe.part != tc.wantPart || !strings.Contains(pe.err.Error(), tc.wantErr) {
				t.Errorf("got %s: %v; want %s containing %q", pe.part, pe.err, tc.wantPart, tc.wantErr)
			}
		})
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"10/Oct/2025:13:55:36 +0000", "1760104536.5", "Feb 29 10:00:00", "-0", "+.", "2025-10-10T13:55:36Z"} {
		f.Add(s)
	}
	layouts := []string{"rfc3339nano", "unix", "unix_ms", "unix_ns", "syslog", "02/Jan/2006:15:04:05 -0700", "%Y-%m-%d %H:%M:%S.%f"}
	var parsers []*timeParser
	for _, l := range layouts {
		p, err := compileTime(l, "")
		if err != nil {
			f.Fatal(err)
		}
		parsers = append(parsers, p)
	}
	mod := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range parsers {
			ns, err := p.parse(s, mod)
			if err == nil && p.missing == noYear && time.Unix(0, ns).After(mod.Add(yearTolerance)) {
				t.Errorf("syslog time %q put over a day after the file's mtime: %v", s, time.Unix(0, ns).UTC())
			}
		}
	})
}

// BenchmarkParseTime parses one timestamp per layout kind: a full date, a
// year to infer from a wall clock, a year to infer with a zone abbreviation,
// a time of day only, and unix seconds.
func BenchmarkParseTime(b *testing.B) {
	mod := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct{ name, layout, location, in string }{
		{"nginx", "02/Jan/2006:15:04:05 -0700", "", "10/Oct/2024:13:55:36 +0200"},
		{"rfc3339nano", "rfc3339nano", "", "2025-03-10T13:55:36.123456789Z"},
		{"syslog", "syslog", "", "Mar 10 13:55:36"},
		{"syslog_last_year", "syslog", "", "Dec 10 13:55:36"},
		{"syslog_abbreviation", "Jan _2 15:04:05 MST", "America/Los_Angeles", "Mar 10 13:55:36 PDT"},
		{"time_of_day", "15:04:05.000", "", "13:55:36.123"},
		{"unix_ms", "unix_ms", "", "1741614936123"},
	} {
		b.Run(c.name, func(b *testing.B) {
			p, err := compileTime(c.layout, c.location)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.parse(c.in, mod); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(c.in)))
			for b.Loop() {
				_, _ = p.parse(c.in, mod)
			}
		})
	}
}
