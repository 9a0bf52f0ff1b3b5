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
	NginxFile   = "nginx.log"
	JSONFile    = "nginx.jsonl"
	GzipFile    = "nginx.log.gz"
	NginxConfig = "nginx.hcl"
	JSONConfig  = "json.hcl"
	doneFile    = "done"
)

// Corpus is a folder of generated inputs for n lines.
type Corpus struct {
	Dir string
	N   int
}

// Path returns the path of one of the corpus files.
func (c Corpus) Path(name string) string { return filepath.Join(c.Dir, name) }

// Generate writes the corpus of n lines into dir/n unless a complete one is
// already there: n nginx combined lines (loggen.Nginx), the same requests
// as JSON lines, a gzip copy of the nginx lines for backfill, and the rules
// files for both.
func Generate(dir string, n int) (Corpus, error) {
	c := Corpus{Dir: filepath.Join(dir, "corpus-"+strconv.Itoa(n)), N: n}
	if _, err := os.Stat(c.Path(doneFile)); err == nil {
		return c, nil
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return c, err
	}
	// Streamed through files, never held whole: the driver's own peak RSS
	// would otherwise be inherited by every process it starts.
	if err := writeFile(c.Path(NginxFile), func(w io.Writer) error { return loggen.Nginx(w, n, Seed, Start) }); err != nil {
		return c, err
	}
	if err := convert(c.Path(NginxFile), c.Path(JSONFile), NginxToJSON); err != nil {
		return c, err
	}
	err := convert(c.Path(NginxFile), c.Path(GzipFile), func(w io.Writer, r io.Reader) error {
		zw := gzip.NewWriter(w)
		if _, err := io.Copy(zw, r); err != nil {
			return err
		}
		return zw.Close()
	})
	if err != nil {
		return c, err
	}
	if err := os.WriteFile(c.Path(NginxConfig), []byte(NginxRules(c.Path(NginxFile), "")), 0o644); err != nil {
		return c, err
	}
	if err := os.WriteFile(c.Path(JSONConfig), []byte(JSONRules(c.Path(JSONFile))), 0o644); err != nil {
		return c, err
	}
	return c, os.WriteFile(c.Path(doneFile), nil, 0o644)
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

// JSONRules is the rules file of the JSON corpus at path: the same point
// from the same request.
func JSONRules(path string) string {
	return `
source "json" {
  paths    = [` + strconv.Quote(path) + `]
  start_at = "beginning"
  rule "nginx" {
    json = true
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

// NginxToJSON rewrites nginx combined lines as one JSON object per line,
// as an nginx log_format with escape=json would write them:
//
//	{"time":"2025-10-10T13:55:36Z","remote_addr":"192.0.2.94","method":"GET","path":"/healthz","protocol":"HTTP/1.1","status":200,"bytes":2,"referer":"-","user_agent":"kube-probe/1.29","request_time":0.000}
//
// A "-" body size leaves bytes out. A line the pattern does not take is an
// error: the corpus must be all requests.
func NginxToJSON(w io.Writer, r io.Reader) error {
	re := regexp.MustCompile(`^(\S+) \S+ \S+ \[([^\]]+)\] "([A-Z]+) (\S+) ([^"]*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)" ([\d.]+)$`)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	bw := bufio.NewWriterSize(w, 64<<10)
	var b []byte
	for n := 1; sc.Scan(); n++ {
		m := re.FindSubmatch(sc.Bytes())
		if m == nil {
			return fmt.Errorf("nginx line %d does not match the corpus pattern", n)
		}
		t, err := time.Parse(NginxTimeLayout, string(m[2]))
		if err != nil {
			return fmt.Errorf("nginx line %d: %w", n, err)
		}
		b = append(b[:0], `{"time":"`...)
		b = t.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","remote_addr":`...)
		b = appendJSONString(b, m[1])
		b = append(b, `,"method":`...)
		b = appendJSONString(b, m[3])
		b = append(b, `,"path":`...)
		b = appendJSONString(b, m[4])
		b = append(b, `,"protocol":`...)
		b = appendJSONString(b, m[5])
		b = append(b, `,"status":`...)
		b = append(b, m[6]...)
		if string(m[7]) != "-" {
			b = append(b, `,"bytes":`...)
			b = append(b, m[7]...)
		}
		b = append(b, `,"referer":`...)
		b = appendJSONString(b, m[8])
		b = append(b, `,"user_agent":`...)
		b = appendJSONString(b, m[9])
		b = append(b, `,"request_time":`...)
		b = append(b, m[10]...)
		b = append(b, "}\n"...)
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
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
