//go:build unix

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// rrPerSecond is how many lines of all files share a second of log time:
// busy seconds, so that most points are nudged by the collision separator
// and a line read twice from another place, or a file resumed without the
// separator's state, shows as a duplicated or an overwritten point.
const rrPerSecond = 40

// rrRules is the rules file at step 0 to 4 of TestReloadsThenRestartExact:
// source "a" follows a.log with rule ra; (1) adds rule ra2 to it; (2) adds
// c.log to its paths; (3) removes source "b" (b.log and d.log, rule rb);
// (4) adds it back as it was. Lines are "t=SECONDS f=FILE s=SEGMENT n=N",
// tagged by file and segment (a rotation starts a new segment): the
// README's advice for files that share series.
func rrRules(url, db string, step int) string {
	rule := func(name string) string {
		return `
  rule "` + name + `" {
    logfmt = true
    time {
      from   = "t"
      layout = "unix"
    }
    tags   = ["f", "s"]
    fields = { n = "int" }
  }`
	}
	aPaths, aRules := `["a.log"]`, rule("ra")
	if step >= 1 {
		aRules += rule("ra2")
	}
	if step >= 2 {
		aPaths = `["a.log", "c.log"]`
	}
	b := `
source "b" {
  paths    = ["b.log", "d.log"]
  start_at = "beginning"` + rule("rb") + `
}`
	if step == 3 {
		b = ""
	}
	return `
agent {
  state_dir = "state"
  listen    = ""
}
influxdb {
  url            = "` + url + `"
  bucket         = "` + db + `/autogen"
  batch_size     = 200
  flush_interval = "50ms"
}
source "a" {
  paths    = ` + aPaths + `
  start_at = "beginning"` + aRules + `
}
` + b + "\n"
}

// rrWriter appends numbered lines, round robin, to a.log, b.log, c.log
// and d.log of its folder, at a steady rate, and rotates them on demand.
type rrWriter struct {
	t   *testing.T
	dir string

	mu    sync.Mutex
	files map[string]*os.File // by stream: "a" writes a.log...
	seg   map[string]int      // by stream: its rotations so far
	of    []string            // of[n] is the stream line n went to
}

var rrStreams = []string{"a", "b", "c", "d"}

func newRRWriter(t *testing.T, dir string) *rrWriter {
	w := &rrWriter{t: t, dir: dir, files: map[string]*os.File{}, seg: map[string]int{}}
	for _, s := range rrStreams {
		w.open(s)
	}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, f := range w.files {
			f.Close()
		}
	})
	return w
}

func (w *rrWriter) open(stream string) {
	f, err := os.OpenFile(filepath.Join(w.dir, stream+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	if old := w.files[stream]; old != nil {
		old.Close()
	}
	w.files[stream] = f
}

// run writes 2 lines every 2 ms (about 1,000 a second) until stop is
// closed.
func (w *rrWriter) run(stop <-chan struct{}) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		w.mu.Lock()
		for range 2 {
			n := len(w.of)
			s := rrStreams[n%len(rrStreams)]
			line := fmt.Sprintf("t=%d f=%s s=%d n=%d\n", 1760000000+n/rrPerSecond, s, w.seg[s], n)
			if _, err := w.files[s].WriteString(line); err != nil {
				w.t.Error(err)
			}
			w.of = append(w.of, s)
		}
		w.mu.Unlock()
	}
}

// rotate renames stream's file to to and creates it anew (logrotate's
// rename and create, the application reopening at once).
func (w *rrWriter) rotate(stream, to string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := os.Rename(filepath.Join(w.dir, stream+".log"), filepath.Join(w.dir, to)); err != nil {
		w.t.Fatal(err)
	}
	w.seg[stream]++
	w.open(stream)
}

// written is how many lines were written so far.
func (w *rrWriter) written() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.of)
}

// lines returns the line numbers written to each stream so far, ascending.
func (w *rrWriter) lines() map[string][]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]int{}
	for n, s := range w.of {
		out[s] = append(out[s], n)
	}
	return out
}

// TestReloadsThenRestartExact: a writer appends numbered lines to a.log
// (source a) and b.log and d.log (source b), and to c.log, which no source
// follows at first, while the agent gets four reloads: (1) add rule ra2
// to a, (2) add c.log to a's paths, (3) remove source b, (4) add it back.
// a.log is rotated (rename and create) between (1) and (2), b.log while b
// is removed. The agent is stopped (SIGTERM) after (4), lines are written
// while it is down, and it starts again with the last rules. Afterwards
// InfluxDB holds every line exactly once for each rule that covered it:
// ra and rb every line of their sources' files (c.log from its start; d.log's
// lines written while b was removed read after (4) in the same run, its
// position kept; the rest of the rotated b.log, which no name finds after
// (4), at the restart), ra2 every a.log line from some line after those
// delivered before (1) and no later than the first written after it
// applied, and every c.log line. And the two runs together read as many
// lines as were written: none read twice (a line read again at the same
// place gives the same point, which InfluxDB would hide).
func TestReloadsThenRestartExact(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	const db = "reloads"
	srv.CreateDatabase(t, db)
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.hcl")
	step := func(n int) { writeFile(t, rules, rrRules(srv.URL(), db, n)) }
	step(0)
	w := newRRWriter(t, dir)
	stopWriting := make(chan struct{})
	var writing sync.WaitGroup
	writing.Go(func() { w.run(stopWriting) })
	defer func() {
		select {
		case <-stopWriting:
		default:
			close(stopWriting)
		}
		writing.Wait()
	}()

	// until waits for cond, polling InfluxDB.
	until := func(a *agent, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 10 s: %s; stderr:\n%s", what, a.logged())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// caughtUp waits until measurement m holds every line of stream
	// written so far.
	caughtUp := func(a *agent, m, stream string) {
		t.Helper()
		want := len(w.lines()[stream])
		until(a, fmt.Sprintf("%s holds the %d lines of %s.log", m, want, stream), func() bool {
			return rrCount(t, srv, db, m, stream) >= want
		})
	}
	hangup := func(a *agent, n int, rules int) {
		t.Helper()
		step(rules)
		if err := a.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		a.waitStderrN(`msg="reload: the new rules apply from the next line"`, n)
	}

	const limit = 40 * time.Second
	a := startAgentFor(t, limit, dir, "run", "-config", "rules.hcl")
	a.waitStderr(`msg="following files" source=b`)
	// Not at once: a reload before every extraction worker has matched
	// a chunk races with the worker's start (newWorker reads e.gen and
	// e.maxNames, which swap writes, without a lock); see the report of
	// this test's commit.
	until(a, "300 a.log lines in ra", func() bool { return rrCount(t, srv, db, "ra", "a") >= 300 })

	// (1) Add rule ra2: the a.log lines delivered before are not its.
	beforeRA2 := rrMax(t, srv, db, "ra", "a")
	hangup(a, 1, 1)
	appliedRA2 := w.written() // every a.log line from here is its
	caughtUp(a, "ra2", "a")   // some a.log lines written after (1) at least

	// Rotate a.log between two reloads.
	w.rotate("a", "a.log.1")
	caughtUp(a, "ra", "a")

	// (2) Add c.log to a's paths: read from its beginning.
	hangup(a, 2, 2)
	caughtUp(a, "ra", "c")

	// (3) Remove b; rotate b.log while it is removed.
	hangup(a, 3, 3)
	a.waitStderr(`msg="source removed by reload`)
	time.Sleep(300 * time.Millisecond) // lines that only b.log.1 holds
	w.rotate("b", "b.log.1")
	time.Sleep(300 * time.Millisecond) // lines of the new b.log

	// (4) Add b back: d.log resumes where it stopped, in this run.
	hangup(a, 4, 4)
	caughtUp(a, "rb", "d")
	caughtUp(a, "ra", "c")
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("run after SIGTERM: %v\n%s", err, a.logged())
	}
	read1 := rrRead(t, a)

	// Written while the agent is down.
	downFrom := w.written()
	until(a, "lines written while the agent is down", func() bool { return w.written() >= downFrom+500 })
	a2 := startAgentFor(t, limit, dir, "run", "-config", "rules.hcl")
	a2.waitStderr(`msg="following files" source=b`)
	time.Sleep(500 * time.Millisecond) // lines written while it runs again
	close(stopWriting)
	writing.Wait()
	byStream := w.lines()
	for m, streams := range map[string][]string{"ra": {"a", "c"}, "rb": {"b", "d"}} {
		for _, s := range streams {
			caughtUp(a2, m, s)
		}
	}
	if _, err := a2.stop(syscall.SIGTERM); err != nil {
		t.Errorf("second run after SIGTERM: %v\n%s", err, a2.logged())
	}
	read2 := rrRead(t, a2)

	// What InfluxDB holds: points per measurement, stream and line.
	point := regexp.MustCompile(`^(\w+),f=(\w),s=\d+ n=(\d+)i \d+$`)
	seen := map[string]map[string]map[int]int{}
	for _, p := range srv.Dump(t, db) {
		m := point.FindStringSubmatch(p)
		if m == nil {
			t.Errorf("unexpected point %q", p)
			continue
		}
		if seen[m[1]] == nil {
			seen[m[1]] = map[string]map[int]int{}
		}
		if seen[m[1]][m[2]] == nil {
			seen[m[1]][m[2]] = map[int]int{}
		}
		n, _ := strconv.Atoi(m[3])
		seen[m[1]][m[2]][n]++
	}
	// exact checks that measurement m holds each of ns once, and no
	// other line of stream.
	exact := func(m, stream string, ns []int) {
		t.Helper()
		got := seen[m][stream]
		var lost, twice []int
		for _, n := range ns {
			switch got[n] {
			case 0:
				lost = append(lost, n)
			case 1:
			default:
				twice = append(twice, n)
			}
		}
		var extra []int
		for n := range got {
			if !slices.Contains(ns, n) {
				extra = append(extra, n)
			}
		}
		slices.Sort(extra)
		if len(lost)+len(twice)+len(extra) > 0 {
			t.Errorf("%s, %s.log: %d lines; %d lost: %s; %d twice: %s; %d not its: %s", m, stream, len(ns),
				len(lost), runs(lost), len(twice), runs(twice), len(extra), runs(extra))
		}
	}
	exact("ra", "a", byStream["a"])
	exact("ra", "c", byStream["c"])
	exact("rb", "b", byStream["b"])
	exact("rb", "d", byStream["d"])
	exact("ra2", "c", byStream["c"])
	// ra2 on a.log: every line from the first it took.
	first := -1
	for n := range seen["ra2"]["a"] {
		if first < 0 || n < first {
			first = n
		}
	}
	from := slices.IndexFunc(byStream["a"], func(n int) bool { return n >= first })
	exact("ra2", "a", byStream["a"][max(from, 0):])
	if first <= beforeRA2 || first >= appliedRA2+len(rrStreams) {
		t.Errorf("ra2 from a.log line %d, want after %d (delivered before the reload) and before %d (written after it applied)", first, beforeRA2, appliedRA2+len(rrStreams))
	}
	for _, m := range []string{"ra", "ra2", "rb"} {
		for s := range seen[m] {
			if !slices.Contains(map[string][]string{"ra": {"a", "c"}, "ra2": {"a", "c"}, "rb": {"b", "d"}}[m], s) {
				t.Errorf("%s holds lines of %s.log", m, s)
			}
		}
	}
	total := w.written()
	if read1+read2 != total {
		t.Errorf("the runs read %d + %d lines, %d written: %+d", read1, read2, total, read1+read2-total)
	}
	for _, l := range []string{a.logged(), a2.logged()} {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
			t.Errorf("warnings or errors logged:\n%s", l)
		}
	}
	t.Logf("%d lines (%d written while stopped); ra2 from a.log line %d (delivered before: %d, written after: %d); read %d + %d",
		total, total-downFrom, first, beforeRA2, appliedRA2, read1, read2)
	if t.Failed() {
		t.Logf("first run:\n%s\nsecond run:\n%s", a.logged(), a2.logged())
	}
}

// rrCount is how many points measurement m holds of file stream.
func rrCount(t *testing.T, srv *influxtest.Server, db, m, stream string) int {
	return rrAgg(t, srv, db, "count", m, stream)
}

// rrMax is the highest line number measurement m holds of file stream,
// -1 for none.
func rrMax(t *testing.T, srv *influxtest.Server, db, m, stream string) int {
	return rrAgg(t, srv, db, "max", m, stream)
}

func rrAgg(t *testing.T, srv *influxtest.Server, db, fn, m, stream string) int {
	t.Helper()
	res := srv.Query(t, db, fmt.Sprintf("SELECT %s(n) FROM %s WHERE f = '%s'", fn, influxtest.QuoteIdent(m), stream))
	if len(res) == 0 {
		if fn == "max" {
			return -1
		}
		return 0
	}
	n, err := res[0].Values[0][1].(interface{ Int64() (int64, error) }).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

var stoppedLine = regexp.MustCompile(`msg=stopped lines_read=(\d+) lines_not_delivered=(\d+) `)

// rrRead is the lines_read of a run's last line, which must have
// delivered everything it read.
func rrRead(t *testing.T, a *agent) int {
	t.Helper()
	m := stoppedLine.FindStringSubmatch(a.logged())
	if m == nil {
		t.Fatalf("no stopped line:\n%s", a.logged())
	}
	if m[2] != "0" {
		t.Errorf("stopped with %s lines not delivered", m[2])
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// waitStderrN waits until n lines of stderr contain s, failing the test
// if the process ends or its time runs out first.
func (a *agent) waitStderrN(s string, n int) {
	a.t.Helper()
	count := func() int {
		a.mu.Lock()
		defer a.mu.Unlock()
		c := 0
		for _, l := range a.stderr {
			if strings.Contains(l, s) {
				c++
			}
		}
		return c
	}
	for count() < n {
		select {
		case <-a.changed:
		case <-a.stderrDone:
			if c := count(); c < n { // read after its last line
				a.t.Fatalf("run ended (%v) with %d of %d lines with %q on stderr:\n%s", a.exit(), c, n, s, a.logged())
			}
		case <-a.ctx.Done():
			a.t.Fatalf("%d of %d lines with %q on stderr in time:\n%s", count(), n, s, a.logged())
		}
	}
}

// TestRestartOnlyUnchangedInfluxDB: a reload of the same influxdb block,
// with a ca_file and a client certificate, names no setting as needing a
// restart, although run set the running block's OnWrite and each load
// makes a new CA pool; one that changes server_name names influxdb.
func TestRestartOnlyUnchangedInfluxDB(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "cert.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, filepath.Join(dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	load := func(extra string) *config.Config {
		t.Helper()
		writeFile(t, filepath.Join(dir, "rules.hcl"), `
influxdb {
  url    = "https://127.0.0.1:8086"
  bucket = "db/autogen"
  tls {
    ca_file   = "cert.pem"
    cert_file = "cert.pem"
    key_file  = "key.pem"`+extra+`
  }
}
source "a" {
  paths = ["a.log"]
  rule "r" {
    logfmt = true
    fields = { n = "int" }
  }
}
`)
		cfg, _, diags := config.Load(filepath.Join(dir, "rules.hcl"))
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return cfg
	}
	running := load("")
	running.InfluxDB.Sink.OnWrite = func(string, time.Duration) {} // as run sets it
	if got := restartOnly(running, load("")); len(got) != 0 {
		t.Errorf("the same file: restartOnly = %v, want none", got)
	}
	if got := restartOnly(running, load("\n    server_name = \"other\"")); !slices.Equal(got, []string{"influxdb"}) {
		t.Errorf("server_name changed: restartOnly = %v, want [influxdb]", got)
	}
}
