// Package benchsuite holds what make bench measures: the corpora, the rules
// files that logmetrics reads them with, and (in floors) the bare programs
// that set the floor each figure is compared against. The driver is
// cmd/benchsuite; the test in this package keeps every input valid, so a
// benchmark cannot silently measure nothing.
package benchsuite

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/go-logfmt/logfmt"

	"github.com/logmetrics/logmetrics/internal/loggen"
)

// Seed and Start fix the corpora: the same n always gives the same bytes.
const Seed = 1

// Start is the time of the first generated line.
var Start = time.Date(2025, 10, 10, 13, 55, 36, 0, time.UTC)

// NginxPattern is the rule regexp of the nginx corpus, the same one the Go
// benchmarks of extract and cmd/logmetrics use, and the floor's.
const NginxPattern = `^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<request_time>[\d.]+)$`

// NginxTimeLayout is nginx's $time_local.
const NginxTimeLayout = "02/Jan/2006:15:04:05 -0700"

// Measurement is the rule name, and so the measurement, of both corpora.
const Measurement = "nginx"

// The corpus file names inside a corpus folder.
const (
	NginxFile    = "nginx.log"
	JSONFile     = "nginx.jsonl"
	LogfmtFile   = "nginx.logfmt"
	GzipFile     = "nginx.log.gz"
	NginxConfig  = "nginx.hcl"
	JSONConfig   = "json.hcl"
	LogfmtConfig = "logfmt.hcl"
)

// Corpus is a folder of generated inputs for n lines.
type Corpus struct {
	Dir string
	N   int
}

// Path returns the path of one of the corpus files.
func (c Corpus) Path(name string) string { return filepath.Join(c.Dir, name) }

// Generate writes the corpus of n lines into dir/corpus-n: n nginx combined
// lines (loggen.Nginx), the same requests as JSON lines and as logfmt lines,
// a gzip copy of the nginx lines for backfill, and the rules files for all
// three. A file already there is kept: each is written under a temporary
// name and renamed when complete, so one that exists is whole, and a cache
// made before a file was added to the corpus only gains that file.
func Generate(dir string, n int) (Corpus, error) {
	c := Corpus{Dir: filepath.Join(dir, "corpus-"+strconv.Itoa(n)), N: n}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return c, err
	}
	// Streamed through files, never held whole: the driver's own peak RSS
	// would otherwise be inherited by every process it starts.
	from := func(conv func(io.Writer, io.Reader) error) func(string) error {
		return func(to string) error { return convert(c.Path(NginxFile), to, conv) }
	}
	files := []struct {
		name  string
		write func(path string) error
	}{
		{NginxFile, func(path string) error {
			return writeFile(path, func(w io.Writer) error { return loggen.Nginx(w, n, Seed, Start) })
		}},
		{JSONFile, from(NginxToJSON)},
		{LogfmtFile, from(NginxToLogfmt)},
		{GzipFile, from(func(w io.Writer, r io.Reader) error {
			zw := gzip.NewWriter(w)
			if _, err := io.Copy(zw, r); err != nil {
				return err
			}
			return zw.Close()
		})},
	}
	for _, f := range files {
		if _, err := os.Stat(c.Path(f.name)); err == nil {
			continue
		}
		tmp := c.Path(f.name) + ".tmp"
		if err := f.write(tmp); err != nil {
			return c, err
		}
		if err := os.Rename(tmp, c.Path(f.name)); err != nil {
			return c, err
		}
	}
	// The rules files are rewritten every time: they are small, and they
	// must follow the code that reads them.
	rules := map[string]string{
		NginxConfig:  NginxRules(c.Path(NginxFile), ""),
		JSONConfig:   StructuredRules("json", c.Path(JSONFile)),
		LogfmtConfig: StructuredRules("logfmt", c.Path(LogfmtFile)),
	}
	for name, text := range rules {
		if err := os.WriteFile(c.Path(name), []byte(text), 0o644); err != nil {
			return c, err
		}
	}
	return c, nil
}

// writeFile creates path and has write fill it.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// convert writes to as conv makes it of from.
func convert(from, to string, conv func(io.Writer, io.Reader) error) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeFile(to, func(w io.Writer) error { return conv(w, bufio.NewReaderSize(in, 64<<10)) })
}

// NginxRules is the rules file of the nginx corpus, following path. With
// an agent and an influxdb block (run), points go there; without, to stdout
// (test and backfill, which the suite runs with -source nginx so that any
// file takes the rules).
func NginxRules(path, blocks string) string {
	return blocks + `
source "nginx" {
  paths    = [` + strconv.Quote(path) + `]
  start_at = "beginning"
  rule "nginx" {
    regex = ` + strconv.Quote(NginxPattern) + `
    time {
      from   = "time"
      layout = ` + strconv.Quote(NginxTimeLayout) + `
    }
    tags   = { method = "method", status = "status" }
    fields = { bytes = "int", request_time = "float" }
  }
}
`
}

// StructuredRules is the rules file of the JSON (format "json") or logfmt
// (format "logfmt") corpus at path: the same point from the same request as
// NginxRules. The source is named after the format.
func StructuredRules(format, path string) string {
	return `
source ` + strconv.Quote(format) + ` {
  paths    = [` + strconv.Quote(path) + `]
  start_at = "beginning"
  rule "nginx" {
    ` + format + ` = true
    time {
      from   = "time"
      layout = "rfc3339"
    }
    tags   = { method = "method", status = "status" }
    fields = { bytes = "int", request_time = "float" }
  }
}
`
}

// request is one nginx combined line, split.
type request struct {
	remoteAddr, method, path, protocol, status, bytes, referer, userAgent, requestTime []byte
	time                                                                               time.Time
}

// requestRE splits the corpus's nginx lines for the conversions.
var requestRE = regexp.MustCompile(`^(\S+) \S+ \S+ \[([^\]]+)\] "([A-Z]+) (\S+) ([^"]*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)" ([\d.]+)$`)

// eachRequest calls f with every line of r, split. A line the pattern does
// not take is an error: the corpus must be all requests. The slices are
// valid until f returns.
func eachRequest(r io.Reader, f func(*request) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var q request
	for n := 1; sc.Scan(); n++ {
		m := requestRE.FindSubmatch(sc.Bytes())
		if m == nil {
			return fmt.Errorf("nginx line %d does not match the corpus pattern", n)
		}
		t, err := time.Parse(NginxTimeLayout, string(m[2]))
		if err != nil {
			return fmt.Errorf("nginx line %d: %w", n, err)
		}
		q = request{remoteAddr: m[1], time: t.UTC(), method: m[3], path: m[4], protocol: m[5], status: m[6],
			bytes: m[7], referer: m[8], userAgent: m[9], requestTime: m[10]}
		if err := f(&q); err != nil {
			return err
		}
	}
	return sc.Err()
}

// NginxToJSON rewrites nginx combined lines as one JSON object per line,
// as an nginx log_format with escape=json would write them:
//
//	{"time":"2025-10-10T13:55:36Z","remote_addr":"192.0.2.94","method":"GET","path":"/healthz","protocol":"HTTP/1.1","status":200,"bytes":2,"referer":"-","user_agent":"kube-probe/1.29","request_time":0.000}
//
// A "-" body size leaves bytes out.
func NginxToJSON(w io.Writer, r io.Reader) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var b []byte
	err := eachRequest(r, func(q *request) error {
		b = append(b[:0], `{"time":"`...)
		b = q.time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","remote_addr":`...)
		b = appendJSONString(b, q.remoteAddr)
		b = append(b, `,"method":`...)
		b = appendJSONString(b, q.method)
		b = append(b, `,"path":`...)
		b = appendJSONString(b, q.path)
		b = append(b, `,"protocol":`...)
		b = appendJSONString(b, q.protocol)
		b = append(b, `,"status":`...)
		b = append(b, q.status...)
		if string(q.bytes) != "-" {
			b = append(b, `,"bytes":`...)
			b = append(b, q.bytes...)
		}
		b = append(b, `,"referer":`...)
		b = appendJSONString(b, q.referer)
		b = append(b, `,"user_agent":`...)
		b = appendJSONString(b, q.userAgent)
		b = append(b, `,"request_time":`...)
		b = append(b, q.requestTime...)
		b = append(b, "}\n"...)
		_, err := bw.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// NginxToLogfmt rewrites nginx combined lines as logfmt, the same keys as
// NginxToJSON, quoted by go-logfmt's encoder where a value needs it:
//
//	time=2025-10-10T13:55:36Z remote_addr=192.0.2.94 method=GET path=/healthz protocol=HTTP/1.1 status=200 bytes=2 referer=- user_agent=kube-probe/1.29 request_time=0.000
//
// A "-" body size leaves bytes out.
func NginxToLogfmt(w io.Writer, r io.Reader) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := logfmt.NewEncoder(bw)
	var ts []byte
	err := eachRequest(r, func(q *request) error {
		ts = q.time.AppendFormat(ts[:0], time.RFC3339Nano)
		kv := []any{"time", ts, "remote_addr", q.remoteAddr, "method", q.method, "path", q.path,
			"protocol", q.protocol, "status", q.status}
		if string(q.bytes) != "-" {
			kv = append(kv, "bytes", q.bytes)
		}
		kv = append(kv, "referer", q.referer, "user_agent", q.userAgent, "request_time", q.requestTime)
		if err := enc.EncodeKeyvals(kv...); err != nil {
			return err
		}
		return enc.EndRecord()
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// appendJSONString appends s as a JSON string. Bytes outside printable
// ASCII are escaped as \u00XX: loggen writes ASCII only.
func appendJSONString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
