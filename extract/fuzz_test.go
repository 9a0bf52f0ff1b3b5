package extract_test

import (
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/pipeline"
	"github.com/logmetrics/logmetrics/sink"
)

// fuzzRules has a rule of every mode, reading every type of field, and an
// aggregate rule.
var fuzzRules = func() extract.Config {
	fields := func(prefix string) []extract.FieldSpec {
		return []extract.FieldSpec{
			{Key: "i", From: prefix + "i", Type: extract.TypeInt},
			{Key: "u", From: prefix + "u", Type: extract.TypeUint},
			{Key: "f", From: prefix + "f", Type: extract.TypeFloat, Scale: 0.5},
			{Key: "b", From: prefix + "b", Type: extract.TypeBool},
			{Key: "s", From: prefix + "s", Type: extract.TypeString},
			{Key: "d", From: prefix + "d", Type: extract.TypeDuration},
		}
	}
	tags := []extract.TagSpec{{Key: "k", From: "k"}}
	return extract.Config{Sources: []extract.Source{
		{Name: "regex", Tags: []pipeline.Tag{{Key: "host", Value: "h"}}, Rules: []extract.Rule{{Name: "re", Mode: extract.Regex,
			Pattern: `^(?P<t>\S*) (?P<k>\S*) (?P<i>\S*) (?P<u>\S*) (?P<f>\S*) (?P<b>\S*) (?P<d>\S*) (?P<s>.*)$`,
			Time:    &extract.Time{From: "t", Layout: "unix"}, Tags: tags, Fields: fields("")},
			{Name: "agg", Mode: extract.Regex,
				Pattern: `^(?P<t>\S*) (?P<k>\S*) (?P<i>\S*) (?P<u>\S*) (?P<f>\S*) (?P<b>\S*) (?P<d>\S*) (?P<s>.*)$`,
				Time:    &extract.Time{From: "t", Layout: "unix"}, Tags: tags, Fields: fields(""),
				Aggregate: &extract.Aggregate{Window: time.Second, Lateness: time.Second, MaxSeries: 2,
					Stats: []string{"sum", "min", "max", "mean", "p50", "p99.9"}, Buckets: []float64{-1, 0, 1.5}}}}},
		{Name: "json", Rules: []extract.Rule{{Name: "js", Mode: extract.JSON,
			Time: &extract.Time{From: "a.t", Layout: "rfc3339nano"}, Tags: tags, Fields: fields("a.")}}},
		{Name: "logfmt", Rules: []extract.Rule{{Name: "lf", Mode: extract.Logfmt,
			Time: &extract.Time{From: "t", Layout: "syslog"}, Tags: tags, Fields: fields("")}}},
	}}
}()

// FuzzExtract feeds arbitrary lines to rules of every mode: nothing may
// panic, and every point (the windows Flush closes after each input too)
// must encode to line protocol that decodes back to the same number of
// tags and fields, the same numbers and the same time.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"1760104536 GET 1 2 0.5 true 250ms hello world",
		`{"a":{"t":"2025-10-10T13:55:36Z","i":1,"u":2,"f":1.5,"b":true,"s":"x\ny","d":"1s"},"k":"v w"}`,
		`t="Oct 10 13:55:36" k="a,b=c" i=-3 u=4 f=1e3 b=F s="q\"uote" d=2m`,
		"\xff\xfe 1 2 3", "", "{", `k=\ i=1`,
	} {
		f.Add(s)
	}
	ex, err := extract.Compile(fuzzRules)
	if err != nil {
		f.Fatal(err)
	}
	mod := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var rec pipeline.Record
	var buf []byte
	f.Fuzz(func(t *testing.T, text string) {
		for _, src := range []string{"regex", "json", "logfmt"} {
			line := pipeline.Line{Origin: pipeline.Origin{Path: "fuzz.log", Offset: 1}, Source: src, Text: text, ReadAt: mod, ModTime: mod}
			ex.Extract(&line, &rec)
			for i := range rec.Points {
				p := &rec.Points[i]
				buf = sink.AppendPoint(buf[:0], p)
				checkDecodes(t, buf, p)
			}
		}
		var flushed pipeline.Record
		ex.Flush(&flushed)
		for i := range flushed.Points {
			p := &flushed.Points[i]
			buf = sink.AppendPoint(buf[:0], p)
			checkDecodes(t, buf, p)
		}
	})
}

func checkDecodes(t *testing.T, lp []byte, p *pipeline.Point) {
	t.Helper()
	dec := lineprotocol.NewDecoderWithBytes(lp)
	if !dec.Next() {
		t.Fatalf("no point decoded from %q", lp)
	}
	if _, err := dec.Measurement(); err != nil {
		t.Fatalf("%q: %v", lp, err)
	}
	tags := 0
	for {
		k, _, err := dec.NextTag()
		if err != nil {
			t.Fatalf("%q: %v", lp, err)
		}
		if k == nil {
			break
		}
		tags++
	}
	fields := 0
	for {
		k, v, err := dec.NextField()
		if err != nil {
			t.Fatalf("%q: %v", lp, err)
		}
		if k == nil {
			break
		}
		want := p.Fields[fields].Value
		switch want.Kind {
		case pipeline.Int:
			if v.IntV() != want.Int() {
				t.Errorf("%q: field %s = %v, want %d", lp, k, v, want.Int())
			}
		case pipeline.Float:
			if v.FloatV() != want.Float() {
				t.Errorf("%q: field %s = %v, want %v", lp, k, v, want.Float())
			}
		case pipeline.Uint:
			if v.UintV() != want.Uint() {
				t.Errorf("%q: field %s = %v, want %d", lp, k, v, want.Uint())
			}
		case pipeline.Bool:
			if v.BoolV() != want.Bool() {
				t.Errorf("%q: field %s = %v, want %v", lp, k, v, want.Bool())
			}
		}
		fields++
	}
	if tags != len(p.Tags) || fields != len(p.Fields) {
		t.Errorf("%q: decoded %d tags and %d fields, want %d and %d", lp, tags, fields, len(p.Tags), len(p.Fields))
	}
	ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
	if err != nil || ts.UnixNano() != p.Time {
		t.Errorf("%q: time %v (%v), want %d", lp, ts, err, p.Time)
	}
	if dec.Next() {
		t.Errorf("%q: more than one point", lp)
	}
}
