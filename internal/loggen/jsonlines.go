package loggen

import (
	"io"
	"strconv"
	"time"
)

// isoMillis is the timestamp layout of the JSON and logfmt generators: UTC
// prints as "Z", other locations as a numeric offset.
const isoMillis = "2006-01-02T15:04:05.000Z07:00"

// JSONLines writes n lines of structured application logs, one JSON object
// per line, most of them like
//
//	{"ts":"2025-10-10T13:55:36.123Z","level":"info","msg":"request done","http":{"route":"/api/items/:id","method":"GET","status":200},"duration_ms":12.5,"bytes":512,"user":{"id":"u42"}}
//
// Other lines carry other messages and other fields, and lack the http object
// (level=warn "cache miss", debug "db query", error "upstream error", ...),
// so rules see absent fields. Some request lines have no user. One message
// holds escaped quotes. Whole durations print without a fraction
// ("duration_ms":122), as encoding/json and JavaScript loggers print them, so
// one field carries both integer- and float-looking numbers. Every line is
// valid JSON; timestamps advance by whole milliseconds.
func JSONLines(w io.Writer, n int, seed uint64, start time.Time) error {
	g := &appGen{r: newRNG(seed), t: start.Truncate(time.Millisecond)}
	return write(w, n, g.jsonLine)
}

// appGen is shared by JSONLines and Logfmt: the same service, two encodings.
type appGen struct {
	r *rng
	t time.Time
}

func (g *appGen) tick() {
	// A few hundred events a second at most, sometimes a lull.
	ms := g.r.intn(250)
	if g.r.percent(2) {
		ms += g.r.between(1000, 5000)
	}
	g.t = g.t.Add(time.Duration(ms) * time.Millisecond)
}

type appRoute struct {
	route    string // the router's pattern, as structured loggers record it
	path     func(r *rng, b []byte) []byte
	methods  *weighted[string]
	statuses *weighted[int]
	maxTenth int // typical upper bound of duration in tenths of a millisecond
	maxBytes int
}

var appRoutes = newWeighted(
	wv[appRoute]{40, appRoute{
		route: "/api/items/:id",
		path: func(r *rng, b []byte) []byte {
			return itemID(r, append(b, "/api/items/"...))
		},
		methods:  newWeighted(wv[string]{85, "GET"}, wv[string]{10, "PUT"}, wv[string]{5, "DELETE"}),
		statuses: newWeighted(wv[int]{88, 200}, wv[int]{6, 404}, wv[int]{3, 400}, wv[int]{2, 500}, wv[int]{1, 503}),
		maxTenth: 400, maxBytes: 2400,
	}},
	wv[appRoute]{20, appRoute{
		route:    "/api/items",
		path:     func(r *rng, b []byte) []byte { return append(b, "/api/items"...) },
		methods:  newWeighted(wv[string]{75, "GET"}, wv[string]{25, "POST"}),
		statuses: newWeighted(wv[int]{80, 200}, wv[int]{12, 201}, wv[int]{5, 422}, wv[int]{3, 500}),
		maxTenth: 1500, maxBytes: 48000,
	}},
	wv[appRoute]{12, appRoute{
		route: "/api/users/:id/orders",
		path: func(r *rng, b []byte) []byte {
			b = append(b, "/api/users/u"...)
			b = strconv.AppendInt(b, int64(r.between(1, 999)), 10)
			return append(b, "/orders"...)
		},
		methods:  newWeighted(wv[string]{1, "GET"}),
		statuses: newWeighted(wv[int]{90, 200}, wv[int]{6, 401}, wv[int]{4, 403}),
		maxTenth: 2500, maxBytes: 12000,
	}},
	wv[appRoute]{10, appRoute{
		route:    "/login",
		path:     func(r *rng, b []byte) []byte { return append(b, "/login"...) },
		methods:  newWeighted(wv[string]{1, "POST"}),
		statuses: newWeighted(wv[int]{80, 200}, wv[int]{18, 401}, wv[int]{2, 429}),
		maxTenth: 3000, maxBytes: 400,
	}},
	wv[appRoute]{8, appRoute{
		route:    "/healthz",
		path:     func(r *rng, b []byte) []byte { return append(b, "/healthz"...) },
		methods:  newWeighted(wv[string]{1, "GET"}),
		statuses: newWeighted(wv[int]{98, 200}, wv[int]{2, 503}),
		maxTenth: 20, maxBytes: 2,
	}},
)

// appEvent is the kind of line written next.
type appEvent int

const (
	evRequest appEvent = iota
	evCacheMiss
	evDBQuery
	evUpstreamError
	evLoginFailed
	evGCPause
)

// requestLevel is the log level an app writes a finished request with.
func requestLevel(status int) string {
	switch {
	case status >= 500:
		return "error"
	case status >= 400:
		return "warn"
	}
	return "info"
}

var appEvents = newWeighted(
	wv[appEvent]{70, evRequest},
	wv[appEvent]{9, evCacheMiss},
	wv[appEvent]{9, evDBQuery},
	wv[appEvent]{4, evUpstreamError},
	wv[appEvent]{4, evLoginFailed},
	wv[appEvent]{4, evGCPause},
)

var (
	dbTables  = []string{"items", "users", "orders", "sessions"}
	upstreams = []string{"10.0.4.17:5432", "10.0.4.18:6379", "10.0.7.2:8080"}
	upErrors  = []string{
		"connect: connection refused",
		"i/o timeout",
		"context deadline exceeded",
		"read: connection reset by peer",
	}
	loginNames = []string{"bob", "carol", "admin", "o'brien"}
)

func appendUserID(r *rng, b []byte) []byte {
	b = append(b, 'u')
	return strconv.AppendInt(b, int64(r.between(1, 999)), 10)
}

// requestDuration returns a duration in tenths of a millisecond with a
// long tail, so percentiles are not flat.
func requestDuration(r *rng, maxTenth int) int {
	d := r.between(1, maxTenth)
	if r.percent(4) {
		d = d*r.between(5, 50) + r.intn(10000)
	}
	return d
}

func (g *appGen) jsonLine(b []byte) []byte {
	r := g.r
	b = append(b, `{"ts":"`...)
	b = g.t.AppendFormat(b, isoMillis)
	g.tick() // after the stamp, so the first line is at start exactly
	b = append(b, `","level":"`...)

	switch appEvents.pick(r) {
	case evRequest:
		rt := appRoutes.pick(r)
		status := rt.statuses.pick(r)
		b = append(b, requestLevel(status)...)
		b = append(b, `","msg":"request done","http":{"route":"`...)
		b = append(b, rt.route...)
		b = append(b, `","method":"`...)
		b = append(b, rt.methods.pick(r)...)
		b = append(b, `","status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, `},"duration_ms":`...)
		b = appendTenths(b, requestDuration(r, rt.maxTenth))
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, int64(r.between(0, rt.maxBytes)), 10)
		if rt.route != "/healthz" && r.percent(80) {
			b = append(b, `,"user":{"id":"`...)
			b = appendUserID(r, b)
			b = append(b, `"}`...)
		}
	case evCacheMiss:
		b = append(b, `warn","msg":"cache miss","cache":{"key":"item:`...)
		b = strconv.AppendInt(b, int64(r.between(1, 5000)), 10)
		b = append(b, `","ttl_s":`...)
		b = strconv.AppendInt(b, int64(r.pick3(60, 300, 3600)), 10)
		b = append(b, '}')
	case evDBQuery:
		b = append(b, `debug","msg":"db query","db":{"table":"`...)
		b = append(b, r.pick(dbTables)...)
		b = append(b, `","rows":`...)
		b = strconv.AppendInt(b, int64(r.intn(200)), 10)
		b = append(b, `},"duration_ms":`...)
		b = appendTenths(b, requestDuration(r, 80))
	case evUpstreamError:
		up := r.pick(upstreams)
		b = append(b, `error","msg":"upstream error","error":"dial tcp `...)
		b = append(b, up...)
		b = append(b, ": "...)
		b = append(b, r.pick(upErrors)...)
		b = append(b, `","upstream":"`...)
		b = append(b, up...)
		b = append(b, `","attempt":`...)
		b = strconv.AppendInt(b, int64(r.between(1, 5)), 10)
	case evLoginFailed:
		// The quoted name exercises JSON string escapes.
		b = append(b, `warn","msg":"login failed","reason":"password for \"`...)
		b = append(b, r.pick(loginNames)...)
		b = append(b, `\" did not match","remote":"`...)
		b = appendDocIPv4(b, r)
		b = append(b, '"')
	case evGCPause:
		b = append(b, `info","msg":"gc pause","pause_ms":`...)
		b = appendFrac(b, r.between(1, 120), 2)
		b = append(b, `,"heap_mb":`...)
		b = strconv.AppendInt(b, int64(r.between(180, 900)), 10)
	}
	return append(b, "}\n"...)
}

// pick3 returns one of three values with equal chance.
func (r *rng) pick3(a, b, c int) int {
	switch r.intn(3) {
	case 0:
		return a
	case 1:
		return b
	}
	return c
}
