package sink

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// pt builds a point with one tag and the given fields, for short tables.
func pt(m, tagKey, tagValue string, fields ...pipeline.Field) pipeline.Point {
	return pipeline.Point{
		Measurement: m,
		Tags:        []pipeline.Tag{{Key: tagKey, Value: tagValue}},
		Fields:      fields,
		Time:        1,
	}
}

func floatF(key string, v float64) pipeline.Field {
	return pipeline.Field{Key: key, Value: pipeline.FloatValue(v)}
}
func intF(key string, v int64) pipeline.Field {
	return pipeline.Field{Key: key, Value: pipeline.IntValue(v)}
}
func uintF(key string, v uint64) pipeline.Field {
	return pipeline.Field{Key: key, Value: pipeline.UintValue(v)}
}
func boolF(key string, v bool) pipeline.Field {
	return pipeline.Field{Key: key, Value: pipeline.BoolValue(v)}
}
func strF(key, v string) pipeline.Field {
	return pipeline.Field{Key: key, Value: pipeline.StringValue(v)}
}

// encodeCases are the escaping cases. Every one must also read back, in the
// lineprotocol decoder here and in InfluxDB in the integration test, as the
// documented replacements say. Each has its own measurement so that field
// types never clash in the database.
var encodeCases = []struct {
	name string
	p    pipeline.Point
	want string
}{
	{
		name: "plain",
		p: pipeline.Point{
			Measurement: "http",
			Tags:        []pipeline.Tag{{Key: "host", Value: "web1"}, {Key: "method", Value: "GET"}},
			Fields:      []pipeline.Field{floatF("took", 0.25), intF("bytes", 512), boolF("ok", true), strF("path", "/index.html")},
			Time:        1700000000123456789,
		},
		want: `http,host=web1,method=GET took=0.25,bytes=512i,ok=true,path="/index.html" 1700000000123456789` + "\n",
	},
	{
		name: "fields keep their order",
		p:    pt("order", "t", "v", intF("z", 1), intF("a", 2), intF("m", 3)),
		want: "order,t=v z=1i,a=2i,m=3i 1\n",
	},
	{
		name: "no tags",
		p:    pipeline.Point{Measurement: "notags", Fields: []pipeline.Field{intF("n", 1)}, Time: 2},
		want: "notags n=1i 2\n",
	},
	{
		name: "measurement escapes comma and space only",
		p:    pt("a b,c=d\"e", "t", "v", intF("n", 1)),
		want: `a\ b\,c=d"e,t=v n=1i 1` + "\n",
	},
	{
		name: "tag key and value escape comma equals and space",
		p:    pt("tagesc", "k ,=", " v,=\"", intF("n", 1)),
		want: `tagesc,k\ \,\==\ v\,\="` + ` n=1i 1` + "\n",
	},
	{
		name: "tag value made only of separators",
		p:    pt("tagsep", "=", ",", intF("n", 1)),
		want: `tagsep,\==\, n=1i 1` + "\n",
	},
	{
		name: "field key escapes comma equals and space",
		p:    pt("fieldesc", "t", "v", intF("f ,=\"", 1)),
		want: `fieldesc,t=v f\ \,\="=1i 1` + "\n",
	},
	{
		name: "string escapes quote and backslash only",
		p:    pt("str", "t", "v", strF("s", `say "hi" \o/ a,b=c d`)),
		want: `str,t=v s="say \"hi\" \\o/ a,b=c d" 1` + "\n",
	},
	{
		name: "string keeps newline carriage return tab and control bytes raw",
		p:    pt("strctl", "t", "v", strF("s", "a\nb\r\nc\td\x00e\x7f")),
		want: "strctl,t=v s=\"a\nb\r\nc\td\x00e\x7f\" 1\n",
	},
	{
		name: "string ending in backslash",
		p:    pt("strbs", "t", "v", strF("s", `C:\`)),
		want: `strbs,t=v s="C:\\" 1` + "\n",
	},
	{
		name: "string with backslash n stays two characters",
		p:    pt("strbsn", "t", "v", strF("s", `a\nb\"c`)),
		want: `strbsn,t=v s="a\\nb\\\"c" 1` + "\n",
	},
	{
		name: "string with invalid UTF-8",
		p:    pt("strutf8", "t", "v", strF("s", "a\xffb\xc3(c\xe2\x82")),
		want: "strutf8,t=v s=\"a\uFFFDb\uFFFD(c\uFFFD\uFFFD\" 1\n",
	},
	{
		name: "empty string",
		p:    pt("strempty", "t", "v", strF("s", "")),
		want: `strempty,t=v s="" 1` + "\n",
	},
	{
		name: "control characters in names",
		p:    pt("ctl\tm\n", "k\x00", "v\r\x1f\x7f", intF("f\x01", 1)),
		want: "ctl\uFFFDm\uFFFD,k\uFFFD=v\uFFFD\uFFFD\uFFFD f\uFFFD=1i 1\n",
	},
	{
		name: "invalid UTF-8 in names",
		p:    pt("bad\xff\xfem", "k\xc3", "v\xe2\x82", intF("f\x80", 1)),
		want: "bad\uFFFD\uFFFDm,k\uFFFD=v\uFFFD\uFFFD f\uFFFD=1i 1\n",
	},
	{
		name: "valid UTF-8 in names is kept",
		p:    pt("température", "città", "Zürich ☃", strF("naïve", "日本")),
		want: "température,città=Zürich\\ ☃ naïve=\"日本\" 1\n",
	},
	{
		name: "U+FFFD in the input is kept",
		p:    pt("repl\uFFFD", "t", "v", intF("n", 1)),
		want: "repl\uFFFD,t=v n=1i 1\n",
	},
	{
		name: "trailing backslash in every name",
		p:    pt(`trail\`, `k\`, `v\`, intF(`f\`, 1)),
		want: "trail\uFFFD,k\uFFFD=v\uFFFD f\uFFFD=1i 1\n",
	},
	{
		name: "backslash before ordinary characters is kept",
		p:    pt(`bs\m\\x`, `k\t\\`+"x", `C:\Program\\Files`, intF(`f\x\\y`, 1)),
		want: `bs\m\\x,k\t\\x=C:\Program\\Files f\x\\y=1i 1` + "\n",
	},
	{
		name: "tag value backslash before comma and equals reads back",
		p:    pt("tagbs", `k\,\=`, `a\,b\=c`, intF("n", 1)),
		want: `tagbs,k\\,\\==a\\,b\\=c n=1i 1` + "\n",
	},
	{
		name: "tag backslash before space is replaced",
		p:    pt("tagbssp", `k\ x`, `a\ b`, intF("n", 1)),
		want: "tagbssp,k\uFFFD\\ x=a\uFFFD\\ b n=1i 1\n",
	},
	{
		// Kept raw, `\\ ` would make InfluxDB's line splitter start the
		// fields early; the `\\=` and the quote after it would then open
		// a string that swallows the newline and the next point.
		name: "tag backslash before space, then backslash equals and a quote",
		p:    pt("tagsplit", "t", `a\ b\=c"d`, intF("n", 1)),
		want: "tagsplit,t=a\uFFFD\\ b\\\\=c\"d n=1i 1\n",
	},
	{
		name: "tag backslash before quote is kept",
		p:    pt("tagbsq", `k\"`, `a\"b`, intF("n", 1)),
		want: `tagbsq,k\"=a\"b n=1i 1` + "\n",
	},
	{
		name: "measurement backslash before comma space equals quote is replaced",
		p:    pt(`m\,a\ b\=c\"d`, "t", "v", intF("n", 1)),
		want: "m\uFFFD\\,a\uFFFD\\ b\uFFFD=c\uFFFD\"d,t=v n=1i 1\n",
	},
	{
		name: "field key backslash before comma space equals quote is replaced",
		p:    pt("fkbs", "t", "v", intF(`f\,a\ b\=c\"d`, 1)),
		want: "fkbs,t=v f\uFFFD\\,a\uFFFD\\ b\uFFFD\\=c\uFFFD\"d=1i 1\n",
	},
	{
		name: "run of backslashes before a comma",
		p:    pt(`runs\\\,m`, "t", `v\\\,w`, intF(`f\\\,g`, 1)),
		want: "runs\\\\\uFFFD\\,m,t=v\\\\\\\\,w f\\\\\uFFFD\\,g=1i 1\n",
	},
	{
		name: "leading hash in measurement is replaced",
		p:    pt("#hash#", "#t", "#v", intF("#f", 1)),
		want: "\uFFFDhash#,#t=#v #f=1i 1\n",
	},
	{
		name: "numbers",
		p: pt("nums", "t", "v",
			intF("imin", math.MinInt64), intF("imax", math.MaxInt64),
			floatF("big", 1e21), floatF("small", 5e-324), floatF("tenth", 0.1), floatF("whole", 100),
			floatF("neg", -2.5), floatF("negzero", math.Copysign(0, -1)), floatF("max", math.MaxFloat64),
			boolF("no", false)),
		want: "nums,t=v imin=-9223372036854775808i,imax=9223372036854775807i,big=1e+21,small=5e-324," +
			"tenth=0.1,whole=100,neg=-2.5,negzero=-0,max=1.7976931348623157e+308,no=false 1\n",
	},
	{
		name: "negative timestamp",
		p:    pipeline.Point{Measurement: "before1970", Fields: []pipeline.Field{intF("n", 1)}, Time: -1500},
		want: "before1970 n=1i -1500\n",
	},
	{
		name: "NaN and Inf fields are left out",
		p:    pt("nan", "t", "v", floatF("a", math.NaN()), intF("n", 1), floatF("b", math.Inf(1)), floatF("c", math.Inf(-1)), floatF("d", 2)),
		want: "nan,t=v n=1i,d=2 1\n",
	},
	{
		name: "point with only NaN writes nothing",
		p:    pt("allnan", "t", "v", floatF("a", math.NaN())),
		want: "",
	},
}

// uintCase is kept apart from encodeCases: stock InfluxDB 1.8 refuses
// unsigned integers, so the integration test checks it separately.
var uintCase = struct {
	p    pipeline.Point
	want string
}{
	p:    pt("uints", "t", "v", uintF("zero", 0), uintF("max", math.MaxUint64)),
	want: "uints,t=v zero=0u,max=18446744073709551615u 1\n",
}

func TestAppendPoint(t *testing.T) {
	for _, tc := range encodeCases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("previous line\n")
			got := AppendPoint(prefix, &tc.p)
			if diff := cmp.Diff("previous line\n"+tc.want, string(got)); diff != "" {
				t.Errorf("AppendPoint (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("uint", func(t *testing.T) {
		if diff := cmp.Diff(uintCase.want, string(AppendPoint(nil, &uintCase.p))); diff != "" {
			t.Errorf("AppendPoint (-want +got):\n%s", diff)
		}
	})
}

func TestAppendPointRoundTrip(t *testing.T) {
	all := []pipeline.Point{uintCase.p}
	for _, tc := range encodeCases {
		all = append(all, tc.p)
	}
	for _, p := range all {
		t.Run(p.Measurement, func(t *testing.T) {
			checkRoundTrip(t, p)
		})
	}
}

// checkRoundTrip encodes p between two plain points, so that a broken line
// boundary shows, and checks that the decoder reads back sanitized(p).
func checkRoundTrip(t *testing.T, p pipeline.Point) {
	t.Helper()
	before := pt("before", "t", "v", intF("n", 1))
	after := pt("after", "t", "v", intF("n", 2))
	var buf []byte
	for _, q := range []*pipeline.Point{&before, &p, &after} {
		buf = AppendPoint(buf, q)
	}
	want := []pipeline.Point{before}
	s, ok := sanitized(p)
	if ok {
		want = append(want, s)
	}
	want = append(want, after)
	if _, altered := appendPoint(nil, &p); altered != (ok && replaces(p)) {
		t.Errorf("appendPoint says altered = %v, want %v (sanitized: %+v)", altered, !altered, s)
	}
	got, err := decode(buf)
	if err != nil {
		t.Fatalf("decode %q: %v", buf, err)
	}
	if diff := cmp.Diff(want, got, cmpValue); diff != "" {
		t.Errorf("decoded %q (-want +got):\n%s", buf, diff)
	}
}

// cmpValue compares pipeline.Values exactly, float bits included.
var cmpValue = cmp.Comparer(func(a, b pipeline.Value) bool { return a == b })

// sanitized is what a decoder must read back from AppendPoint(p): the
// replacements documented on AppendPoint, written independently of the
// encoder (rune by rune). ok is false when no field can be written.
func sanitized(p pipeline.Point) (pipeline.Point, bool) {
	out := pipeline.Point{Measurement: clean(p.Measurement, `, ="`, true), Time: p.Time}
	for _, tag := range p.Tags {
		out.Tags = append(out.Tags, pipeline.Tag{Key: clean(tag.Key, " ", false), Value: clean(tag.Value, " ", false)})
	}
	for _, f := range p.Fields {
		v := f.Value
		switch v.Kind {
		case pipeline.Float:
			if math.IsNaN(v.Float()) || math.IsInf(v.Float(), 0) {
				continue
			}
		case pipeline.String:
			// Converting to []rune turns each invalid byte into U+FFFD.
			v = pipeline.StringValue(string([]rune(v.Str())))
		}
		out.Fields = append(out.Fields, pipeline.Field{Key: clean(f.Key, `, ="`, false), Value: v})
	}
	return out, len(out.Fields) > 0
}

// replaces reports whether sanitized changes a byte of p's names, tag
// values or string fields.
func replaces(p pipeline.Point) bool {
	changed := clean(p.Measurement, `, ="`, true) != p.Measurement
	for _, tag := range p.Tags {
		changed = changed || clean(tag.Key, " ", false) != tag.Key || clean(tag.Value, " ", false) != tag.Value
	}
	for _, f := range p.Fields {
		if v := f.Value; v.Kind == pipeline.Float && (math.IsNaN(v.Float()) || math.IsInf(v.Float(), 0)) {
			continue // left out, not altered
		}
		changed = changed || clean(f.Key, `, ="`, false) != f.Key
		if f.Value.Kind == pipeline.String {
			changed = changed || string([]rune(f.Value.Str())) != f.Value.Str()
		}
	}
	return changed
}

func clean(s, breaksBackslash string, measurement bool) string {
	rs := []rune(s)
	for i, r := range rs {
		last := i == len(rs)-1
		if r < 0x20 || r == 0x7f ||
			(measurement && i == 0 && r == '#') ||
			(r == '\\' && (last || strings.ContainsRune(breaksBackslash, rs[i+1]))) {
			rs[i] = utf8.RuneError
		}
	}
	return string(rs)
}

// decode reads every point of buf with the lineprotocol/v2 decoder.
func decode(buf []byte) ([]pipeline.Point, error) {
	var points []pipeline.Point
	dec := lineprotocol.NewDecoderWithBytes(buf)
	for dec.Next() {
		var p pipeline.Point
		m, err := dec.Measurement()
		if err != nil {
			return nil, err
		}
		p.Measurement = string(m)
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				return nil, err
			}
			if k == nil {
				break
			}
			p.Tags = append(p.Tags, pipeline.Tag{Key: string(k), Value: string(v)})
		}
		for {
			k, v, err := dec.NextField()
			if err != nil {
				return nil, err
			}
			if k == nil {
				break
			}
			f := pipeline.Field{Key: string(k)}
			switch v.Kind() {
			case lineprotocol.Float:
				f.Value = pipeline.FloatValue(v.FloatV())
			case lineprotocol.Int:
				f.Value = pipeline.IntValue(v.IntV())
			case lineprotocol.Uint:
				f.Value = pipeline.UintValue(v.UintV())
			case lineprotocol.Bool:
				f.Value = pipeline.BoolValue(v.BoolV())
			case lineprotocol.String:
				f.Value = pipeline.StringValue(v.StringV())
			default:
				return nil, fmt.Errorf("field %q: unexpected kind %v", k, v.Kind())
			}
			p.Fields = append(p.Fields, f)
		}
		ts, err := dec.TimeBytes()
		if err != nil {
			return nil, err
		}
		if p.Time, err = strconv.ParseInt(string(ts), 10, 64); err != nil {
			return nil, fmt.Errorf("time %q: %v", ts, err)
		}
		points = append(points, p)
	}
	return points, nil
}

func FuzzAppendPoint(f *testing.F) {
	f.Add("cpu", "host", "a", "msg", "hello", int64(1), uint64(2), 1.5, true, int64(1700000000000000000))
	f.Add(`m\,x`, `k\ `, `v\`, `f\"`, "a\"b\\c\nd", int64(-1), uint64(0), math.Copysign(0, -1), false, int64(-1))
	f.Add("#x", "k=", ",v", "f ", "\xff\x00", int64(math.MinInt64), uint64(math.MaxUint64), 5e-324, false, int64(0))
	for _, tc := range encodeCases {
		p := tc.p
		if len(p.Tags) > 0 && len(p.Fields) > 0 {
			f.Add(p.Measurement, p.Tags[0].Key, p.Tags[0].Value, p.Fields[0].Key, p.Measurement, int64(1), uint64(1), 1.0, true, p.Time)
		}
	}
	f.Fuzz(func(t *testing.T, m, tagKey, tagValue, fieldKey, s string, i int64, u uint64, x float64, b bool, ts int64) {
		// extract never makes empty names or tag values; those are not
		// the encoder's to handle.
		if m == "" || tagKey == "" || tagValue == "" || fieldKey == "" {
			return
		}
		p := pipeline.Point{
			Measurement: m,
			Tags:        []pipeline.Tag{{Key: tagKey, Value: tagValue}, {Key: tagValue, Value: tagKey}},
			Fields: []pipeline.Field{
				strF(fieldKey, s), intF(fieldKey+"i", i), uintF("u", u), floatF(s+"f", x), boolF(tagValue, b),
			},
			Time: ts,
		}
		if s == "" {
			p.Fields[3].Key = "f"
		}
		checkRoundTrip(t, p)
	})
}

// benchBatch is a realistic batch: access-log points with a few tags and
// fields, one of them a string that needs escaping.
func benchBatch() []pipeline.Point {
	points := make([]pipeline.Point, 1000)
	for i := range points {
		points[i] = pipeline.Point{
			Measurement: "nginx_access",
			Tags: []pipeline.Tag{
				{Key: "host", Value: "web-" + strconv.Itoa(i%8)},
				{Key: "method", Value: "GET"},
				{Key: "status", Value: strconv.Itoa(200 + i%5)},
			},
			Fields: []pipeline.Field{
				floatF("request_time", float64(i)/1000),
				intF("bytes", int64(1000+i)),
				strF("path", `/api/v1/items?id=`+strconv.Itoa(i)+` "x"`),
			},
			Time: 1700000000000000000 + int64(i)*1000,
		}
	}
	return points
}

// TestBenchBatch checks the benchmark input: it must encode to what the
// decoder reads back, so the benchmark measures real work.
func TestBenchBatch(t *testing.T) {
	points := benchBatch()
	var buf []byte
	for i := range points {
		buf = AppendPoint(buf, &points[i])
	}
	got, err := decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(points, got, cmpValue); diff != "" {
		t.Errorf("bench batch (-want +got):\n%s", diff)
	}
}

func TestAppendPointAllocs(t *testing.T) {
	points := benchBatch()
	buf := make([]byte, 0, 1<<20)
	allocs := testing.AllocsPerRun(10, func() {
		buf = buf[:0]
		for i := range points {
			buf = AppendPoint(buf, &points[i])
		}
	})
	if allocs != 0 {
		t.Errorf("AppendPoint: %v allocs per batch, want 0", allocs)
	}
}

func BenchmarkEncodeBatch(b *testing.B) {
	points := benchBatch()
	var buf []byte
	for i := range points {
		buf = AppendPoint(buf, &points[i])
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for i := range points {
			buf = AppendPoint(buf, &points[i])
		}
	}
}
