package loggen

import (
	"io"
	"strconv"
	"time"
)

// Logfmt writes n lines of logfmt application logs, most of them like
//
//	time=2025-10-10T13:55:36.123Z level=info msg="request done" method=GET path=/api/items status=200 duration=12.5ms bytes=512
//
// Values with spaces, '=' or quotes are quoted, some with escaped quotes
// inside (SQL text). Durations are printed the way Go's time.Duration prints
// them (850µs, 12.5ms, 1.5s, 5m0s), so a rule has to parse units. Some lines
// have an empty value (user=) or no request fields at all. Timestamps
// advance by whole milliseconds.
func Logfmt(w io.Writer, n int, seed uint64, start time.Time) error {
	g := &appGen{r: newRNG(seed), t: start.Truncate(time.Millisecond)}
	return write(w, n, g.logfmtLine)
}

var (
	sqlQueries = []string{
		`SELECT * FROM items WHERE name = \"widget\" LIMIT 50`,
		`SELECT id, total FROM orders WHERE user_id = $1`,
		`UPDATE items SET stock = stock - 1 WHERE id = $1`,
		`SELECT count(*) FROM sessions WHERE expires_at > now()`,
	}
	cacheTTLs = []string{"1m0s", "5m0s", "1h0m0s"}
)

// appendDuration appends d (tenths of a millisecond) as time.Duration's
// String would, limited to the precision the generator produces.
func appendDuration(b []byte, d int) []byte {
	switch {
	case d < 10:
		b = strconv.AppendInt(b, int64(d*100), 10)
		return append(b, "µs"...)
	case d < 10000:
		return append(appendTenths(b, d), "ms"...)
	default:
		return append(appendTenths(b, d/1000), 's')
	}
}

func (g *appGen) logfmtLine(b []byte) []byte {
	r := g.r
	b = append(b, "time="...)
	b = g.t.AppendFormat(b, isoMillis)
	g.tick() // after the stamp, so the first line is at start exactly
	b = append(b, " level="...)

	switch appEvents.pick(r) {
	case evRequest:
		rt := appRoutes.pick(r)
		status := rt.statuses.pick(r)
		method := rt.methods.pick(r)
		b = append(b, requestLevel(status)...)
		b = append(b, ` msg="request done" method=`...)
		b = append(b, method...)
		b = append(b, " path="...)
		if rt.route == "/api/items" && method == "GET" && r.percent(50) {
			// '=' in the value forces quotes.
			b = append(b, `"/api/items?page=`...)
			b = strconv.AppendInt(b, int64(r.between(1, 40)), 10)
			b = append(b, `&limit=50"`...)
		} else {
			b = rt.path(r, b)
		}
		b = append(b, " status="...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, " duration="...)
		b = appendDuration(b, requestDuration(r, rt.maxTenth))
		b = append(b, " bytes="...)
		b = strconv.AppendInt(b, int64(r.between(0, rt.maxBytes)), 10)
		switch x := r.intn(10); {
		case rt.route == "/healthz":
			// probes are never logged in
		case x < 8:
			b = append(b, " user="...)
			b = appendUserID(r, b)
		case x < 9:
			b = append(b, " user="...) // anonymous, logged as an empty value
		}
	case evCacheMiss:
		b = append(b, `warn msg="cache miss" key=item:`...)
		b = strconv.AppendInt(b, int64(r.between(1, 5000)), 10)
		b = append(b, " ttl="...)
		b = append(b, r.pick(cacheTTLs)...)
	case evDBQuery:
		d := requestDuration(r, 80)
		if d >= 5000 {
			b = append(b, `warn msg="slow query" query="`...)
		} else {
			b = append(b, `debug msg="db query" query="`...)
		}
		b = append(b, r.pick(sqlQueries)...)
		b = append(b, `" rows=`...)
		b = strconv.AppendInt(b, int64(r.intn(200)), 10)
		b = append(b, " duration="...)
		b = appendDuration(b, d)
	case evUpstreamError:
		up := r.pick(upstreams)
		b = append(b, `error msg="upstream error" err="dial tcp `...)
		b = append(b, up...)
		b = append(b, ": "...)
		b = append(b, r.pick(upErrors)...)
		b = append(b, `" upstream=`...)
		b = append(b, up...)
		b = append(b, " attempt="...)
		b = strconv.AppendInt(b, int64(r.between(1, 5)), 10)
		b = append(b, " backoff="...)
		b = appendDuration(b, r.pick3(2500, 5000, 15000))
	case evLoginFailed:
		b = append(b, `warn msg="login failed" reason="password for \"`...)
		b = append(b, r.pick(loginNames)...)
		b = append(b, `\" did not match" remote=`...)
		b = appendDocIPv4(b, r)
	case evGCPause:
		// A single-word message needs no quotes.
		b = append(b, "info msg=gc_pause pause="...)
		b = appendDuration(b, r.between(1, 300))
		b = append(b, " heap_mb="...)
		b = strconv.AppendInt(b, int64(r.between(180, 900)), 10)
	}
	return append(b, '\n')
}
