package sink

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"
)

// maxBodyStart is how much of a failed write's response body is kept for
// the log.
const maxBodyStart = 200

// WriteError is a write that got no 2xx. The sink decides what to do by
// StatusCode alone.
type WriteError struct {
	// StatusCode is 0 when no response came back (connection refused,
	// timeout, ...); Err says why.
	StatusCode int
	// RetryAfter is the server's Retry-After, 0 if absent.
	RetryAfter time.Duration
	// Body is the start of the response body, at most 200 bytes.
	Body string
	Err  error
}

func (e *WriteError) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("write: %v", e.Err)
	}
	return fmt.Sprintf("write: status %d: %s", e.StatusCode, e.Body)
}

func (e *WriteError) Unwrap() error { return e.Err }

// InfluxDB writes batches to an InfluxDB server through the v2 write API,
// which InfluxDB 1.8 also serves. It is not safe for concurrent use: a Sink
// writes one batch at a time.
type InfluxDB struct {
	client   influxdb2.Client
	writeURL string
	gzipped  bytes.Buffer
	gz       *gzip.Writer
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
	// library's 20s default.
	opts := influxdb2.DefaultOptions().
		SetApplicationName("logmetrics").
		SetHTTPClient(&http.Client{Timeout: cfg.Timeout})
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

	d := &InfluxDB{client: client, writeURL: u.String()}
	d.gz = gzip.NewWriter(&d.gzipped)
	return d, nil
}

// WriteBatch gzips the line protocol in batch and posts it. The client
// adds "Authorization: Token <token>" when the token is set. Failures are
// *WriteError.
func (d *InfluxDB) WriteBatch(ctx context.Context, batch []byte) error {
	d.gzipped.Reset()
	d.gz.Reset(&d.gzipped)
	if _, err := d.gz.Write(batch); err != nil {
		return fmt.Errorf("gzip batch: %w", err)
	}
	if err := d.gz.Close(); err != nil {
		return fmt.Errorf("gzip batch: %w", err)
	}
	perr := d.client.HTTPService().DoPostRequest(ctx, d.writeURL, bytes.NewReader(d.gzipped.Bytes()),
		func(req *http.Request) {
			req.Header.Set("Content-Encoding", "gzip")
			req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		},
		func(resp *http.Response) error {
			// Drain so that the connection is reused.
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		})
	if perr == nil {
		return nil
	}
	return writeError(perr)
}

// writeError turns the library's error into ours. The library has already
// read the body: Message is the body itself, or for a JSON body its
// "message" (InfluxDB 1.8 sends {"error": ...}, and then Message is the
// X-Influxdb-Error header, which holds the same text).
func writeError(perr *influxhttp.Error) *WriteError {
	e := &WriteError{
		StatusCode: perr.StatusCode,
		RetryAfter: time.Duration(perr.RetryAfter) * time.Second,
		Err:        perr.Err,
	}
	if e.StatusCode == 0 && e.Err == nil {
		e.Err = errors.New(perr.Error()) // not expected from the library
	}
	body := perr.Message
	if body == "" {
		body = perr.Code
	}
	e.Body = bodyStart(body)
	return e
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
