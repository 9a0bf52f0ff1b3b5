package extract

import (
	"math/rand/v2"
	"testing"
	"time"
)

// checkRFC3339 fails when parseRFC3339 takes s and gives another time than
// time.Parse, which reads it in both RFC 3339 layouts the same.
func checkRFC3339(t *testing.T, s string) (took bool) {
	t.Helper()
	ns, ok := parseRFC3339(s)
	if !ok {
		return false
	}
	for _, layout := range []string{time.RFC3339, time.RFC3339Nano} {
		want, err := time.Parse(layout, s)
		if err != nil {
			t.Errorf("parseRFC3339(%q) = %d, but time.Parse(%q) fails: %v", s, ns, layout, err)
			continue
		}
		if want.UnixNano() != ns {
			t.Errorf("parseRFC3339(%q) = %v, time.Parse(%q) = %v", s, time.Unix(0, ns).UTC(), layout, want.UTC())
		}
	}
	return true
}

func TestParseRFC3339(t *testing.T) {
	taken := []string{
		"2025-10-10T13:55:36Z", "2025-10-10T13:55:36.1Z", "2025-10-10T13:55:36.123456789Z",
		"2025-10-10T13:55:36+02:00", "2025-10-10T13:55:36.5-07:30", "2025-10-10T00:00:00-00:00",
		"2024-02-29T23:59:59+23:59", "2000-02-29T12:00:00Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999999Z",
		"1678-01-01T00:00:00+23:59", "2261-12-31T23:59:59.999999999-23:59", "2025-03-01T00:00:00Z", "2025-12-31T23:59:59Z",
	}
	for _, s := range taken {
		if !checkRFC3339(t, s) {
			t.Errorf("parseRFC3339(%q) left it to time.Parse: the common shapes must take the fast way", s)
		}
	}
	// Left to time.Parse, which decides: some it takes, some not.
	left := []string{
		"", "2025-10-10T13:55:36", "2025-10-10t13:55:36Z", "2025-10-10T13:55:36z", "2025-10-10 13:55:36Z",
		"2025-10-10T13:55:36,5Z", "2025-10-10T13:55:36.Z", "2025-10-10T13:55:36.1234567891Z",
		"2025-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2025-04-31T00:00:00Z", "2025-13-01T00:00:00Z", "2025-00-01T00:00:00Z",
		"2025-10-00T00:00:00Z", "2025-10-10T24:00:00Z", "2025-10-10T23:60:00Z", "2025-10-10T23:59:60Z",
		"2025-10-10T13:55:36+24:00", "2025-10-10T13:55:36+02:60", "2025-10-10T13:55:36+0200", "2025-10-10T13:55:36+02:00Z",
		"1677-12-31T23:59:59Z", "2262-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
		"+025-10-10T13:55:36Z", "2025-1a-10T13:55:36Z", "2025-10-10T13:55:36Z ",
	}
	for _, s := range left {
		if checkRFC3339(t, s) {
			t.Errorf("parseRFC3339(%q) took it; it must leave it to time.Parse", s)
		}
	}
}

// TestParseRFC3339Random compares with time.Parse over random times of
// every year the fast way takes, in random zones and precisions.
func TestParseRFC3339Random(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lo, hi := time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for range 100000 {
		tm := time.Unix(lo+r.Int64N(hi-lo), r.Int64N(1e9)).In(time.FixedZone("", (r.IntN(2*24*60-1)-(24*60-1))*60))
		s := tm.Format("2006-01-02T15:04:05" + []string{"", ".0", ".000", ".999999999", ".000000000"}[r.IntN(5)] + "Z07:00")
		if !checkRFC3339(t, s) && tm.Year() > 1678 && tm.Year() < 2261 {
			t.Fatalf("parseRFC3339(%q) left it to time.Parse", s)
		}
	}
}

func FuzzParseRFC3339(f *testing.F) {
	for _, s := range []string{"2025-10-10T13:55:36Z", "2024-02-29T23:59:59.123456789+23:59", "1678-01-01T00:00:00.5-00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkRFC3339(t, s) })
}
