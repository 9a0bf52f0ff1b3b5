package sink

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// point makes a one-field point whose line is short and predictable:
// "name v=<time>i <time>".
func point(name string, t int64) pipeline.Point {
	return pipeline.Point{Measurement: name, Fields: []pipeline.Field{intF("v", t)}, Time: t}
}

func line(name string, t int64) string {
	p := point(name, t)
	return string(AppendPoint(nil, &p))
}

func record(path string, offset int64, points ...pipeline.Point) pipeline.Record {
	return pipeline.Record{Origin: pipeline.Origin{Path: path, Offset: offset}, Points: points}
}

func ack(path string, offset int64) pipeline.Ack {
	return pipeline.Ack{Origin: pipeline.Origin{Path: path, Offset: offset}}
}

// runAll feeds recs to a fresh Run, closes its input and returns the acks.
func runAll(t *testing.T, s *Sink, recs ...pipeline.Record) ([]pipeline.Ack, error) {
	t.Helper()
	in := make(chan pipeline.Record, len(recs))
	for _, r := range recs {
		in <- r
	}
	close(in)
	acks := make(chan pipeline.Ack, len(recs)+1)
	err := s.Run(t.Context(), in, acks)
	var got []pipeline.Ack
	for a := range acks {
		got = append(got, a)
	}
	return got, err
}

// request is what the scripted server saw.
type request struct {
	Method, Path string
	Query        url.Values
	Auth         string
	Encoding     string
	Body         string // un-gzipped
}

// reply is what the scripted server answers; status 0 hangs up instead.
type reply struct {
	status     int
	retryAfter string
	json       bool
	body       string
	header     map[string]string // more response headers
	gzip       bool              // gzip the body if the client accepts it
}

// scripted is an httptest.Server (on 127.0.0.1) that records each request
// and answers what respond says for it; n counts requests from 0.
type scripted struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newScripted(t *testing.T, respond func(n int, body string) reply) *scripted {
	t.Helper()
	sc := &scripted{}
	sc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r)
		if err != nil {
			t.Errorf("scripted server: %v", err)
		}
		sc.mu.Lock()
		n := len(sc.reqs)
		sc.reqs = append(sc.reqs, request{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
			Auth: r.Header.Get("Authorization"), Encoding: r.Header.Get("Content-Encoding"),
			Body: body,
		})
		sc.mu.Unlock()
		rep := respond(n, body)
		if rep.status == 0 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("scripted server: hijack: %v", err)
				return
			}
			conn.Close()
			return
		}
		if rep.retryAfter != "" {
			w.Header().Set("Retry-After", rep.retryAfter)
		}
		if rep.json {
			w.Header().Set("Content-Type", "application/json")
		}
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		if rep.gzip && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(rep.status)
			zw := gzip.NewWriter(w)
			io.WriteString(zw, rep.body)
			zw.Close()
			return
		}
		w.WriteHeader(rep.status)
		io.WriteString(w, rep.body)
	}))
	t.Cleanup(sc.srv.Close)
	return sc
}

func readBody(r *http.Request) (string, error) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return "", err
		}
		rd = zr
	}
	b, err := io.ReadAll(rd)
	return string(b), err
}

// refusing answers 204 to a batch without any of the bad lines, and
// rep(n) to one with n of them.
func refusing(bad []string, rep func(n int) reply) func(int, string) reply {
	return func(_ int, body string) reply {
		n := 0
		for _, l := range bad {
			if strings.Contains(body, l) {
				n++
			}
		}
		if n == 0 {
			return reply{status: 204}
		}
		return rep(n)
	}
}

func (sc *scripted) requests() []request {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return append([]request(nil), sc.reqs...)
}

func (sc *scripted) bodies() []string {
	var b []string
	for _, r := range sc.requests() {
		b = append(b, r.Body)
	}
	return b
}

// newHTTPSink makes a Sink writing to sc through the InfluxDB destination.
// Retry waits return at once and are recorded in *delays; jitter is 0.
func newHTTPSink(t *testing.T, sc *scripted, cfg Config, log *slog.Logger) (*Sink, *[]time.Duration) {
	t.Helper()
	cfg.URL = sc.srv.URL
	if cfg.Bucket == "" {
		cfg.Bucket = "db/autogen"
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = time.Hour // flush when the input closes
	}
	dst, err := NewInfluxDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Close)
	s, err := New(cfg, dst, log)
	if err != nil {
		t.Fatal(err)
	}
	var delays []time.Duration
	s.wait = func(ctx context.Context, d time.Duration) error {
		delays = append(delays, d)
		return ctx.Err()
	}
	s.jitter = func(time.Duration) time.Duration { return 0 }
	return s, &delays
}

func TestInfluxDBRequest(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		org       string
		bucket    string
		wantAuth  string
		wantQuery url.Values
	}{
		{
			name:      "no token, 1.8 database and retention policy",
			bucket:    "db/autogen",
			wantQuery: url.Values{"bucket": {"db/autogen"}, "precision": {"ns"}},
		},
		{
			name:      "1.8 user and password",
			token:     "user:secret",
			bucket:    "db",
			wantAuth:  "Token user:secret",
			wantQuery: url.Values{"bucket": {"db"}, "precision": {"ns"}},
		},
		{
			name:      "2.x token and org",
			token:     "tok==",
			org:       "acme",
			bucket:    "logs",
			wantAuth:  "Token tok==",
			wantQuery: url.Values{"bucket": {"logs"}, "org": {"acme"}, "precision": {"ns"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScripted(t, func(int, string) reply { return reply{status: http.StatusNoContent} })
			s, _ := newHTTPSink(t, sc, Config{Token: tc.token, Org: tc.org, Bucket: tc.bucket}, nil)
			tricky := pipeline.Point{
				Measurement: "m",
				Tags:        []pipeline.Tag{{Key: "k", Value: "a b"}},
				Fields:      []pipeline.Field{strF("s", "x\n\"y\"")},
				Time:        7,
			}
			acks, err := runAll(t, s, record("f", 10, point("a", 1)), record("f", 20, tricky))
			if err != nil {
				t.Fatal(err)
			}
			want := []request{{
				Method: "POST", Path: "/api/v2/write", Query: tc.wantQuery,
				Auth: tc.wantAuth, Encoding: "gzip",
				Body: "a v=1i 1\n" + "m,k=a\\ b s=\"x\n\\\"y\\\"\" 7\n",
			}}
			if diff := cmp.Diff(want, sc.requests()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]pipeline.Ack{ack("f", 20)}, acks); diff != "" {
				t.Errorf("acks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunStatuses(t *testing.T) {
	a, b, c, d := line("a", 1), line("b", 2), line("c", 3), line("d", 4)
	recs := []pipeline.Record{
		record("f", 100, point("a", 1)),
		record("f", 200, point("b", 2)),
		record("f", 300, point("c", 3)),
		record("f", 400, point("d", 4)),
	}
	all := a + b + c + d
	long := strings.Repeat("é", 150) // 300 bytes: cut at a rune boundary
	tests := []struct {
		name       string
		cfg        Config
		respond    func(n int, body string) reply
		wantBodies []string
		wantDelays []time.Duration
		wantStats  Stats
		wantLog    []string // substrings of the log
	}{
		{
			name:       "204",
			respond:    func(int, string) reply { return reply{status: 204} },
			wantBodies: []string{all},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1},
		},
		{
			name:       "200",
			respond:    func(int, string) reply { return reply{status: 200, body: "ok"} },
			wantBodies: []string{all},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1},
		},
		{
			name: "429 honours Retry-After",
			respond: func(n int, _ string) reply {
				if n == 0 {
					return reply{status: 429, retryAfter: "7", body: "slow down"}
				}
				return reply{status: 204}
			},
			wantBodies: []string{all, all},
			wantDelays: []time.Duration{7 * time.Second},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1, Retries: 1, WriteErrors: WriteErrors{Throttled: 1}},
			wantLog:    []string{"write throttled: retrying", "status=429", "slow down"},
		},
		{
			name: "Retry-After is capped at MaxRetryDelay",
			cfg:  Config{MaxRetryDelay: 5 * time.Second},
			respond: func(n int, _ string) reply {
				if n == 0 {
					return reply{status: 429, retryAfter: "3600"}
				}
				return reply{status: 204}
			},
			wantBodies: []string{all, all},
			wantDelays: []time.Duration{5 * time.Second},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1, Retries: 1, WriteErrors: WriteErrors{Throttled: 1}},
		},
		{
			name: "503 backs off exponentially",
			respond: func(n int, _ string) reply {
				if n < 3 {
					return reply{status: 503, body: "busy"}
				}
				return reply{status: 204}
			},
			wantBodies: []string{all, all, all, all},
			wantDelays: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1, Retries: 3, WriteErrors: WriteErrors{Server: 3}},
			wantLog:    []string{"status=503", "busy", "write succeeded after retries"},
		},
		{
			name: "connection dropped is retried",
			respond: func(n int, _ string) reply {
				if n == 0 {
					return reply{} // hang up
				}
				return reply{status: 204}
			},
			wantBodies: []string{all, all},
			wantDelays: []time.Duration{500 * time.Millisecond},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1, Retries: 1, WriteErrors: WriteErrors{Network: 1}},
			wantLog:    []string{"write failed: retrying", "status=0", "EOF"},
		},
		{
			name: "400 without a count: halves are resent until the refused point is alone",
			respond: refusing([]string{b}, func(int) reply {
				return reply{status: 400, json: true, body: `{"code":"invalid","message":"unable to parse 'b v=2i 2': ` + long + `"}`}
			}),
			wantBodies: []string{all, a + b, a, b, c + d},
			wantStats:  Stats{PointsWritten: 3, BatchesWritten: 2, WriteErrors: WriteErrors{Refused: 3}, Dropped: Dropped{Refused: 1}},
			wantLog: []string{
				"write refused: resending in halves", "points=4",
				"points dropped (no dead-letter file)", "reason=refused", "status=400", "points=1", "file=f", "offset=200",
				"unable to parse 'b v=2i 2': " + strings.Repeat("é", 86) + `"`, // 28+172 bytes
			},
		},
		{
			name:       "422 likewise",
			respond:    refusing([]string{b}, func(int) reply { return reply{status: 422, body: "unprocessable"} }),
			wantBodies: []string{all, a + b, a, b, c + d},
			wantStats:  Stats{PointsWritten: 3, BatchesWritten: 2, WriteErrors: WriteErrors{Refused: 3}, Dropped: Dropped{Refused: 1}},
			wantLog:    []string{"status=422", "unprocessable", "offset=200"},
		},
		{
			name: "refusing everything without a count: 2n-1 requests, every point set aside",
			respond: func(int, string) reply {
				// A count over the request's points is no count.
				return reply{status: 400, body: "partial write: max series per database exceeded dropped=5"}
			},
			wantBodies: []string{all, a + b, a, b, c + d, c, d},
			wantStats:  Stats{WriteErrors: WriteErrors{Refused: 7}, Dropped: Dropped{Refused: 4}},
		},
		{
			name: "401 retries until it works",
			respond: func(n int, _ string) reply {
				if n < 2 {
					return reply{status: 401, json: true, body: `{"code":"unauthorized","message":"unauthorized access"}`}
				}
				return reply{status: 204}
			},
			wantBodies: []string{all, all, all},
			wantDelays: []time.Duration{500 * time.Millisecond, time.Second},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1, Retries: 2, WriteErrors: WriteErrors{Config: 2}},
			wantLog:    []string{"level=ERROR", "check the url, token, org and bucket", "status=401", "unauthorized access"},
		},
		{
			name: "404 and 403 retry too",
			respond: func(n int, _ string) reply {
				switch n {
				case 0:
					return reply{status: 404, body: "database not found"}
				case 1:
					return reply{status: 403, body: "forbidden"}
				}
				return reply{status: 204}
			},
			wantBodies: []string{all, all, all},
			wantDelays: []time.Duration{500 * time.Millisecond, time.Second},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1, Retries: 2, WriteErrors: WriteErrors{Config: 2}},
			wantLog:    []string{"status=404", "database not found", "status=403"},
		},
		{
			name: "503 honours Retry-After as an HTTP date, measured from the response's Date",
			respond: func(n int, _ string) reply {
				if n == 0 {
					return reply{status: 503, header: map[string]string{
						"Retry-After": "Wed, 21 Oct 2015 07:28:20 GMT",
						"Date":        "Wed, 21 Oct 2015 07:28:00 GMT",
					}}
				}
				return reply{status: 204}
			},
			wantBodies: []string{all, all},
			wantDelays: []time.Duration{20 * time.Second},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1, Retries: 1, WriteErrors: WriteErrors{Server: 1}},
		},
		{
			name: "301 is not followed: an error that names the new location",
			respond: func(n int, _ string) reply {
				if n == 0 {
					return reply{status: 301, header: map[string]string{"Location": "/moved/api/v2/write"}}
				}
				return reply{status: 204}
			},
			wantBodies: []string{all, all},
			wantDelays: []time.Duration{500 * time.Millisecond},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1, Retries: 1, WriteErrors: WriteErrors{Config: 1}},
			wantLog:    []string{"level=ERROR", "status=301", "redirected to http://127.0.0.1:", "/moved/api/v2/write"},
		},
		{
			name: "308 is not followed either",
			respond: func(n int, _ string) reply {
				if n == 0 {
					return reply{status: 308, header: map[string]string{"Location": "/elsewhere"}}
				}
				return reply{status: 204}
			},
			wantBodies: []string{all, all},
			wantDelays: []time.Duration{500 * time.Millisecond},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1, Retries: 1, WriteErrors: WriteErrors{Config: 1}},
			wantLog:    []string{"status=308", "/elsewhere"},
		},
		{
			name: "408 and 425 retry like 5xx",
			respond: func(n int, _ string) reply {
				switch n {
				case 0:
					return reply{status: 408}
				case 1:
					return reply{status: 425}
				}
				return reply{status: 204}
			},
			wantBodies: []string{all, all, all},
			wantDelays: []time.Duration{500 * time.Millisecond, time.Second},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1, Retries: 2, WriteErrors: WriteErrors{Server: 2}},
			wantLog:    []string{"level=WARN", "write failed: retrying", "status=408", "status=425"},
		},
		{
			name: "409 retries loudly as an unexpected status",
			respond: func(n int, _ string) reply {
				if n == 0 {
					return reply{status: 409, body: "conflict"}
				}
				return reply{status: 204}
			},
			wantBodies: []string{all, all},
			wantDelays: []time.Duration{500 * time.Millisecond},
			wantStats:  Stats{PointsWritten: 4, BatchesWritten: 1, Retries: 1, WriteErrors: WriteErrors{Config: 1}},
			wantLog:    []string{"level=ERROR", "unexpected status", "status=409", "conflict"},
		},
		{
			name: "1.8 partial write: only the refused point is set aside",
			respond: refusing([]string{b}, func(n int) reply {
				msg := fmt.Sprintf(`partial write: field type conflict: input field \"v\" on measurement \"b\" is type float, already exists as type integer dropped=%d`, n)
				return reply{status: 400, json: true, body: `{"error":"` + msg + `"}`,
					header: map[string]string{"X-Influxdb-Error": msg}}
			}),
			wantBodies: []string{all, a + b, a, b, c + d},
			wantStats:  Stats{PointsWritten: 3, BatchesWritten: 2, WriteErrors: WriteErrors{Refused: 3}, Dropped: Dropped{Refused: 1}},
			wantLog:    []string{"write refused: resending in halves", "refused=1", "offset=200", "field type conflict"},
		},
		{
			name: "2.x partial write: 422 with dropped=N, two refused points",
			respond: refusing([]string{b, c}, func(n int) reply {
				return reply{status: 422, json: true, body: `{"code":"unprocessable entity","message":"failure writing points to database:` +
					fmt.Sprintf(` partial write: field type conflict: input field \"v\" on measurement \"b\" is type float, already exists as type integer dropped=%d"}`, n)}
			}),
			wantBodies: []string{all, a + b, a, b, c + d, c, d},
			wantStats:  Stats{PointsWritten: 2, BatchesWritten: 2, WriteErrors: WriteErrors{Refused: 5}, Dropped: Dropped{Refused: 2}},
			wantLog:    []string{"refused=2", "offset=200"},
		},
		{
			name: "a request the server says it refused whole is not split further",
			respond: refusing([]string{b, c, d}, func(n int) reply {
				return reply{status: 400, body: fmt.Sprintf("partial write: points beyond retention policy dropped=%d", n)}
			}),
			wantBodies: []string{all, a + b, a, b, c + d},
			wantStats:  Stats{PointsWritten: 1, BatchesWritten: 1, WriteErrors: WriteErrors{Refused: 4}, Dropped: Dropped{Refused: 3}},
		},
		{
			name: "partial write said only in X-Influxdb-Error",
			respond: refusing([]string{b}, func(n int) reply {
				return reply{status: 400, header: map[string]string{
					"X-Influxdb-Error": fmt.Sprintf("partial write: points beyond retention policy dropped=%d for database: db for retention policy: autogen", n),
				}}
			}),
			wantBodies: []string{all, a + b, a, b, c + d},
			wantStats:  Stats{PointsWritten: 3, BatchesWritten: 2, WriteErrors: WriteErrors{Refused: 3}, Dropped: Dropped{Refused: 1}},
			wantLog:    []string{"refused=1", "beyond retention policy"},
		},
		{
			name: "partial write in a gzipped body",
			respond: refusing([]string{b}, func(n int) reply {
				return reply{status: 400, json: true, gzip: true, body: fmt.Sprintf(`{"error":"partial write: points beyond retention policy dropped=%d"}`, n)}
			}),
			wantBodies: []string{all, a + b, a, b, c + d},
			wantStats:  Stats{PointsWritten: 3, BatchesWritten: 2, WriteErrors: WriteErrors{Refused: 3}, Dropped: Dropped{Refused: 1}},
			wantLog:    []string{"refused=1"},
		},
		{
			name: "1.8 unparseable lines (dropped=0): no count, split all the same",
			respond: refusing([]string{b}, func(int) reply {
				return reply{status: 400, json: true, body: `{"error":"partial write: unable to parse 'b v=2u 2': invalid number dropped=0"}`}
			}),
			wantBodies: []string{all, a + b, a, b, c + d},
			wantStats:  Stats{PointsWritten: 3, BatchesWritten: 2, WriteErrors: WriteErrors{Refused: 3}, Dropped: Dropped{Refused: 1}},
			wantLog:    []string{"refused=0", "invalid number"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScripted(t, tc.respond)
			var logs bytes.Buffer
			s, delays := newHTTPSink(t, sc, tc.cfg, slog.New(slog.NewTextHandler(&logs, nil)))
			acks, err := runAll(t, s, recs...)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantBodies, sc.bodies()); diff != "" {
				t.Errorf("bodies (-want +got):\n%s", diff)
			}
			for _, r := range sc.requests() {
				if r.Method != "POST" || r.Path != "/api/v2/write" {
					t.Errorf("request %s %s, want POST /api/v2/write", r.Method, r.Path)
				}
			}
			if diff := cmp.Diff(tc.wantDelays, *delays); diff != "" {
				t.Errorf("retry delays (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]pipeline.Ack{ack("f", 400)}, acks); diff != "" {
				t.Errorf("acks (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStats, s.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			for _, w := range tc.wantLog {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, logs.String())
				}
			}
		})
	}
}

// A batch that keeps failing with 401 is never acked: at shutdown the
// final flush makes its one attempt and Run says why it failed.
func TestRunUnauthorizedNeverAcks(t *testing.T) {
	const token = "user:hunter2"
	attempts := make(chan struct{}, 100)
	sc := newScripted(t, func(int, string) reply {
		attempts <- struct{}{}
		return reply{status: 401, body: "authorization failed"}
	})
	var logs syncBuffer
	cfg := Config{Token: token, BatchSize: 1, Timeout: 100 * time.Millisecond}
	s, _ := newHTTPSink(t, sc, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	// Retry waits last until the context ends, as real ones would.
	s.wait = func(ctx context.Context, _ time.Duration) error {
		<-ctx.Done()
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(t.Context())
	in := make(chan pipeline.Record, 1)
	in <- record("f", 100, point("a", 1))
	acks := make(chan pipeline.Ack, 10)
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx, in, acks) }()
	<-attempts // the first write failed; Run now waits to retry
	cancel()
	err := <-errc
	var we *WriteError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &we) || we.StatusCode != 401 {
		t.Errorf("Run: %v, want canceled and the final flush's 401", err)
	}
	var got []pipeline.Ack
	for a := range acks {
		got = append(got, a)
	}
	if len(got) != 0 {
		t.Errorf("acks: %v, want none", got)
	}
	if got := len(sc.requests()); got != 2 {
		t.Errorf("requests: %d, want 2 (one before cancel, one in the final flush)", got)
	}
	for _, r := range sc.requests() {
		if r.Auth != "Token "+token {
			t.Errorf("Authorization: %q", r.Auth)
		}
	}
	if !strings.Contains(logs.String(), "status=401") {
		t.Errorf("log lacks the status:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("log shows the token:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestConfigLogValueHidesToken(t *testing.T) {
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "sink", Config{URL: "http://127.0.0.1:8086", Token: "s3cret"})
	if strings.Contains(logs.String(), "s3cret") || !strings.Contains(logs.String(), "sink.token=******") {
		t.Errorf("log: %s", logs.String())
	}
}

// fakeDst records each write with the (bubble) time it happened at and
// answers with fail, if set.
type fakeDst struct {
	mu     sync.Mutex
	start  time.Time
	writes []fakeWrite
	fail   func(n int) error
}

type fakeWrite struct {
	At   time.Duration // since start
	Body string
}

func newFakeDst() *fakeDst { return &fakeDst{start: time.Now()} }

func (f *fakeDst) WriteBatch(_ context.Context, batch []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.writes)
	f.writes = append(f.writes, fakeWrite{At: time.Since(f.start), Body: string(batch)})
	if f.fail != nil {
		return f.fail(n)
	}
	return nil
}

func (f *fakeDst) Writes() []fakeWrite {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeWrite(nil), f.writes...)
}

// bubble runs a Sink in the synctest bubble of t, with its input, acks
// received into a slice, and the time since start for each.
type bubble struct {
	t     *testing.T
	s     *Sink
	in    chan pipeline.Record
	start time.Time
	errc  chan error

	mu   sync.Mutex
	acks []timedAck
}

type timedAck struct {
	At  time.Duration
	Ack pipeline.Ack
}

// startBubble runs a Sink on dst, without jitter, after setup (SetBudget,
// ...) if given.
func startBubble(ctx context.Context, t *testing.T, cfg Config, dst Destination, setup ...func(*Sink)) *bubble {
	s, err := New(cfg, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.jitter = func(time.Duration) time.Duration { return 0 }
	for _, f := range setup {
		f(s)
	}
	b := &bubble{t: t, s: s, in: make(chan pipeline.Record), start: time.Now(), errc: make(chan error, 1)}
	acks := make(chan pipeline.Ack)
	go func() { b.errc <- s.Run(ctx, b.in, acks) }()
	go func() {
		for a := range acks {
			b.mu.Lock()
			b.acks = append(b.acks, timedAck{At: time.Since(b.start), Ack: a})
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *bubble) Acks() []timedAck {
	synctest.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]timedAck(nil), b.acks...)
}

// close ends the input and returns what Run returned.
func (b *bubble) close() error {
	close(b.in)
	err := <-b.errc
	synctest.Wait() // let the ack reader finish
	return err
}

func TestRunFlushBySize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dst := newFakeDst()
		b := startBubble(t.Context(), t, Config{BatchSize: 3, FlushInterval: time.Hour}, dst)
		b.in <- record("f", 10, point("a", 1))
		b.in <- record("f", 20, point("b", 2), point("c", 3)) // three points: full
		time.Sleep(time.Second)
		b.in <- record("f", 30, point("d", 4))
		b.in <- record("f", 40) // checkpoint only
		b.in <- record("f", 50, point("e", 5), point("f", 6))
		time.Sleep(time.Second)
		b.in <- record("f", 60, point("g", 7))
		if err := b.close(); err != nil {
			t.Fatal(err)
		}
		// The first record of each second is read at once; the ones
		// right after it are gathered for gatherDelay.
		want := []fakeWrite{
			{0, line("a", 1) + line("b", 2) + line("c", 3)},
			{time.Second + gatherDelay, line("d", 4) + line("e", 5) + line("f", 6)},
			{2*time.Second + gatherDelay, line("g", 7)}, // flushed when the input closed
		}
		if diff := cmp.Diff(want, dst.Writes()); diff != "" {
			t.Errorf("writes (-want +got):\n%s", diff)
		}
		wantAcks := []timedAck{{0, ack("f", 20)}, {time.Second + gatherDelay, ack("f", 50)}, {2*time.Second + gatherDelay, ack("f", 60)}}
		if diff := cmp.Diff(wantAcks, b.Acks()); diff != "" {
			t.Errorf("acks (-want +got):\n%s", diff)
		}
	})
}

func TestRunFlushByInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dst := newFakeDst()
		b := startBubble(t.Context(), t, Config{BatchSize: 100, FlushInterval: time.Second}, dst)
		b.in <- record("f", 10, point("a", 1))
		time.Sleep(400 * time.Millisecond)
		b.in <- record("f", 20, point("b", 2)) // joins; does not restart the clock
		time.Sleep(1100 * time.Millisecond)    // t=1.5s
		b.in <- record("f", 30, point("c", 3))
		time.Sleep(5 * time.Second) // t=6.5s: nothing pending, nothing written
		b.in <- record("f", 40)     // checkpoint only: acked without a write
		time.Sleep(2 * time.Second)
		if err := b.close(); err != nil {
			t.Fatal(err)
		}
		want := []fakeWrite{
			{time.Second, line("a", 1) + line("b", 2)},
			{2500 * time.Millisecond, line("c", 3)},
		}
		if diff := cmp.Diff(want, dst.Writes()); diff != "" {
			t.Errorf("writes (-want +got):\n%s", diff)
		}
		wantAcks := []timedAck{
			{time.Second, ack("f", 20)},
			{2500 * time.Millisecond, ack("f", 30)},
			{7500 * time.Millisecond, ack("f", 40)},
		}
		if diff := cmp.Diff(wantAcks, b.Acks()); diff != "" {
			t.Errorf("acks (-want +got):\n%s", diff)
		}
	})
}

func TestRunAcks(t *testing.T) {
	tests := []struct {
		name string
		recs []pipeline.Record
		want []pipeline.Ack
	}{
		{
			name: "last record of the batch",
			recs: []pipeline.Record{record("a", 1, point("x", 1)), record("a", 2, point("x", 2)), record("a", 3, point("x", 3))},
			want: []pipeline.Ack{ack("a", 3)},
		},
		{
			name: "a trailing checkpoint moves the ack",
			recs: []pipeline.Record{record("a", 1, point("x", 1)), record("a", 2), record("a", 3)},
			want: []pipeline.Ack{ack("a", 3)},
		},
		{
			name: "checkpoints only",
			recs: []pipeline.Record{record("a", 1), record("a", 2)},
			want: []pipeline.Ack{ack("a", 2)},
		},
		{
			name: "one ack per file, in order of first appearance",
			recs: []pipeline.Record{
				record("a", 1, point("x", 1)), record("b", 5), record("a", 2, point("x", 2)),
				record("c", 9, point("x", 3)), record("b", 6, point("x", 4)),
			},
			want: []pipeline.Ack{ack("a", 2), ack("b", 6), ack("c", 9)},
		},
		{
			name: "a file rotated away and the new one at its path ack apart",
			recs: func() []pipeline.Record {
				old, cur := record("a", 7, point("x", 1)), record("a", 3, point("x", 2))
				old.File.Ino, cur.File.Ino = 1, 2
				return []pipeline.Record{old, cur}
			}(),
			want: []pipeline.Ack{
				{Origin: pipeline.Origin{Path: "a", Offset: 7, File: pipeline.FileID{Ino: 1}}},
				{Origin: pipeline.Origin{Path: "a", Offset: 3, File: pipeline.FileID{Ino: 2}}},
			},
		},
		{
			name: "the last record of a file wins even at a lower offset (file replaced)",
			recs: []pipeline.Record{record("a", 500, point("x", 1)), record("a", 20, point("x", 2))},
			want: []pipeline.Ack{ack("a", 20)},
		},
		{
			name: "the ack holds the position where the file's last record does",
			recs: func() []pipeline.Record {
				held, free := record("a", 1, point("x", 1)), record("a", 9)
				held.Hold = pipeline.Hold{Hold: 0, Held: true}
				free.Hold = pipeline.Hold{Hold: 4, Held: true}
				other := record("b", 3)
				other.Hold = pipeline.Hold{Hold: 2, Held: true}
				return []pipeline.Record{held, other, free}
			}(),
			want: []pipeline.Ack{
				{Origin: pipeline.Origin{Path: "a", Offset: 9}, Hold: pipeline.Hold{Hold: 4, Held: true}},
				{Origin: pipeline.Origin{Path: "b", Offset: 3}, Hold: pipeline.Hold{Hold: 2, Held: true}},
			},
		},
		{
			name: "the ack carries the greatest log time of its file's records",
			recs: func() []pipeline.Record {
				a1, a2, a3, b := record("a", 1, point("x", 1)), record("a", 2, point("x", 2)), record("a", 3), record("b", 1)
				a1.LogTime, a2.LogTime, b.LogTime = 7, 5, 3 // a3: a line without a time
				return []pipeline.Record{a1, a2, a3, b}
			}(),
			want: []pipeline.Ack{
				{Origin: pipeline.Origin{Path: "a", Offset: 3}, LogTime: 7},
				{Origin: pipeline.Origin{Path: "b", Offset: 1}, LogTime: 3},
			},
		},
		{
			name: "a record of no line (idle aggregation windows) is written, not acked",
			recs: []pipeline.Record{{Points: []pipeline.Point{point("w", 1)}}, record("a", 4)},
			want: []pipeline.Ack{ack("a", 4)},
		},
		{
			name: "a point with no writable field is dropped but acked",
			recs: []pipeline.Record{record("a", 1, pipeline.Point{Measurement: "x", Fields: []pipeline.Field{floatF("v", nan())}})},
			want: []pipeline.Ack{ack("a", 1)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{FlushInterval: time.Hour}, newFakeDst(), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := runAll(t, s, tc.recs...)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("acks (-want +got):\n%s", diff)
			}
		})
	}
}

func nan() float64 {
	var zero float64
	return zero / zero
}

func TestRunNilAcks(t *testing.T) {
	dst := newFakeDst()
	s, err := New(Config{FlushInterval: time.Hour}, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan pipeline.Record, 2)
	in <- record("a", 1, point("x", 1))
	in <- record("a", 2)
	close(in)
	if err := s.Run(t.Context(), in, nil); err != nil {
		t.Fatal(err)
	}
	if got := len(dst.Writes()); got != 1 {
		t.Errorf("writes: %d, want 1", got)
	}
	if got := s.Stats().Dropped.Invalid; got != 0 {
		t.Errorf("dropped invalid: %d", got)
	}
}

func TestRunFinalFlushOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dst := newFakeDst()
		ctx, cancel := context.WithCancel(t.Context())
		b := startBubble(ctx, t, Config{BatchSize: 100, FlushInterval: time.Minute}, dst)
		b.in <- record("f", 10, point("a", 1))
		b.in <- record("f", 20)
		time.Sleep(time.Second)
		cancel()
		if err := <-b.errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
		want := []fakeWrite{{time.Second, line("a", 1)}}
		if diff := cmp.Diff(want, dst.Writes()); diff != "" {
			t.Errorf("writes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]timedAck{{time.Second, ack("f", 20)}}, b.Acks()); diff != "" {
			t.Errorf("acks (-want +got):\n%s", diff)
		}
	})
}

func TestRunBackoffTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dst := newFakeDst()
		dst.fail = func(n int) error {
			switch n {
			case 0:
				return &WriteError{StatusCode: 503}
			case 1:
				return errors.New("stdout: broken pipe") // not a WriteError: network class
			case 2:
				return &WriteError{StatusCode: 429, RetryAfter: 3 * time.Second}
			case 3:
				return &WriteError{StatusCode: 500}
			}
			return nil
		}
		b := startBubble(t.Context(), t, Config{FlushInterval: time.Second, MaxRetryDelay: 3 * time.Second}, dst)
		b.in <- record("f", 10, point("a", 1))
		if err := b.close(); err != nil {
			t.Fatal(err)
		}
		var at []time.Duration
		for _, w := range dst.Writes() {
			at = append(at, w.At)
		}
		// Flushed at once by the close; then waits of 0.5s, 1s, 3s
		// (Retry-After) and 1.5s (backoff 4s capped at 3s, half of it).
		want := []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond, 4500 * time.Millisecond, 6 * time.Second}
		if diff := cmp.Diff(want, at); diff != "" {
			t.Errorf("write times (-want +got):\n%s", diff)
		}
		wantStats := Stats{
			PointsWritten: 1, BatchesWritten: 1, Retries: 4,
			WriteErrors: WriteErrors{Server: 2, Network: 1, Throttled: 1},
		}
		if diff := cmp.Diff(wantStats, b.s.Stats()); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
	})
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		name       string
		max        time.Duration
		attempt    int
		retryAfter time.Duration
		jitter     string // "none" or "full"
		want       time.Duration
	}{
		{"first, no jitter", 30 * time.Second, 0, 0, "none", 500 * time.Millisecond},
		{"first, full jitter", 30 * time.Second, 0, 0, "full", time.Second - 1},
		{"fifth", 30 * time.Second, 4, 0, "none", 8 * time.Second},
		{"capped", 30 * time.Second, 5, 0, "none", 15 * time.Second},
		{"capped, full jitter", 30 * time.Second, 5, 0, "full", 30*time.Second - 1},
		{"no overflow", 30 * time.Second, 1000, 0, "none", 15 * time.Second},
		{"Retry-After", 30 * time.Second, 3, 2 * time.Second, "none", 2 * time.Second},
		{"Retry-After, full jitter: a fifth more", 30 * time.Second, 3, 2 * time.Second, "full", 2400*time.Millisecond - 1},
		{"Retry-After near the cap, full jitter", 30 * time.Second, 0, 29 * time.Second, "full", 30 * time.Second},
		{"Retry-After capped", 30 * time.Second, 0, time.Hour, "none", 30 * time.Second},
		{"Retry-After capped, full jitter: a fifth less", 30 * time.Second, 0, time.Hour, "full", 24*time.Second + 1},
		{"Retry-After at the cap", 30 * time.Second, 0, 30 * time.Second, "none", 30 * time.Second},
		{"tiny cap", time.Nanosecond, 3, 0, "full", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{MaxRetryDelay: tc.max}, newFakeDst(), nil)
			if err != nil {
				t.Fatal(err)
			}
			s.jitter = func(d time.Duration) time.Duration {
				if tc.jitter == "full" {
					return d - 1
				}
				return 0
			}
			if got := s.retryDelay(tc.attempt, tc.retryAfter); got != tc.want {
				t.Errorf("retryDelay(%d, %v) = %v, want %v", tc.attempt, tc.retryAfter, got, tc.want)
			}
		})
	}
}

func TestStream(t *testing.T) {
	var out bytes.Buffer
	s, err := New(Config{}, NewStream(&out), nil)
	if err != nil {
		t.Fatal(err)
	}
	acks, err := runAll(t, s, record("f", 1, point("a", 1), point("b", 2)), record("f", 2, point("c", 3)))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(line("a", 1)+line("b", 2)+line("c", 3), out.String()); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]pipeline.Ack{ack("f", 2)}, acks); diff != "" {
		t.Errorf("acks (-want +got):\n%s", diff)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{name: "zero value", cfg: Config{}},
		{name: "influxdb", cfg: Config{URL: "http://127.0.0.1:8086", Bucket: "db/autogen"}},
		{name: "https", cfg: Config{URL: "https://influx.example:8086/prefix/", Bucket: "b", Org: "o", Token: "t"}},
		{name: "no bucket", cfg: Config{URL: "http://127.0.0.1:8086"}, want: "bucket is required with a url"},
		{name: "bad scheme", cfg: Config{URL: "udp://127.0.0.1:8089", Bucket: "b"}, want: `url "udp://127.0.0.1:8089": scheme must be http or https`},
		{name: "no host", cfg: Config{URL: "http://", Bucket: "b"}, want: `url "http://": no host`},
		{name: "bad url", cfg: Config{URL: "http://[::1", Bucket: "b"}, want: `url: parse "http://[::1": missing ']' in host`},
		{
			name: "every negative reported",
			cfg:  Config{BatchSize: -1, FlushInterval: -time.Second, Timeout: -1, MaxRetryDelay: -time.Minute, DeadLetterMaxBytes: -1, InFlight: -1},
			want: "batch size -1: must not be negative\nflush interval -1s: must not be negative\n" +
				"timeout -1ns: must not be negative\nmax retry delay -1m0s: must not be negative\n" +
				"dead letter max bytes -1: must not be negative\nin flight -1: must be 1 to 4 (0 means 1)",
		},
		{name: "four in flight", cfg: Config{InFlight: 4}},
		{name: "five in flight", cfg: Config{InFlight: 5}, want: "in flight 5: must be 1 to 4 (0 means 1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := tc.cfg.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	want := Config{BatchSize: 5000, FlushInterval: time.Second, Timeout: 10 * time.Second, MaxRetryDelay: 30 * time.Second, DeadLetterMaxBytes: 64 << 20, InFlight: 1}
	if diff := cmp.Diff(want, Config{}.withDefaults()); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestNewInfluxDBNeedsURL(t *testing.T) {
	if _, err := NewInfluxDB(Config{}); err == nil {
		t.Error("NewInfluxDB without a url: no error")
	}
}

// TestRunGathers: a record that comes within gatherDelay of the one
// before is left to queue up with those after it until gatherDelay after
// that one, so that a busy pipeline does not wake the sink for every
// record; a lone record is read at once.
func TestRunGathers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dst := newFakeDst()
		b := startBubble(t.Context(), t, Config{BatchSize: 3, FlushInterval: time.Hour}, dst)
		b.in <- record("f", 10, point("a", 1)) // read at once
		time.Sleep(gatherDelay / 4)
		b.in <- record("f", 20, point("b", 2)) // soon after: gathering
		time.Sleep(gatherDelay / 4)
		b.in <- record("f", 30, point("c", 3)) // waits for the gathering's end
		if err := b.close(); err != nil {
			t.Fatal(err)
		}
		want := []fakeWrite{{gatherDelay/4 + gatherDelay, line("a", 1) + line("b", 2) + line("c", 3)}}
		if diff := cmp.Diff(want, dst.Writes()); diff != "" {
			t.Errorf("writes (-want +got):\n%s", diff)
		}
	})
}

// TestWriteState checks what the agent's health and request metrics read:
// OnWrite gets each request's outcome, and WriteState says since when
// writes fail, with the last failure's status, until a write succeeds.
func TestWriteState(t *testing.T) {
	statuses := []int{503, 401, 204}
	sc := newScripted(t, func(n int, _ string) reply { return reply{status: statuses[min(n, len(statuses)-1)]} })
	var mu sync.Mutex
	var codes []string
	cfg := Config{BatchSize: 1, OnWrite: func(code string, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if took < 0 {
			t.Errorf("OnWrite(%q, %v): negative duration", code, took)
		}
		codes = append(codes, code)
	}}
	s, _ := newHTTPSink(t, sc, cfg, nil)
	if st := s.WriteState(); st != (WriteState{}) {
		t.Errorf("WriteState before any write: %+v", st)
	}
	var states []WriteState
	s.wait = func(ctx context.Context, _ time.Duration) error {
		states = append(states, s.WriteState()) // after each failure
		return nil
	}
	before := time.Now()
	if _, err := runAll(t, s, record("f", 1, point("a", 1))); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"503", "401", "2xx"}, codes); diff != "" {
		t.Errorf("OnWrite codes (-want +got):\n%s", diff)
	}
	if len(states) != 2 {
		t.Fatalf("%d states seen while retrying, want 2", len(states))
	}
	since := states[0].FailingSince
	if since.Before(before) || states[1].FailingSince != since || !states[0].LastSuccess.IsZero() {
		t.Errorf("states while failing: %+v, want FailingSince kept from the first failure, no success", states)
	}
	if states[0].Rejected || !states[1].Rejected {
		t.Errorf("states while failing: %+v, want a 503 not rejected, a 401 rejected", states)
	}
	if states[0].Status != 503 || states[1].Status != 401 || !strings.Contains(states[1].Err, "401") {
		t.Errorf("states while failing: %+v, want the last failure's status and error", states)
	}
	if st := s.WriteState(); st.LastSuccess.Before(since) || !st.FailingSince.IsZero() || st.Status != 0 || st.Err != "" {
		t.Errorf("WriteState after the success: %+v", st)
	}
}
