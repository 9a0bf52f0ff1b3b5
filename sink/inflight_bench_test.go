package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/influxtest"
	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// benchPoints is how many points one run of a sink benchmark writes.
const benchPoints = 1_000_000

// accessPaths are the path fields of accessPoint, made once.
var accessPaths = func() []string {
	p := make([]string, 1000)
	for i := range p {
		p[i] = "/api/v1/items?id=" + strconv.Itoa(i)
	}
	return p
}()

var accessHosts = []string{"web-0", "web-1", "web-2", "web-3", "web-4", "web-5", "web-6", "web-7"}
var accessStatuses = []string{"200", "201", "204", "404", "500"}

// accessPoint fills p, reusing its tag and field slices, with access-log
// point i: 40 series (host and status), 1 µs apart.
func accessPoint(p *pipeline.Point, i int) {
	p.Measurement = "nginx_access"
	p.Tags = append(p.Tags[:0],
		pipeline.Tag{Key: "host", Value: accessHosts[i%len(accessHosts)]},
		pipeline.Tag{Key: "method", Value: "GET"},
		pipeline.Tag{Key: "status", Value: accessStatuses[i%len(accessStatuses)]},
	)
	p.Fields = append(p.Fields[:0],
		floatF("request_time", float64(i%5000)/1000),
		intF("bytes", int64(1000+i%7919)),
		strF("path", accessPaths[i%len(accessPaths)]),
	)
	p.Time = 1700000000000000000 + int64(i)*1000
}

// feedAccess sends n one-point records to in, as extract would: each in a
// slice the recycler gives back once the sink has encoded it. It closes in.
func feedAccess(in chan<- pipeline.Record, rc *pipeline.Recycler, n int) {
	defer close(in)
	for i := range n {
		p := rc.Get()
		if cap(p) == 0 {
			p = make([]pipeline.Point, 0, 1)
		}
		p = p[:1]
		accessPoint(&p[0], i)
		in <- pipeline.Record{Origin: pipeline.Origin{Path: "access.log", Offset: int64(i + 1)}, Points: p}
	}
}

// runAccess writes benchPoints access-log points to dst through Run, once
// per iteration, and reports points/s.
func runAccess(b *testing.B, cfg Config, dst Destination) {
	b.ReportAllocs()
	for b.Loop() {
		s, err := New(cfg, dst, nil)
		if err != nil {
			b.Fatal(err)
		}
		rc := pipeline.NewRecycler(DefaultBatchSize)
		s.SetRecycler(rc)
		in := make(chan pipeline.Record, 8192) // as cmd's records channel
		go feedAccess(in, rc, benchPoints)
		if err := s.Run(context.Background(), in, nil); err != nil {
			b.Fatal(err)
		}
		if st := s.Stats(); st.PointsWritten != benchPoints {
			b.Fatalf("%d points written, want %d: %+v", st.PointsWritten, benchPoints, st)
		}
	}
	b.ReportMetric(float64(benchPoints)*float64(b.N)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkSinkInfluxDB writes 1,000,000 access-log points (default
// batches of 5,000) into a real InfluxDB 1.8, a fresh one for each
// sub-benchmark, with one and two writes in flight.
//
//	LOGMETRICS_INFLUXD=$PWD/bin/influxd go test ./sink -run '^$' -bench SinkInfluxDB -benchtime 1x -count 5
func BenchmarkSinkInfluxDB(b *testing.B) {
	for _, inFlight := range []int{1, 2} {
		b.Run(fmt.Sprintf("inflight=%d", inFlight), func(b *testing.B) {
			srv := influxtest.Start(b)
			srv.CreateDatabase(b, "db")
			cfg := Config{URL: srv.URL(), Bucket: "db", InFlight: inFlight}
			dst, err := NewInfluxDB(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(dst.Close)
			runAccess(b, cfg, dst)
			// Every point is there (each run writes the same ones).
			series := srv.Query(b, "db", "SELECT count(bytes) FROM nginx_access")
			if len(series) != 1 || len(series[0].Values) != 1 || series[0].Values[0][1] != json.Number(strconv.Itoa(benchPoints)) {
				b.Fatalf("count: %v, want %d", series, benchPoints)
			}
		})
	}
}

// latencyDst takes every write after a fixed delay, like a server whose
// work on a batch takes that long, whatever else is in flight.
type latencyDst struct{ d time.Duration }

func (l latencyDst) WriteBatch(ctx context.Context, _ []byte) error {
	t := time.NewTimer(l.d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return &WriteError{Err: ctx.Err()}
	}
}

// BenchmarkSinkLatency is BenchmarkSinkInfluxDB against a server that
// takes 10 ms per batch: what overlap gains without the noise (and the
// shared CPU) of a real server.
func BenchmarkSinkLatency(b *testing.B) {
	for _, inFlight := range []int{1, 2} {
		b.Run(fmt.Sprintf("inflight=%d", inFlight), func(b *testing.B) {
			runAccess(b, Config{InFlight: inFlight}, latencyDst{10 * time.Millisecond})
		})
	}
}

// TestAccessPoints checks the benchmarks' input: it encodes to what the
// decoder reads back, so the benchmarks measure real work.
func TestAccessPoints(t *testing.T) {
	var buf []byte
	var want []pipeline.Point
	for i := range 100 {
		var p pipeline.Point
		accessPoint(&p, i)
		want = append(want, p)
		buf = AppendPoint(buf, &p)
	}
	got, err := decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpValue); diff != "" {
		t.Errorf("access points (-want +got):\n%s", diff)
	}
}

// TestSinkInFlightInfluxDB writes 20,000 points into InfluxDB 1.8 with two
// batches in flight: every point is there and the last ack is the last
// record's.
func TestSinkInFlightInfluxDB(t *testing.T) {
	const n = 20000
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "db")
	cfg := Config{URL: srv.URL(), Bucket: "db", BatchSize: 500, FlushInterval: time.Hour, InFlight: 2}
	dst, err := NewInfluxDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Close)
	s, err := New(cfg, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan pipeline.Record, 100)
	go feedAccess(in, nil, n)
	acks := make(chan pipeline.Ack, n)
	if err := s.Run(t.Context(), in, acks); err != nil {
		t.Fatal(err)
	}
	var last pipeline.Ack
	count := 0
	for a := range acks {
		if a.Offset <= last.Offset {
			t.Fatalf("ack %v after %v", a, last)
		}
		last = a
		count++
	}
	if count != n/500 || last.Offset != n {
		t.Errorf("%d acks, the last %v; want %d, the last at offset %d", count, last, n/500, n)
	}
	series := srv.Query(t, "db", "SELECT count(bytes), sum(bytes) FROM nginx_access")
	var sum int64
	for i := range n {
		sum += int64(1000 + i%7919)
	}
	want := []any{json.Number("0"), json.Number(strconv.Itoa(n)), json.Number(strconv.FormatInt(sum, 10))}
	if len(series) != 1 || len(series[0].Values) != 1 {
		t.Fatalf("query: %v", series)
	}
	if diff := cmp.Diff(want, series[0].Values[0]); diff != "" {
		t.Errorf("count and sum (-want +got):\n%s", diff)
	}
}
