package sink

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// shortWriter fails the way a full disk does: each Write takes the next
// step, writes at most n bytes of what it was given and returns err. Once
// the steps are used up it writes everything.
type shortWriter struct {
	out   bytes.Buffer
	steps []shortStep
}

type shortStep struct {
	n   int
	err error
}

func (w *shortWriter) Write(p []byte) (int, error) {
	if len(w.steps) == 0 {
		return w.out.Write(p)
	}
	st := w.steps[0]
	w.steps = w.steps[1:]
	n := min(st.n, len(p))
	w.out.Write(p[:n])
	return n, st.err
}

// A write that stops part-way is retried from where it stopped: every line
// comes out once and whole, however the failures fall.
func TestStreamResumesAfterShortWrite(t *testing.T) {
	a, b, c := line("a", 1), line("b", 2), line("c", 3)
	tests := []struct {
		name     string
		steps    []shortStep
		failures uint64
	}{
		{name: "disk full mid-line", steps: []shortStep{{5, syscall.ENOSPC}}, failures: 1},
		{name: "disk full at a line end", steps: []shortStep{{len(a), syscall.ENOSPC}}, failures: 1},
		{name: "nothing written", steps: []shortStep{{0, syscall.ENOSPC}}, failures: 1},
		{
			name:     "several partial writes of one batch",
			steps:    []shortStep{{3, syscall.ENOSPC}, {0, syscall.ENOSPC}, {len(a), syscall.ENOSPC}, {2, syscall.EIO}},
			failures: 4,
		},
		{name: "short write without an error", steps: []shortStep{{4, nil}}, failures: 1},
		{
			name: "the second batch fails too",
			// The first batch (a, b) goes through after one failure; the
			// second (c) fails part-way once.
			steps:    []shortStep{{len(a) + 1, syscall.ENOSPC}, {len(b), nil}, {2, syscall.ENOSPC}},
			failures: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &shortWriter{steps: tc.steps}
			s, err := New(Config{BatchSize: 2, FlushInterval: time.Hour}, NewStream(w), nil)
			if err != nil {
				t.Fatal(err)
			}
			s.wait = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
			acks, err := runAll(t, s,
				record("f", 1, point("a", 1)), record("f", 2, point("b", 2)), record("f", 3, point("c", 3)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(a+b+c, w.out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]pipeline.Ack{ack("f", 2), ack("f", 3)}, acks); diff != "" {
				t.Errorf("acks (-want +got):\n%s", diff)
			}
			want := Stats{PointsWritten: 3, BatchesWritten: 2, Retries: tc.failures, WriteErrors: WriteErrors{Network: tc.failures}}
			if diff := cmp.Diff(want, s.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

// A batch other than the one that failed (the Sink never sends one, but
// the Stream does not rely on it) starts on a line of its own.
func TestStreamNewBatchAfterShortWrite(t *testing.T) {
	w := &shortWriter{steps: []shortStep{{5, syscall.ENOSPC}}}
	st := NewStream(w)
	a, b := line("a", 1), line("b", 2)
	if err := st.WriteBatch(t.Context(), []byte(a)); err == nil {
		t.Fatal("first write: no error")
	}
	if err := st.WriteBatch(t.Context(), []byte(b)); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteBatch(t.Context(), []byte(a)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a[:5]+"\n"+b+a, w.out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// endlessBody is a response body of size bytes that counts what was read
// from it and whether it was closed.
type endlessBody struct {
	size, read int
	closed     bool
}

func (b *endlessBody) Read(p []byte) (int, error) {
	if b.read >= b.size {
		return 0, io.EOF
	}
	n := min(len(p), b.size-b.read)
	clear(p[:n])
	b.read += n
	return n, nil
}

func (b *endlessBody) Close() error {
	b.closed = true
	return nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// An error body is read only up to a bound, whatever its size, and closed.
func TestInfluxDBErrorBodyBounded(t *testing.T) {
	for _, ctype := range []string{"text/plain", "application/json"} {
		t.Run(ctype, func(t *testing.T) {
			dst, err := NewInfluxDB(Config{URL: "http://influx.invalid:8086", Bucket: "db"})
			if err != nil {
				t.Fatal(err)
			}
			body := &endlessBody{size: 64 << 20}
			dst.client.Options().HTTPClient().Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
				return &http.Response{
					StatusCode: 400, Status: "400 Bad Request", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
					Header: http.Header{"Content-Type": {ctype}}, Body: body, Request: r,
				}, nil
			})
			err = dst.WriteBatch(t.Context(), []byte(line("a", 1)))
			var we *WriteError
			if !errors.As(err, &we) || we.StatusCode != 400 {
				t.Fatalf("WriteBatch: %v, want a WriteError with status 400", err)
			}
			if limit := maxErrorBody + maxDrainBody; body.read > limit {
				t.Errorf("read %d bytes of the error body, want at most %d", body.read, limit)
			}
			if !body.closed {
				t.Error("error body not closed")
			}
			if len(we.Body) > maxBodyStart {
				t.Errorf("WriteError.Body holds %d bytes, want at most %d", len(we.Body), maxBodyStart)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	const date = "Wed, 21 Oct 2015 07:28:00 GMT"
	tests := []struct {
		name        string
		value, date string
		want        time.Duration
	}{
		{name: "absent"},
		{name: "seconds", value: "7", want: 7 * time.Second},
		{name: "seconds with spaces", value: " 120 ", want: 2 * time.Minute},
		{name: "zero seconds", value: "0"},
		{name: "negative", value: "-5"},
		{name: "fraction", value: "1.5"},
		{name: "garbage", value: "soon"},
		{name: "seconds past int64 nanoseconds", value: "99999999999999999999", want: math.MaxInt64},
		{name: "HTTP date, from the response's Date", value: "Wed, 21 Oct 2015 07:28:20 GMT", date: "Wed, 21 Oct 2015 07:28:10 GMT", want: 10 * time.Second},
		{name: "HTTP date, no Date: from now", value: "Wed, 21 Oct 2015 07:28:20 GMT", want: 20 * time.Second},
		{name: "HTTP date, bad Date: from now", value: "Wed, 21 Oct 2015 07:28:20 GMT", date: "yesterday", want: 20 * time.Second},
		{name: "RFC 850 date", value: "Wednesday, 21-Oct-15 07:29:00 GMT", date: date, want: time.Minute},
		{name: "asctime date", value: "Wed Oct 21 07:28:05 2015", date: date, want: 5 * time.Second},
		{name: "past date", value: "Wed, 21 Oct 2015 07:27:00 GMT", date: date},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseRetryAfter(tc.value, tc.date, now); got != tc.want {
				t.Errorf("parseRetryAfter(%q, %q) = %v, want %v", tc.value, tc.date, got, tc.want)
			}
		})
	}
}

// What the server says it refused, from InfluxDB's error responses.
func TestResponseError(t *testing.T) {
	conflict := `partial write: field type conflict: input field \"v\" on measurement \"m\" is type float, already exists as type integer dropped=3`
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   WriteError
	}{
		{
			name:   "1.8: JSON error and X-Influxdb-Error",
			status: 400,
			header: http.Header{"Content-Type": {"application/json"}, "X-Influxdb-Error": {strings.ReplaceAll(conflict, `\"`, `"`)}},
			body:   `{"error":"` + conflict + `"}`,
			want:   WriteError{StatusCode: 400, Body: strings.ReplaceAll(conflict, `\"`, `"`), Refused: 3},
		},
		{
			name:   "1.8: header cut, body whole",
			status: 400,
			header: http.Header{"X-Influxdb-Error": {"partial write: field type conflict: input field"}},
			body:   `{"error":"partial write: points beyond retention policy dropped=2"}`,
			want:   WriteError{StatusCode: 400, Body: "partial write: points beyond retention policy dropped=2", Refused: 2},
		},
		{
			name:   "1.8: body cut, header whole",
			status: 400,
			header: http.Header{"X-Influxdb-Error": {"partial write: points beyond retention policy dropped=2"}},
			body:   `{"error":"partial write: points beyond ret`,
			want:   WriteError{StatusCode: 400, Body: "partial write: points beyond retention policy dropped=2", Refused: 2},
		},
		{
			name:   "later 1.x: database and retention policy after the count",
			status: 400,
			body:   `{"error":"partial write: field type conflict: dropped=1 for database: db for retention policy: autogen"}`,
			want:   WriteError{StatusCode: 400, Body: "partial write: field type conflict: dropped=1 for database: db for retention policy: autogen", Refused: 1},
		},
		{
			name:   "2.x: 422",
			status: 422,
			body:   `{"code":"unprocessable entity","message":"failure writing points to database: ` + conflict + `"}`,
			want:   WriteError{StatusCode: 422, Body: "failure writing points to database: " + strings.ReplaceAll(conflict, `\"`, `"`), Refused: 3},
		},
		{
			name:   "the count is the last dropped=, not one in a name",
			status: 400,
			body:   `{"error":"partial write: field type conflict: input field \"dropped=7\" on measurement \"m\" is type float dropped=1"}`,
			want:   WriteError{StatusCode: 400, Body: `partial write: field type conflict: input field "dropped=7" on measurement "m" is type float dropped=1`, Refused: 1},
		},
		{
			name:   "2.x: a line it cannot parse refuses the batch, no count",
			status: 400,
			body:   `{"code":"invalid","message":"unable to parse 'm v=1u 1': invalid number"}`,
			want:   WriteError{StatusCode: 400, Body: "unable to parse 'm v=1u 1': invalid number"},
		},
		{
			name:   "dropped= outside a partial write message",
			status: 400,
			body:   "bad request dropped=4",
			want:   WriteError{StatusCode: 400, Body: "bad request dropped=4"},
		},
		{
			name:   "a proxy's page",
			status: 502,
			body:   "<html>\n<h1>Bad Gateway</h1></html>\n",
			want:   WriteError{StatusCode: 502, Body: "<html>\n<h1>Bad Gateway</h1></html>"},
		},
		{
			name:   "a redirect: where to",
			status: 307,
			header: http.Header{"Location": {"/v2/api/v2/write?bucket=db"}},
			want:   WriteError{StatusCode: 307, Location: "http://influx.example:8086/v2/api/v2/write?bucket=db"},
		},
		{
			name:   "Retry-After",
			status: 503,
			header: http.Header{"Retry-After": {"Wed, 21 Oct 2015 07:28:20 GMT"}, "Date": {"Wed, 21 Oct 2015 07:28:00 GMT"}},
			want:   WriteError{StatusCode: 503, RetryAfter: 20 * time.Second},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", "http://influx.example:8086/api/v2/write?bucket=db", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp := &http.Response{StatusCode: tc.status, Header: tc.header, Body: io.NopCloser(strings.NewReader(tc.body)), Request: req}
			if resp.Header == nil {
				resp.Header = http.Header{}
			}
			got := responseError(resp, time.Now())
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("responseError (-want +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkGzip is the compression of one batch of line protocol, as
// WriteBatch does it before posting.
func BenchmarkGzip(b *testing.B) {
	points := benchBatch()
	var batch []byte
	for i := range points {
		batch = AppendPoint(batch, &points[i])
	}
	d, err := NewInfluxDB(Config{URL: "http://127.0.0.1:1", Bucket: "b"})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	body, err := d.gzip(batch)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.gzip(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(batch))/float64(len(body)), "x_smaller")
}
