package main

// Helpers of the end-to-end proofs (issue 6, "Tests that prove it"):
// a writer that appends numbered lines and rotates its log the ways
// applications and logrotate do, keeping a copy of every file's own
// lines; the clean pass those copies give; exact checks of what InfluxDB
// holds; a TCP proxy; and the knobs that let `make soak` run the same tests
// longer.

import (
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/logmetrics/logmetrics/extract"
	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/influxtest"
	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// soaking reports whether `make soak` runs the tests (LOGMETRICS_SOAK=1):
// more lines, more rounds, longer faults.
func soaking() bool { return os.Getenv("LOGMETRICS_SOAK") == "1" }

// scaled is fast in `make test` and long under `make soak`.
func scaled[T any](fast, long T) T {
	if soaking() {
		return long
	}
	return fast
}

// e2eRules is the rules file of the end-to-end tests: logfmt lines
// "t=SECONDS k=SERIES s=SEGMENT n=NUMBER" with the time from t, tags k and
// s, and the integer field n. A line with kind=f makes n a float in the
// same measurement instead: a field type conflict that InfluxDB refuses.
// paths is the HCL list of the source's globs; influx adds attributes to
// the influxdb block (batch_size 200 and flush_interval "50ms" unless it
// sets them).
func e2eRules(url, db, paths, influx string) string {
	if !strings.Contains(influx, "batch_size") {
		influx += "  batch_size = 200\n"
	}
	if !strings.Contains(influx, "flush_interval") {
		influx += "  flush_interval = \"50ms\"\n"
	}
	return `
agent {
  state_dir = "state"
  listen    = ""
}
influxdb {
  url            = "` + url + `"
  bucket         = "` + db + `/autogen"
` + influx + `
}
source "app" {
  paths    = ` + paths + `
  start_at = "beginning"
  rule "r" {
    logfmt = true
    require "kind" {
      not_equals = "f"
    }
    time {
      from   = "t"
      layout = "unix"
    }
    tags   = ["k", "s"]
    fields = { n = "int" }
  }
  rule "rf" {
    logfmt      = true
    measurement = "r"
    require "kind" {
      equals = "f"
    }
    time {
      from   = "t"
      layout = "unix"
    }
    tags   = ["k", "s"]
    fields = { n = "float" }
  }
}
`
}

// linesPerSecond of log time: busy seconds, so the collision separator
// nudges most points, and a restart or a rotation inside a second would
// show as a wrong timestamp.
const linesPerSecond = 40

// logWriter is the application: it appends numbered lines to its log and
// rotates it. Every file the lines go to (every identity the agent
// sees, a truncated file's new content included) is a segment with its
// own tag s, so two files never hold points of one series at one time
// (the README: add a tag that tells the files apart), and a copy of each
// segment's bytes is kept outside the globs for the clean pass.
type logWriter struct {
	t       *testing.T
	path    string // the log
	shadows string // folder of the segment copies

	mu       sync.Mutex // the writer's goroutine against the test's checks
	f        *os.File
	seg      int      // the segment f writes
	shadow   *os.File // its copy
	segments []string // paths of the segment copies, in order
	n        int      // lines written so far
	poison   int      // every poison-th line has kind=f, 0 for none
	poisoned int      // lines written with kind=f
}

func newLogWriter(t *testing.T, path, shadows string) *logWriter {
	t.Helper()
	if err := os.MkdirAll(shadows, 0o755); err != nil {
		t.Fatal(err)
	}
	w := &logWriter{t: t, path: path, shadows: shadows, seg: -1}
	w.reopen()
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.f.Close()
		w.shadow.Close()
	})
	return w
}

// reopen makes path a new file, opened for appending, as a new segment.
func (w *logWriter) reopen() {
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	if w.f != nil {
		w.f.Close()
	}
	w.f = f
	w.newSegment()
}

// newSegment starts the copy of a new segment.
func (w *logWriter) newSegment() {
	w.seg++
	name := filepath.Join(w.shadows, fmt.Sprintf("seg-%04d.log", w.seg))
	s, err := os.Create(name)
	if err != nil {
		w.t.Fatal(err)
	}
	if w.shadow != nil {
		w.shadow.Close()
	}
	w.shadow = s
	w.segments = append(w.segments, name)
}

// line is line n of segment seg.
func (w *logWriter) line(n, seg int) string {
	kind := ""
	if w.poison > 0 && n%w.poison == w.poison/2 {
		kind = " kind=f"
		w.poisoned++
	}
	return fmt.Sprintf("t=%d k=%c s=%d n=%d%s\n", 1760000000+n/linesPerSecond, 'a'+rune(n%3), seg, n, kind)
}

// write appends count lines at about rate lines a second (in bursts of 10
// lines, more above 1,000 lines a second so that a pause is 10 ms or
// more), every 97th in two pieces. It holds the lock per burst, so a
// rotation falls between lines.
func (w *logWriter) write(count, rate int) {
	burst := max(10, rate/100)
	pause := time.Duration(burst) * time.Second / time.Duration(rate)
	for done := 0; done < count; {
		w.mu.Lock()
		for i := 0; i < burst && done < count; i++ {
			w.writeLine()
			done++
		}
		w.mu.Unlock()
		time.Sleep(pause)
	}
}

// writeFor appends lines at rate for d: an application writing on to its
// renamed log before it reopens.
func (w *logWriter) writeFor(d time.Duration, rate int) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		w.write(10, rate)
	}
}

// writeLine appends the next line. Call with mu held.
func (w *logWriter) writeLine() {
	l := w.line(w.n, w.seg)
	if w.n%97 == 0 { // a line in two writes: the reader must wait for its end
		half := len(l) / 2
		w.put(l[:half])
		l = l[half:]
	}
	w.put(l)
	w.n++
}

func (w *logWriter) put(s string) {
	if _, err := w.f.WriteString(s); err != nil {
		w.t.Error(err)
	}
	if _, err := w.shadow.WriteString(s); err != nil {
		w.t.Error(err)
	}
}

// written is how many lines were written so far.
func (w *logWriter) written() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// renameCreate is logrotate's default: the log is renamed to to and a new
// one created; the application reopens its log after late, writing to the
// renamed file until then.
func (w *logWriter) renameCreate(to string, late time.Duration, rate int) {
	w.mu.Lock()
	if err := os.Rename(w.path, to); err != nil {
		w.t.Fatal(err)
	}
	if late == 0 {
		w.reopen()
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	w.writeFor(late, rate)
	w.mu.Lock()
	w.reopen()
	w.mu.Unlock()
}

// copyTruncate is logrotate's copytruncate: the log is copied to to and
// truncated; the application, appending, goes on at offset 0. The lines
// after it are a new segment (a new identity to the agent).
func (w *logWriter) copyTruncate(to string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	src, err := os.Open(w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	dst, err := os.Create(to)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		w.t.Fatal(err)
	}
	src.Close()
	if err := dst.Close(); err != nil {
		w.t.Fatal(err)
	}
	if err := w.f.Truncate(0); err != nil {
		w.t.Fatal(err)
	}
	w.newSegment()
}

// deleteCreate removes the log and the application creates it again at
// once.
func (w *logWriter) deleteCreate() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := os.Remove(w.path); err != nil {
		w.t.Fatal(err)
	}
	w.reopen()
}

// gzipFile compresses name to name+".gz" and removes name, as logrotate's
// compress does.
func gzipFile(t *testing.T, name string) {
	t.Helper()
	in, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(name + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
}

// cleanPass is what InfluxDB must hold: the points of the rules over every
// segment's lines, each segment its own unit for the collision separator
// as each file is in run. Points InfluxDB refuses are in it too.
func (w *logWriter) cleanPass(t *testing.T, rulesFile string) []string {
	t.Helper()
	cfg, _, diags := config.Load(rulesFile)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ex, err := extract.Compile(cfg.Extract)
	if err != nil {
		t.Fatal(err)
	}
	var dump []string
	d := dryRun{ex: ex, now: time.Now(), emit: func(p *pipeline.Point) error {
		dump = append(dump, influxtest.DumpPoint(p))
		return nil
	}}
	w.mu.Lock()
	if err := w.shadow.Sync(); err != nil {
		t.Fatal(err)
	}
	segments := slices.Clone(w.segments)
	w.mu.Unlock()
	for _, name := range segments {
		if err := d.file(name, []string{"app"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(dump)
	return dump
}

// stored is how many points measurement r of db holds.
func stored(t *testing.T, srv *influxtest.Server, db string) int {
	t.Helper()
	res := srv.Query(t, db, "SELECT count(n) FROM r")
	if len(res) == 0 {
		return 0
	}
	n, err := res[0].Values[0][1].(interface{ Int64() (int64, error) }).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// waitStored polls until db holds want points of r plus dead letters
// (deadLetters counts them; nil for none) or within passes, and returns
// how long that took.
func waitStored(t *testing.T, srv *influxtest.Server, db string, want int, within time.Duration, deadLetters func() int) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for {
		got := stored(t, srv, db)
		if deadLetters != nil {
			got += deadLetters()
		}
		if got >= want || time.Now().After(deadline) {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond) // polling InfluxDB, not synchronising
	}
}

var valueN = regexp.MustCompile(` n=(\d+)i? `)

// checkExact compares what db holds, plus the dead letters given in Dump
// form, with the clean pass: every line's point once, with its timestamp.
// It first names the lost and duplicated line numbers, which say more
// than a long diff.
func checkExact(t *testing.T, srv *influxtest.Server, db string, want, deadLetters []string, lines int) {
	t.Helper()
	got := append(srv.Dump(t, db), deadLetters...)
	slices.Sort(got)
	seen := make(map[int]int, len(got))
	for _, p := range got {
		m := valueN.FindStringSubmatch(p)
		if m == nil {
			t.Errorf("point without n: %s", p)
			continue
		}
		n, _ := strconv.Atoi(m[1])
		seen[n]++
	}
	lost, twice := lostAndTwice(seen, lines)
	t.Logf("%d lines written; %d points stored, %d dead letters; %d lost, %d duplicated", lines, len(got)-len(deadLetters), len(deadLetters), len(lost), len(twice))
	if len(lost) > 0 {
		t.Errorf("%d of %d lines lost: %s", len(lost), lines, runs(lost))
	}
	if len(twice) > 0 {
		t.Errorf("%d lines stored more than once: %s", len(twice), runs(twice))
	}
	if len(want) != lines {
		t.Errorf("the clean pass gives %d points for %d lines", len(want), lines)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("InfluxDB and dead letters (-clean pass +got):\n%s", firstLines(diff, 40))
	}
}

// lostAndTwice returns, in order, the line numbers below lines that seen
// (points per line number) counts no time and more than once.
func lostAndTwice(seen map[int]int, lines int) (lost, twice []int) {
	for n := range lines {
		switch seen[n] {
		case 0:
			lost = append(lost, n)
		case 1:
		default:
			twice = append(twice, n)
		}
	}
	return lost, twice
}

// runs writes sorted numbers as ranges: "3-7 12 40-41".
func runs(ns []int) string {
	var b strings.Builder
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if b.Len() > 400 {
			b.WriteString("...")
			break
		}
		if i == j {
			fmt.Fprint(&b, ns[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", ns[i], ns[j])
		}
		i = j + 1
	}
	return b.String()
}

// tcpProxy forwards loopback TCP connections to a target that can change
// (a restarted InfluxDB on another port) and can be cut off: while down,
// new connections are closed at once and the ones it carries are cut.
type tcpProxy struct {
	addr string
	ln   net.Listener

	mu     sync.Mutex
	target string
	isDown bool
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func startTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{addr: ln.Addr().String(), ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.down()
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down, target := p.isDown, p.target
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		p.wg.Go(func() { pipe(s, c) })
		p.wg.Go(func() { pipe(c, s) })
	}
}

// down refuses new connections and cuts the open ones.
func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isDown = true
	for c := range p.conns {
		c.Close()
	}
}

// up forwards again, to target.
func (p *tcpProxy) up(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isDown, p.target = false, target
}

// rssKiB reads VmRSS of process pid from /proc, in KiB.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read RSS: %v", err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kib, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kib
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// deadLetters reads the dead-letter files of state (the current one and
// .1) and returns their points in Dump form, and the comment lines.
func deadLetters(t *testing.T, state string) (points, comments []string) {
	t.Helper()
	for _, name := range []string{"dead-letters.lp.1", "dead-letters.lp"} {
		b, err := os.ReadFile(filepath.Join(state, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for l := range strings.SplitSeq(strings.TrimSuffix(string(b), "\n"), "\n") {
			switch {
			case l == "":
			case strings.HasPrefix(l, "#"):
				comments = append(comments, l)
			default:
				points = append(points, l)
			}
		}
	}
	return points, comments
}
