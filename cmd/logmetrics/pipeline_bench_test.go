package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/loggen"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
)

type discard struct{ bytes int }

func (d *discard) WriteBatch(_ context.Context, b []byte) error {
	d.bytes += len(b)
	return nil
}

// BenchmarkPipeline runs lines through extract and the sink as `run` wires
// them (channels, recycler), into a destination that discards: the cost per
// line of everything but reading the file and the network.
func BenchmarkPipeline(b *testing.B) {
	var buf bytes.Buffer
	if err := loggen.Nginx(&buf, 10000, 1, time.Date(2025, 10, 10, 0, 0, 0, 0, time.UTC)); err != nil {
		b.Fatal(err)
	}
	var lines []pipeline.Line
	for sc := bufio.NewScanner(&buf); sc.Scan(); {
		lines = append(lines, pipeline.Line{Origin: pipeline.Origin{Path: "a.log", Offset: int64(len(lines))}, Source: "nginx", Text: sc.Text()})
	}
	rule := extract.Rule{Name: "nginx", Mode: extract.Regex,
		Pattern: `^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<request_time>[\d.]+)$`,
		Time:    &extract.Time{From: "time", Layout: "02/Jan/2006:15:04:05 -0700"},
		Tags:    []extract.TagSpec{{Key: "method", From: "method"}, {Key: "status", From: "status"}},
		Fields:  []extract.FieldSpec{{Key: "bytes", From: "bytes", Type: extract.TypeInt}, {Key: "request_time", From: "request_time", Type: extract.TypeFloat}}}
	ex, err := extract.Compile(extract.Config{Sources: []extract.Source{{Name: "nginx", Rules: []extract.Rule{rule}}}})
	if err != nil {
		b.Fatal(err)
	}
	dst := &discard{}
	sk, err := sink.New(sink.Config{}, dst, nil)
	if err != nil {
		b.Fatal(err)
	}
	rc := pipeline.NewRecycler(sink.DefaultBatchSize)
	ex.SetRecycler(rc)
	sk.SetRecycler(rc)
	budget := pipeline.NewBudget(config.DefaultMaxPending)
	ex.SetBudget(budget)
	sk.SetBudget(budget)

	in := make(chan pipeline.Line, lineBufferFor(0)) // as run makes it
	recs := make(chan pipeline.Record, min(config.DefaultMaxPending, recordBuffer))
	acks := make(chan pipeline.Ack, 64)
	done := make(chan struct{})
	go func() { ex.Run(context.Background(), in, recs); close(done) }()
	sinkDone := make(chan error, 1)
	go func() { sinkDone <- sk.Run(context.Background(), recs, acks) }()
	go func() {
		for range acks {
		}
	}()
	paths := make([]string, 64)
	for i := range paths {
		paths[i] = fmt.Sprintf("access-%d.log", i)
	}
	b.SetBytes(int64(buf.Cap() / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		line := lines[i%len(lines)]
		// Each pass is another file: the same lines again in one file
		// would all be repeats of their times.
		line.Path = paths[i/len(lines)%len(paths)]
		in <- line
	}
	close(in)
	<-done
	if err := <-sinkDone; err != nil {
		b.Fatal(err)
	}
	if dst.bytes == 0 {
		b.Fatal("nothing reached the destination")
	}
}
