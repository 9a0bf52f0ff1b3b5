// Package floors holds the bare programs the benchmark suite compares
// logmetrics against: the least a program must do to turn the corpora into
// the same points. Each reads lines, takes tags method and status and
// fields bytes and request_time, parses the time from the line, keeps
// points of one series and second apart as logmetrics' separator does (for
// times that only move forward, which the corpora's do), and writes line
// protocol with sink.AppendPoint.
package floors

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/go-logfmt/logfmt"
	"github.com/valyala/fastjson"

	"github.com/logmetrics/logmetrics/internal/benchsuite"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
)

// maxLine bounds one line, as logmetrics' default max_line_bytes would.
const maxLine = 1 << 20

// writer emits points: it gives repeats of a series' time the next free
// nanosecond and encodes them into out.
type writer struct {
	out  *bufio.Writer
	buf  []byte
	last map[string]int64 // per series (tag values), the latest time written
	key  []byte
	n    int
}

func newWriter(w io.Writer) *writer {
	return &writer{out: bufio.NewWriterSize(w, 64<<10), last: map[string]int64{}}
}

func (w *writer) emit(p *pipeline.Point) error {
	w.key = append(append(append(w.key[:0], p.Tags[0].Value...), 0), p.Tags[1].Value...)
	if last, ok := w.last[string(w.key)]; ok && p.Time <= last {
		p.Time = last + 1
	}
	w.last[string(w.key)] = p.Time
	w.buf = sink.AppendPoint(w.buf[:0], p)
	w.n++
	_, err := w.out.Write(w.buf)
	return err
}

// Regex converts nginx combined lines with a bare Go regexp, the same
// pattern as the logmetrics rule, and returns the number of points.
func Regex(in io.Reader, out io.Writer) (int, error) {
	re := regexp.MustCompile(benchsuite.NginxPattern)
	iTime, iMethod, iStatus := re.SubexpIndex("time"), re.SubexpIndex("method"), re.SubexpIndex("status")
	iBytes, iReq := re.SubexpIndex("bytes"), re.SubexpIndex("request_time")
	w := newWriter(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	p := pipeline.Point{Measurement: benchsuite.Measurement, Tags: make([]pipeline.Tag, 2), Fields: make([]pipeline.Field, 0, 2)}
	for sc.Scan() {
		line := sc.Text()
		m := re.FindStringSubmatchIndex(line)
		if m == nil {
			continue
		}
		group := func(i int) string { return line[m[2*i]:m[2*i+1]] }
		t, err := time.Parse(benchsuite.NginxTimeLayout, group(iTime))
		if err != nil {
			continue
		}
		p.Tags[0] = pipeline.Tag{Key: "method", Value: group(iMethod)}
		p.Tags[1] = pipeline.Tag{Key: "status", Value: group(iStatus)}
		p.Fields = p.Fields[:0]
		if v, err := strconv.ParseInt(group(iBytes), 10, 64); err == nil {
			p.Fields = append(p.Fields, pipeline.Field{Key: "bytes", Value: pipeline.IntValue(v)})
		}
		if v, err := strconv.ParseFloat(group(iReq), 64); err == nil {
			p.Fields = append(p.Fields, pipeline.Field{Key: "request_time", Value: pipeline.FloatValue(v)})
		}
		if len(p.Fields) == 0 {
			continue
		}
		p.Time = t.UnixNano()
		if err := w.emit(&p); err != nil {
			return w.n, err
		}
	}
	if err := sc.Err(); err != nil {
		return w.n, err
	}
	return w.n, w.out.Flush()
}

// FastJSON converts the JSON lines of the corpus with valyala/fastjson and
// returns the number of points.
func FastJSON(in io.Reader, out io.Writer) (int, error) {
	var parser fastjson.Parser
	w := newWriter(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	p := pipeline.Point{Measurement: benchsuite.Measurement, Tags: make([]pipeline.Tag, 2), Fields: make([]pipeline.Field, 0, 2)}
	var status []byte
	for sc.Scan() {
		v, err := parser.ParseBytes(sc.Bytes())
		if err != nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, string(v.GetStringBytes("time")))
		if err != nil {
			continue
		}
		method := v.GetStringBytes("method")
		sv := v.Get("status")
		if method == nil || sv == nil {
			continue
		}
		status = sv.MarshalTo(status[:0])
		p.Tags[0] = pipeline.Tag{Key: "method", Value: string(method)}
		p.Tags[1] = pipeline.Tag{Key: "status", Value: string(status)}
		p.Fields = p.Fields[:0]
		if b := v.Get("bytes"); b != nil {
			if n, err := b.Int64(); err == nil {
				p.Fields = append(p.Fields, pipeline.Field{Key: "bytes", Value: pipeline.IntValue(n)})
			}
		}
		if r := v.Get("request_time"); r != nil {
			if f, err := r.Float64(); err == nil {
				p.Fields = append(p.Fields, pipeline.Field{Key: "request_time", Value: pipeline.FloatValue(f)})
			}
		}
		if len(p.Fields) == 0 {
			continue
		}
		p.Time = t.UnixNano()
		if err := w.emit(&p); err != nil {
			return w.n, err
		}
	}
	if err := sc.Err(); err != nil {
		return w.n, err
	}
	return w.n, w.out.Flush()
}

// Logfmt converts the logfmt lines of the corpus with go-logfmt's decoder
// (the one extract borrows for quoted values) and returns the number of
// points. The decoder stops at the first syntax error, whose line it
// returns: the corpus has none.
func Logfmt(in io.Reader, out io.Writer) (int, error) {
	dec := logfmt.NewDecoderSize(in, maxLine)
	w := newWriter(out)
	p := pipeline.Point{Measurement: benchsuite.Measurement, Tags: make([]pipeline.Tag, 2), Fields: make([]pipeline.Field, 0, 2)}
	for dec.ScanRecord() {
		var (
			t                      time.Time
			method, status         string
			haveTime, haveB, haveR bool
			nbytes                 int64
			reqTime                float64
			err                    error
		)
		for dec.ScanKeyval() {
			v := dec.Value()
			switch string(dec.Key()) {
			case "time":
				t, err = time.Parse(time.RFC3339Nano, string(v))
				haveTime = err == nil
			case "method":
				method = string(v)
			case "status":
				status = string(v)
			case "bytes":
				nbytes, err = strconv.ParseInt(string(v), 10, 64)
				haveB = err == nil
			case "request_time":
				reqTime, err = strconv.ParseFloat(string(v), 64)
				haveR = err == nil
			}
		}
		if dec.Err() != nil {
			break
		}
		if !haveTime || method == "" || status == "" {
			continue
		}
		p.Tags[0] = pipeline.Tag{Key: "method", Value: method}
		p.Tags[1] = pipeline.Tag{Key: "status", Value: status}
		p.Fields = p.Fields[:0]
		if haveB {
			p.Fields = append(p.Fields, pipeline.Field{Key: "bytes", Value: pipeline.IntValue(nbytes)})
		}
		if haveR {
			p.Fields = append(p.Fields, pipeline.Field{Key: "request_time", Value: pipeline.FloatValue(reqTime)})
		}
		if len(p.Fields) == 0 {
			continue
		}
		p.Time = t.UnixNano()
		if err := w.emit(&p); err != nil {
			return w.n, err
		}
	}
	if err := dec.Err(); err != nil {
		return w.n, err
	}
	return w.n, w.out.Flush()
}

// Main is the body of a floor command: it reads the file named by its one
// argument (or stdin) and writes line protocol to stdout.
func Main(floor func(io.Reader, io.Writer) (int, error), args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	in := stdin
	if len(args) > 1 {
		fmt.Fprintln(stderr, "usage: floor [FILE]")
		return 2
	}
	if len(args) == 1 {
		f, err := os.Open(args[0])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer f.Close()
		in = f
	}
	if _, err := floor(in, stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
