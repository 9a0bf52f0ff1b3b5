package sink

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/internal/influxtest"
	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// wantDump is what Dump must show for points written with AppendPoint:
// the sanitized points, sorted.
func wantDump(points ...pipeline.Point) []string {
	var want []string
	for _, p := range points {
		if s, ok := sanitized(p); ok {
			want = append(want, influxtest.DumpPoint(&s))
		}
	}
	slices.Sort(want)
	return want
}

// TestInfluxDBReadsBackEncoding writes every escaping case to a real
// InfluxDB 1.8 in one batch and reads it back exactly: this is what shows
// the escaping rules hold for the database, line boundaries included.
func TestInfluxDBReadsBackEncoding(t *testing.T) {
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "db")
	var batch []byte
	var points []pipeline.Point
	for _, tc := range encodeCases {
		batch = AppendPoint(batch, &tc.p)
		points = append(points, tc.p)
	}
	srv.Write(t, "db", string(batch))
	if diff := cmp.Diff(wantDump(points...), srv.Dump(t, "db")); diff != "" {
		t.Errorf("Dump (-want +got):\n%s", diff)
	}

	// Stock InfluxDB 1.8 is built without unsigned integers.
	resp, err := http.Post(srv.URL()+"/write?db=db", "text/plain", strings.NewReader(uintCase.want))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "invalid number") {
		t.Errorf("writing an unsigned integer: %s %s, want 400 invalid number", resp.Status, body)
	}
}

// TestSinkToInfluxDB sends records through Run to InfluxDB 1.8 over the v2
// write API (bucket "db/autogen", no token) and reads back exact values:
// integers stay integers, floats floats, nanosecond timestamps intact.
func TestSinkToInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "db")
	cfg := Config{URL: srv.URL(), Bucket: "db/autogen", BatchSize: 2, FlushInterval: time.Hour}
	dst, err := NewInfluxDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Close)
	s, err := New(cfg, dst, nil)
	if err != nil {
		t.Fatal(err)
	}

	access := pipeline.Point{
		Measurement: "http_requests",
		Tags:        []pipeline.Tag{{Key: "host", Value: "web 1"}, {Key: "path", Value: `/a,b=c\d`}},
		Fields: []pipeline.Field{
			floatF("took", 0.125), floatF("whole", 3), intF("bytes", math.MaxInt64), intF("delta", -7),
			boolF("ok", true), boolF("cached", false), strF("agent", "curl/8 \"x\"\n\tnext line \\ done"),
		},
		Time: 1700000000123456789,
	}
	tricky := pipeline.Point{
		Measurement: `app\ log`,
		Tags:        []pipeline.Tag{{Key: "file", Value: `C:\logs\app.log`}, {Key: "level", Value: `warn\ x"y`}},
		Fields:      []pipeline.Field{strF("msg", "bad \xff byte"), floatF("tiny", 5e-324)},
		Time:        -1,
	}
	late := pipeline.Point{
		Measurement: "http_requests",
		Tags:        []pipeline.Tag{{Key: "host", Value: "web 1"}, {Key: "path", Value: `/a,b=c\d`}},
		Fields:      []pipeline.Field{floatF("took", 1e-9), intF("bytes", 0)},
		Time:        1700000000123456790,
	}
	recs := []pipeline.Record{
		record("a.log", 100, access),
		record("a.log", 150), // no match: checkpoint only
		record("b.log", 40, tricky),
		record("a.log", 220, late),
	}
	var points []pipeline.Point
	for _, r := range recs {
		points = append(points, r.Points...)
	}
	for _, tc := range encodeCases {
		recs = append(recs, record("c.log", int64(len(recs)), tc.p))
		points = append(points, tc.p)
	}

	acks, err := runAll(t, s, recs...)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantDump(points...), srv.Dump(t, "db")); diff != "" {
		t.Errorf("Dump (-want +got):\n%s", diff)
	}
	// BatchSize 2: the first batch ends with b.log's point, the second
	// with a.log's last point and the first case; then the cases.
	wantFirst := []pipeline.Ack{ack("a.log", 150), ack("b.log", 40), ack("a.log", 220), ack("c.log", 4)}
	if diff := cmp.Diff(wantFirst, acks[:4]); diff != "" {
		t.Errorf("first acks (-want +got):\n%s", diff)
	}
	if got, want := acks[len(acks)-1], ack("c.log", int64(len(recs)-1)); got != want {
		t.Errorf("last ack = %v, want %v", got, want)
	}
	st := s.Stats()
	// One case has no writable field at all.
	if st.PointsWritten != uint64(len(points)-1) || st.Dropped != (Dropped{Invalid: 1}) || st.WriteErrors != (WriteErrors{}) {
		t.Errorf("stats: %+v", st)
	}
	var altered uint64
	for _, p := range points {
		if _, ok := sanitized(p); ok && replaces(p) {
			altered++
		}
	}
	if altered == 0 || st.PointsAltered != altered {
		t.Errorf("PointsAltered = %d, want %d (the cases with bytes replaced by U+FFFD)", st.PointsAltered, altered)
	}
}

// TestSinkRefusedByInfluxDB: a batch with a line InfluxDB 1.8 cannot parse
// is refused with 400 "dropped=0" (it stores the lines it can parse). The
// sink resends the halves: the good point is written, the bad one set
// aside in the dead-letter file, and both acked.
func TestSinkRefusedByInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "db")
	cfg := Config{URL: srv.URL(), Bucket: "db", FlushInterval: time.Hour}
	dst, err := NewInfluxDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Close)
	var logs bytes.Buffer
	path := filepath.Join(t.TempDir(), "dead-letters.lp")
	s := newDeadSink(t, dst, path, 0, slog.New(slog.NewTextHandler(&logs, nil)))
	good := point("good", 1)
	acks, err := runAll(t, s, record("f", 10, good), record("f", 20, uintCase.p))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]pipeline.Ack{ack("f", 20)}, acks); diff != "" {
		t.Errorf("acks (-want +got):\n%s", diff)
	}
	want := Stats{PointsWritten: 1, BatchesWritten: 1, WriteErrors: WriteErrors{Refused: 2}, DeadLettered: DeadLettered{Refused: 1}}
	if diff := cmp.Diff(want, s.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	wantFile := `# time=2025-03-10T12:00:00.000000005Z reason=refused status=400 file="f" offset=20 error="unable to parse '` +
		strings.TrimSuffix(uintCase.want, "\n") + `': invalid number"` + "\n" + uintCase.want
	if diff := cmp.Diff(wantFile, readFile(t, path)); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
	for _, w := range []string{"points set aside in the dead-letter file", "status=400", "invalid number"} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, logs.String())
		}
	}
	if diff := cmp.Diff(wantDump(good), srv.Dump(t, "db")); diff != "" {
		t.Errorf("Dump (-want +got):\n%s", diff)
	}
}

// TestSinkPartialWriteInfluxDB: a batch with a point whose field type
// conflicts with an earlier write is a partial write for InfluxDB 1.8
// ("dropped=1"). Exactly that point lands in the dead-letter file, with its
// file and offset; the others are stored once; and the dead-letter file,
// written as it is to another database, stores exactly the refused point.
func TestSinkPartialWriteInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "db")
	earlier := point("m", 1) // v is an integer
	srv.Write(t, "db", string(AppendPoint(nil, &earlier)))

	cfg := Config{URL: srv.URL(), Bucket: "db", FlushInterval: time.Hour}
	dst, err := NewInfluxDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Close)
	path := filepath.Join(t.TempDir(), "dead-letters.lp")
	s := newDeadSink(t, dst, path, 0, nil)
	conflict := pipeline.Point{Measurement: "m", Fields: []pipeline.Field{floatF("v", 2.5)}, Time: 2}
	good := []pipeline.Point{point("a", 3), point("m", 4), point("b", 5)}
	acks, err := runAll(t, s,
		record("f", 10, good[0]), record("f", 20, conflict), record("f", 30, good[1], good[2]))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]pipeline.Ack{ack("f", 30)}, acks); diff != "" {
		t.Errorf("acks (-want +got):\n%s", diff)
	}
	// all 4 (dropped=1) -> a+conflict (dropped=1) -> a, conflict; m+b.
	want := Stats{PointsWritten: 3, BatchesWritten: 2, WriteErrors: WriteErrors{Refused: 3}, DeadLettered: DeadLettered{Refused: 1}}
	if diff := cmp.Diff(want, s.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantDump(append(good, earlier)...), srv.Dump(t, "db")); diff != "" {
		t.Errorf("Dump (-want +got):\n%s", diff)
	}
	dead := readFile(t, path)
	wantFile := `# time=2025-03-10T12:00:00.000000005Z reason=refused status=400 file="f" offset=20 ` +
		`error="partial write: field type conflict: input field \"v\" on measurement \"m\" is type float, already exists as type integer dropped=1"` +
		"\n" + lines(conflict)
	if diff := cmp.Diff(wantFile, dead); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
	srv.CreateDatabase(t, "replay")
	srv.Write(t, "replay", dead)
	if diff := cmp.Diff(wantDump(conflict), srv.Dump(t, "replay")); diff != "" {
		t.Errorf("replayed dead letters (-want +got):\n%s", diff)
	}
}

// TestSinkIsolatesInfluxDB: batches of 5000 points against InfluxDB 1.8,
// with field type conflicts among them. Exactly the conflicting points are
// set aside, every other one is stored, and the requests stay few: a
// request InfluxDB refuses whole (dropped=N for N points) is not split.
func TestSinkIsolatesInfluxDB(t *testing.T) {
	const n = 5000
	tests := []struct {
		name         string
		bad          func(i int) bool
		wantRequests uint64 // refused and written
	}{
		{"every point refused", func(int) bool { return true }, 1},
		{"one point refused", func(i int) bool { return i == 1234 }, 1 + 2*13},
		{"one in a hundred refused", func(i int) bool { return i%100 == 7 }, 0}, // measured below
	}
	srv := influxtest.Start(t)
	for k, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := fmt.Sprintf("db%d", k)
			srv.CreateDatabase(t, db)
			srv.Write(t, db, "m v=1i 1\n") // v is an integer
			cfg := Config{URL: srv.URL(), Bucket: db, BatchSize: n, FlushInterval: time.Hour}
			dst, err := NewInfluxDB(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(dst.Close)
			path := filepath.Join(t.TempDir(), "dead-letters.lp")
			s := newDeadSink(t, dst, path, 0, nil)
			s.cfg.BatchSize = n
			var recs []pipeline.Record
			var good, bad int
			for i := range n {
				p := point("m", int64(10+i))
				if tc.bad(i) {
					p.Fields = []pipeline.Field{floatF("v", 0.5)}
					bad++
				} else {
					good++
				}
				recs = append(recs, record("f", int64(i+1), p))
			}
			start := time.Now()
			if _, err := runAll(t, s, recs...); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			st := s.Stats()
			requests := st.WriteErrors.Refused + st.BatchesWritten
			t.Logf("%d points, %d refused: %d requests, %v", n, bad, requests, took)
			if st.PointsWritten != uint64(good) || st.DeadLettered.Refused != uint64(bad) {
				t.Errorf("written %d, dead-lettered %d; want %d and %d", st.PointsWritten, st.DeadLettered.Refused, good, bad)
			}
			if tc.wantRequests != 0 && requests != tc.wantRequests {
				t.Errorf("%d requests, want %d", requests, tc.wantRequests)
			}
			if got := strings.Count(readFile(t, path), "reason=refused"); got != bad {
				t.Errorf("%d dead letters, want %d", got, bad)
			}
			if got := len(srv.Dump(t, db)); got != good+1 {
				t.Errorf("%d points stored, want %d", got, good+1)
			}
		})
	}
}

// proxy forwards TCP connections to target until down, which closes its
// listener and cuts the connections it carries; up listens again on the
// same address.
type proxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Skipf("the proxy's port was taken meanwhile: %v", err)
	}
	p.serve(ln)
}

// TestSinkOutageInfluxDB: InfluxDB 1.8 becomes unreachable (a proxy in
// front of it closes) for 4 s while a point waits; once it is reachable
// again the point is written within about a second (the backoff then
// running lasts 4 s), exactly once.
func TestSinkOutageInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "db")
	px := startProxy(t, strings.TrimPrefix(srv.URL(), "http://"))
	cfg := Config{URL: "http://" + px.addr, Bucket: "db", BatchSize: 1, FlushInterval: time.Hour}
	dst, err := NewInfluxDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Close)
	s, err := New(cfg, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.jitter = func(time.Duration) time.Duration { return 0 } // writes at 0, 0.5, 1.5, 3.5, 7.5 s
	in := make(chan pipeline.Record)
	errc := make(chan error, 1)
	go func() { errc <- s.Run(t.Context(), in, nil) }()
	waitFor := func(what string, d time.Duration, cond func() bool) time.Time {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within %v: %+v", what, d, s.Stats())
			}
			time.Sleep(10 * time.Millisecond) // polling a counter, not synchronising
		}
		return time.Now()
	}
	points := []pipeline.Point{point("m", 1), point("m", 2)}
	in <- record("f", 1, points[0])
	waitFor("first write", 10*time.Second, func() bool { return s.Stats().PointsWritten == 1 })
	px.down()
	in <- record("f", 2, points[1])
	waitFor("failed write", 10*time.Second, func() bool { return s.Stats().WriteErrors.Network > 0 })
	time.Sleep(4 * time.Second) // the outage: inside the 4 s backoff
	px.up()
	up := time.Now()
	got := waitFor("write after the outage", 10*time.Second, func() bool { return s.Stats().PointsWritten == 2 }).Sub(up)
	t.Logf("written %v after InfluxDB was reachable again", got)
	if got > 1500*time.Millisecond {
		t.Errorf("written %v after InfluxDB was reachable again, want within 1.5 s", got)
	}
	close(in)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantDump(points...), srv.Dump(t, "db")); diff != "" {
		t.Errorf("Dump (-want +got):\n%s", diff)
	}
}
