package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/klauspost/compress/gzip"
)

// gzipLevel is the compression of write bodies: klauspost/compress's
// fastest level compresses line protocol about 8 to 1 at several times
// the speed of the standard library's default level, which cost a run
// into InfluxDB a fifth of its CPU (BenchmarkGzip); the few more bytes
// are cheaper to send than to squeeze.
const gzipLevel = gzip.BestSpeed

const (
	// maxBodyStart is how much of the server's error message is kept for
	// the log.
	maxBodyStart = 200
	// maxErrorBody is how much of an error response's body is read for
	// its message. InfluxDB's messages are much shorter (1.8 cuts its
	// X-Influxdb-Error header at 1 KiB); a proxy's error page need not be
	// read whole.
	maxErrorBody = 4 << 10
	// maxDrainBody is how much more of a response's body is read and
	// discarded so that its connection can be reused. A longer body costs
	// a new connection instead of the time to read it.
	maxDrainBody = 64 << 10
)

// WriteError is a write that got no 2xx. The sink decides what to do by
// StatusCode alone.
type WriteError struct {
	// StatusCode is 0 when no response came back (connection refused,
	// timeout, ...); Err says why.
	StatusCode int
	// RetryAfter is the wait the server asked for with Retry-After, 0 if
	// absent, unreadable or past. See parseRetryAfter.
	RetryAfter time.Duration
	// Location is where a redirect (3xx) points. Redirects are not
	// followed: Go would turn the POST into a GET.
	Location string
	// Body is the start of the server's error message, at most 200 bytes:
	// the "message" (2.x) or "error" (1.8) of a JSON body, else the
	// X-Influxdb-Error header, else the body as it is.
	Body string
	// Refused is how many points the server said it refused while it
	// stored the rest of the batch (a partial write's "dropped=N", from
	// InfluxDB 1.x and 2.x), or 0 when it did not say.
	Refused int
	Err     error
}

func (e *WriteError) Error() string {
	switch {
	case e.StatusCode == 0:
		return fmt.Sprintf("write: %v", e.Err)
	case e.Location != "":
		return fmt.Sprintf("write: status %d: redirected to %s", e.StatusCode, e.Location)
	}
	return fmt.Sprintf("write: status %d: %s", e.StatusCode, e.Body)
}

func (e *WriteError) Unwrap() error { return e.Err }

// InfluxDB writes batches to an InfluxDB server through the v2 write API,
// which InfluxDB 1.8 also serves. It is safe for concurrent use: a Sink
// writes up to Config.InFlight batches at once.
type InfluxDB struct {
	client   influxdb2.Client
	writeURL string
	pingURL  string
	// gzips keeps the compressors of finished writes for the next ones:
	// one per write at once, at most maxInFlight.
	gzips chan *gzip.Writer
}

// NewInfluxDB makes a destination for cfg.URL, cfg.Bucket, cfg.Org and
// cfg.Token. Each write is bounded by cfg.Timeout. Close releases its idle
// connections.
func NewInfluxDB(cfg Config) (*InfluxDB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.URL == "" {
		return nil, errors.New("influxdb: url is required")
	}
	cfg = cfg.withDefaults()
	// Our own http.Client, so the request timeout is ours rather than the
	// library's 20s default, and a redirect comes back to us as it is:
	// followed, a 301 or 302 would turn the write into a GET that
	// succeeds without writing anything.
	opts := influxdb2.DefaultOptions().
		SetApplicationName("logmetrics").
		SetHTTPClient(&http.Client{
			Transport:     transport(cfg.TLS),
			Timeout:       cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		})
	client := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)

	// The URL is built as influxdb-client-go's write service builds it.
	u, err := url.Parse(client.HTTPService().ServerAPIURL())
	if err == nil {
		u, err = u.Parse("write")
	}
	if err != nil {
		return nil, fmt.Errorf("influxdb: url %q: %w", cfg.URL, err)
	}
	q := url.Values{}
	q.Set("bucket", cfg.Bucket)
	q.Set("precision", "ns")
	// The library always sends org, even empty; we leave it out when it
	// is empty, which InfluxDB 1.8 ignores anyway.
	if cfg.Org != "" {
		q.Set("org", cfg.Org)
	}
	u.RawQuery = q.Encode()

	ping, err := url.Parse(client.HTTPService().ServerURL())
	if err == nil {
		ping, err = ping.Parse("ping")
	}
	if err != nil {
		return nil, fmt.Errorf("influxdb: url %q: %w", cfg.URL, err)
	}
	return &InfluxDB{
		client:   client,
		writeURL: u.String(),
		pingURL:  ping.String(),
		gzips:    make(chan *gzip.Writer, maxInFlight),
	}, nil
}

// transport is Go's default transport with tlsConfig, when set.
func transport(tlsConfig *tls.Config) http.RoundTripper {
	if tlsConfig == nil {
		return http.DefaultTransport
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsConfig.Clone()
	return t
}

// WriteBatch gzips the line protocol in batch and posts it. The client
// adds "Authorization: Token <token>" when the token is set. Failures are
// *WriteError.
func (d *InfluxDB) WriteBatch(ctx context.Context, batch []byte) error {
	body, err := d.gzip(batch)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.writeURL, bytes.NewReader(body))
	if err != nil {
		return &WriteError{Err: err}
	}
	// The library's service adds the Authorization and User-Agent
	// headers; the response we read ourselves, because the library reads
	// an error body whole and knows Retry-After in seconds only.
	resp, err := d.client.HTTPService().DoHTTPRequestWithResponse(req, func(req *http.Request) {
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	})
	if err != nil {
		return &WriteError{Err: err}
	}
	defer drainClose(resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return responseError(resp, time.Now())
}

// gzip compresses batch into a buffer of its own: the transport may still
// read a request's body after the response came back (a 413 before the
// body was read), so a body is never reused. The compressor, much larger,
// is.
func (d *InfluxDB) gzip(batch []byte) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, len(batch)/4+512))
	var gz *gzip.Writer
	select {
	case gz = <-d.gzips:
		gz.Reset(buf)
	default:
		gz, _ = gzip.NewWriterLevel(buf, gzipLevel) // a valid level: no error
	}
	_, err := gz.Write(batch)
	if cerr := gz.Close(); err == nil {
		err = cerr
	}
	select {
	case d.gzips <- gz:
	default:
	}
	if err != nil {
		return nil, fmt.Errorf("gzip batch: %w", err)
	}
	return buf.Bytes(), nil
}

// Ping asks the server's /ping whether it answers, which InfluxDB 1.8
// and 2.x do with 204 without touching storage or needing a token. Any
// 2xx is nil; anything else an error.
func (d *InfluxDB) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.pingURL, nil)
	if err != nil {
		return err
	}
	resp, err := d.client.HTTPService().DoHTTPRequestWithResponse(req, nil)
	if err != nil {
		return err
	}
	defer drainClose(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return fmt.Errorf("ping: status %d", resp.StatusCode)
	}
	return nil
}

// drainClose reads what is left of a response body, up to maxDrainBody,
// so that its connection can be reused, and closes it.
func drainClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, maxDrainBody)
	_ = body.Close()
}

// responseError reads the WriteError of a response that is not a 2xx; now
// is when it came. It reads at most maxErrorBody bytes of the body, which
// Go's transport has already un-gzipped if the server compressed it.
func responseError(resp *http.Response, now time.Time) *WriteError {
	e := &WriteError{
		StatusCode: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), resp.Header.Get("Date"), now),
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		if loc, err := resp.Location(); err == nil {
			e.Location = loc.String()
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		e.Err = fmt.Errorf("read error body: %w", err)
	}
	header := resp.Header.Get("X-Influxdb-Error")
	msg := errorMessage(body, header)
	e.Body = bodyStart(msg)
	e.Refused = partialRefused(msg)
	if e.Refused == 0 {
		e.Refused = partialRefused(header)
	}
	return e
}

// errorMessage is the server's message in an error response: InfluxDB
// 2.x sends {"code": ..., "message": ...}, 1.8 {"error": ...} and the same
// text, cut at 1 KiB, in X-Influxdb-Error. Anything else, such as a
// proxy's page, is taken as it is.
func errorMessage(body []byte, header string) string {
	var j struct{ Message, Error string }
	if json.Unmarshal(body, &j) == nil {
		if j.Message != "" {
			return j.Message
		}
		if j.Error != "" {
			return j.Error
		}
	}
	if header != "" {
		return header
	}
	return strings.TrimSpace(string(body))
}

// droppedCount finds N in InfluxDB's partial write message "partial write:
// <reason> dropped=N", which 2.x prefixes with "failure writing points to
// database: " and later 1.x versions follow with " for database: ...".
// The reason quotes measurement and field names, so N is the last
// "dropped=" (the greedy .*).
var droppedCount = regexp.MustCompile(`(?s)partial write: .* dropped=(\d+)`)

// partialRefused is the N of a partial write message, or 0 if msg is none
// or cut before it.
func partialRefused(msg string) int {
	m := droppedCount.FindStringSubmatch(msg)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0
	}
	return n
}

// parseRetryAfter reads a Retry-After header, delay-seconds or an
// HTTP-date (RFC 9110, section 10.2.3). A date is counted from the
// response's Date header when there is one, so that a skew between the
// server's clock and ours does not change the wait, else from now. It
// returns 0 when v is empty, unreadable or past.
func parseRetryAfter(v, date string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	secs, err := strconv.ParseUint(v, 10, 64)
	if err == nil || errors.Is(err, strconv.ErrRange) {
		if secs > uint64(math.MaxInt64/time.Second) {
			return math.MaxInt64
		}
		return time.Duration(secs) * time.Second
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	if d, err := http.ParseTime(date); err == nil {
		now = d
	}
	return max(at.Sub(now), 0)
}

// bodyStart cuts s to maxBodyStart bytes without splitting a rune.
func bodyStart(s string) string {
	if len(s) <= maxBodyStart {
		return s
	}
	n := maxBodyStart
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Close releases idle connections.
func (d *InfluxDB) Close() {
	d.client.Close()
	d.client.Options().HTTPClient().CloseIdleConnections()
}

// Stream writes batches as plain line protocol to an io.Writer, such as
// os.Stdout when the rules file has no influxdb block. A write error is
// retried like a network error, and the retry continues after the bytes
// already written (a full disk, then space freed), so that no line is
// written twice or torn.
type Stream struct {
	w io.Writer
	// After a failed write, retrying is set, failed is a copy of its
	// batch and written is how much of it reached w. The copy tells a
	// retry from a new batch without keeping the caller's slice.
	retrying bool
	failed   []byte
	written  int
}

// NewStream makes a destination that writes to w.
func NewStream(w io.Writer) *Stream { return &Stream{w: w} }

// WriteBatch writes batch to the stream as it is. Given again the batch
// whose write failed, it writes only what is left of it.
func (s *Stream) WriteBatch(_ context.Context, batch []byte) error {
	start := 0
	if s.retrying {
		if bytes.Equal(batch, s.failed) {
			start = s.written
		} else {
			// The Sink retries a batch until it is written, so this is
			// not expected. Should it happen, end the torn line so that
			// the new batch's first line is not joined to it.
			if s.written > 0 && s.failed[s.written-1] != '\n' {
				if _, err := s.w.Write([]byte{'\n'}); err != nil {
					return err
				}
			}
			s.retrying = false
		}
	}
	n, err := s.w.Write(batch[start:])
	if err == nil && n < len(batch)-start {
		err = io.ErrShortWrite
	}
	if err != nil {
		if !s.retrying {
			s.retrying, s.failed, s.written = true, append(s.failed[:0], batch...), 0
		}
		s.written += n
		return err
	}
	s.retrying = false
	return nil
}
