package loggen

import (
	"io"
	"strconv"
	"time"
)

// nginxTimeLayout is nginx's $time_local.
const nginxTimeLayout = "02/Jan/2006:15:04:05 -0700"

// Nginx writes n lines of nginx's "combined" access log format with
// $request_time appended:
//
//	203.0.113.9 - - [10/Oct/2025:13:55:36 +0000] "GET /api/items/42 HTTP/1.1" 200 512 "-" "curl/8.5.0" 0.013
//
// Timestamps advance in whole seconds, often not at all between lines, so
// several lines share a second as on a busy server. Statuses cover 2xx to 5xx
// (including nginx's 499 for a client that hung up), bytes are sometimes "-"
// (the Apache-style placeholder that many log pipelines see), and request
// times are seconds with three decimals. Client addresses come from the
// documentation ranges.
func Nginx(w io.Writer, n int, seed uint64, start time.Time) error {
	g := newNginxGen(seed, start)
	return write(w, n, g.line)
}

type nginxGen struct {
	r       *rng
	t       time.Time
	stamp   []byte // t formatted, reused while t stays in the same second
	clients ipPool
}

func newNginxGen(seed uint64, start time.Time) *nginxGen {
	r := newRNG(seed)
	g := &nginxGen{r: r, t: start.Truncate(time.Second), clients: newIPPool(r, 64, 8)}
	g.stamp = g.t.AppendFormat(nil, nginxTimeLayout)
	return g
}

// nginxEndpoint is one kind of request with its own mix of methods,
// statuses, sizes, latency and clients.
type nginxEndpoint struct {
	methods  *weighted[string]
	path     func(r *rng, method string, b []byte) []byte
	statuses *weighted[int]
	minBytes int
	maxBytes int
	maxMs    int // typical upper bound of the request time
	agents   []string
	referers []string
}

var (
	browserAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Mobile Safari/537.36",
	}
	apiAgents = []string{
		"curl/8.5.0",
		"python-requests/2.31.0",
		"Go-http-client/1.1",
		"okhttp/4.12.0",
		"axios/1.7.7",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
	}
	botAgents = []string{
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
		"Mozilla/5.0 zgrab/0.x",
		"-",
	}
	siteReferers = []string{
		"-", "-", "-",
		"https://shop.example.com/",
		"https://shop.example.com/items/42",
		"https://shop.example.com/search?q=red+shoes",
		"https://www.google.com/",
	}
	apiReferers = []string{"-", "-", "-", "-", "-", "-", "https://shop.example.com/items/42"}
	noReferer   = []string{"-"}
)

func itemID(r *rng, b []byte) []byte {
	return strconv.AppendInt(b, int64(r.between(1, 5000)), 10)
}

var nginxEndpoints = newWeighted(
	wv[nginxEndpoint]{30, nginxEndpoint{
		methods: newWeighted(wv[string]{85, "GET"}, wv[string]{10, "PUT"}, wv[string]{5, "DELETE"}),
		path: func(r *rng, method string, b []byte) []byte {
			return itemID(r, append(b, "/api/items/"...))
		},
		statuses: newWeighted(wv[int]{85, 200}, wv[int]{3, 204}, wv[int]{6, 404}, wv[int]{3, 401}, wv[int]{2, 400}, wv[int]{1, 500}),
		minBytes: 180, maxBytes: 2400, maxMs: 40,
		agents: apiAgents, referers: apiReferers,
	}},
	wv[nginxEndpoint]{12, nginxEndpoint{
		methods: newWeighted(wv[string]{80, "GET"}, wv[string]{20, "POST"}),
		path: func(r *rng, method string, b []byte) []byte {
			b = append(b, "/api/items"...)
			if method == "GET" && r.percent(60) {
				b = append(b, "?page="...)
				b = strconv.AppendInt(b, int64(r.between(1, 40)), 10)
				b = append(b, "&limit=50"...)
			}
			return b
		},
		statuses: newWeighted(wv[int]{85, 200}, wv[int]{6, 201}, wv[int]{4, 400}, wv[int]{3, 429}, wv[int]{2, 503}),
		minBytes: 900, maxBytes: 48000, maxMs: 120,
		agents: apiAgents, referers: apiReferers,
	}},
	wv[nginxEndpoint]{6, nginxEndpoint{
		methods: newWeighted(wv[string]{1, "GET"}),
		path: func(r *rng, method string, b []byte) []byte {
			b = append(b, "/api/users/u"...)
			b = strconv.AppendInt(b, int64(r.between(1, 999)), 10)
			return append(b, "/orders"...)
		},
		statuses: newWeighted(wv[int]{88, 200}, wv[int]{6, 401}, wv[int]{4, 403}, wv[int]{2, 502}),
		minBytes: 300, maxBytes: 12000, maxMs: 250,
		agents: apiAgents, referers: apiReferers,
	}},
	wv[nginxEndpoint]{18, nginxEndpoint{
		methods: newWeighted(wv[string]{1, "GET"}),
		path: func(r *rng, method string, b []byte) []byte {
			return append(b, r.pick([]string{
				"/static/js/app.3f9c2e1a.js",
				"/static/css/site.css",
				"/static/img/logo.svg",
				"/static/fonts/inter-var.woff2",
				"/favicon.ico",
			})...)
		},
		statuses: newWeighted(wv[int]{60, 200}, wv[int]{35, 304}, wv[int]{3, 206}, wv[int]{2, 404}),
		minBytes: 400, maxBytes: 350000, maxMs: 8,
		agents: browserAgents, referers: siteReferers,
	}},
	wv[nginxEndpoint]{10, nginxEndpoint{
		methods: newWeighted(wv[string]{90, "GET"}, wv[string]{10, "HEAD"}),
		path: func(r *rng, method string, b []byte) []byte {
			return append(b, "/healthz"...)
		},
		statuses: newWeighted(wv[int]{98, 200}, wv[int]{2, 503}),
		minBytes: 2, maxBytes: 2, maxMs: 2,
		agents: []string{"kube-probe/1.29"}, referers: noReferer,
	}},
	wv[nginxEndpoint]{8, nginxEndpoint{
		methods: newWeighted(wv[string]{70, "GET"}, wv[string]{30, "POST"}),
		path: func(r *rng, method string, b []byte) []byte {
			return append(b, r.pick([]string{"/login", "/logout", "/login?next=%2Fcart", "/cart", "/checkout"})...)
		},
		statuses: newWeighted(wv[int]{60, 200}, wv[int]{25, 302}, wv[int]{8, 401}, wv[int]{4, 301}, wv[int]{3, 500}),
		minBytes: 150, maxBytes: 9000, maxMs: 300,
		agents: browserAgents, referers: siteReferers,
	}},
	wv[nginxEndpoint]{6, nginxEndpoint{
		methods: newWeighted(wv[string]{1, "GET"}),
		path: func(r *rng, method string, b []byte) []byte {
			b = append(b, "/search?q="...)
			b = append(b, r.pick([]string{"red+shoes", "caf%C3%A9", "usb-c%20cable", "lamp", "gift+card"})...)
			if r.percent(40) {
				b = append(b, "&sort=price"...)
			}
			return b
		},
		statuses: newWeighted(wv[int]{92, 200}, wv[int]{4, 400}, wv[int]{2, 500}, wv[int]{2, 504}),
		minBytes: 2000, maxBytes: 60000, maxMs: 900,
		agents: browserAgents, referers: siteReferers,
	}},
	wv[nginxEndpoint]{4, nginxEndpoint{
		methods: newWeighted(wv[string]{80, "GET"}, wv[string]{15, "POST"}, wv[string]{5, "OPTIONS"}),
		path: func(r *rng, method string, b []byte) []byte {
			return append(b, r.pick([]string{"/wp-login.php", "/.env", "/admin/", "/.git/config", "/cgi-bin/luci", "/robots.txt"})...)
		},
		statuses: newWeighted(wv[int]{70, 404}, wv[int]{15, 403}, wv[int]{10, 200}, wv[int]{5, 405}),
		minBytes: 60, maxBytes: 600, maxMs: 5,
		agents: botAgents, referers: noReferer,
	}},
	wv[nginxEndpoint]{2, nginxEndpoint{
		methods: newWeighted(wv[string]{1, "PATCH"}),
		path: func(r *rng, method string, b []byte) []byte {
			b = itemID(r, append(b, "/api/items/"...))
			return append(b, "/stock"...)
		},
		statuses: newWeighted(wv[int]{85, 200}, wv[int]{10, 409}, wv[int]{5, 422}),
		minBytes: 40, maxBytes: 300, maxMs: 60,
		agents: apiAgents, referers: noReferer,
	}},
)

var nginxProtos = newWeighted(wv[string]{70, "HTTP/1.1"}, wv[string]{26, "HTTP/2.0"}, wv[string]{4, "HTTP/1.0"})

func (g *nginxGen) tick() {
	// Mostly several requests per second, with the odd quiet stretch.
	var step int
	switch x := g.r.intn(100); {
	case x < 65:
		step = 0
	case x < 93:
		step = 1
	default:
		step = g.r.between(2, 6)
	}
	if step == 0 {
		return
	}
	g.t = g.t.Add(time.Duration(step) * time.Second)
	g.stamp = g.t.AppendFormat(g.stamp[:0], nginxTimeLayout)
}

func (g *nginxGen) line(b []byte) []byte {
	r := g.r
	e := nginxEndpoints.pick(r)
	method := e.methods.pick(r)
	status := e.statuses.pick(r)
	// Clients that give up (499) show up on every endpoint.
	if r.percent(1) {
		status = 499
	}

	b = append(b, g.clients.pick(r)...)
	b = append(b, " - "...)
	if r.percent(2) {
		b = append(b, "alice"...) // basic-auth user
	} else {
		b = append(b, '-')
	}
	b = append(b, " ["...)
	b = append(b, g.stamp...)
	b = append(b, "] \""...)
	b = append(b, method...)
	b = append(b, ' ')
	b = e.path(r, method, b)
	b = append(b, ' ')
	b = append(b, nginxProtos.pick(r)...)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')

	switch {
	case status == 304 || status == 204 || method == "HEAD":
		b = append(b, '-')
	case status == 499:
		b = append(b, '0')
	case status >= 400:
		b = strconv.AppendInt(b, int64(r.between(150, 600)), 10)
	default:
		b = strconv.AppendInt(b, int64(r.between(e.minBytes, e.maxBytes)), 10)
	}

	b = append(b, " \""...)
	b = append(b, r.pick(e.referers)...)
	b = append(b, "\" \""...)
	b = append(b, r.pick(e.agents)...)
	b = append(b, "\" "...)

	var ms int
	switch {
	case status == 504:
		ms = 60000 + r.intn(5) // proxy_read_timeout
	case status == 499:
		ms = r.intn(15000)
	default:
		ms = r.intn(e.maxMs + 1)
		if r.percent(3) {
			ms = ms*r.between(5, 40) + r.intn(1000) // slow tail
		}
	}
	b = appendFrac(b, ms, 3)
	// Advancing after the line puts the first line at start exactly.
	g.tick()
	return append(b, '\n')
}
