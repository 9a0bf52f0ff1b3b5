//go:build unix

package main

// The acceptance tests of `logmetrics backfill` (issue 7): the real
// binary against a real InfluxDB 1.8.10, with the lines, rules and checks
// of the end-to-end proofs (e2e_test.go). But for the syslog case, the
// logs hold lines of logWriter.line: "t=SECONDS k=SERIES s=SEGMENT
// n=NUMBER", 40 a second of log time over three series, so most points
// share a series and a second with others and the collision separator
// nudges them.
//
// A file is its own unit for the separator, in backfill as in run: a log
// split into several files gives the points of the whole log only when no
// second of a series straddles two files. So the tests that compare a
// split log with its concatenation split it where the second changes.

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// finished is a logmetrics command run to its end.
type finished struct {
	args   []string
	stdout []byte
	stderr string
	code   int
}

// runOnce runs `logmetrics args...` in dir to its end, within agentLimit,
// and returns its whole output. Unlike startAgent's stream of lines, it
// keeps stdout's exact bytes: backfill must print what `test` prints.
func runOnce(t *testing.T, dir string, args ...string) finished {
	t.Helper()
	bin, err := exec.LookPath("logmetrics")
	if err != nil {
		t.Fatalf("TestMain should have put logmetrics in $PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), agentLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GORACE="+gorace())
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("logmetrics %s still ran after %v; stderr:\n%s", strings.Join(args, " "), agentLimit, stderr.String())
	}
	f := finished{args: args, stdout: stdout.Bytes(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		f.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("logmetrics %s: %v", strings.Join(args, " "), err)
	}
	return f
}

// exited fails the test unless the command exited with code.
func (f finished) exited(t *testing.T, code int) {
	t.Helper()
	if f.code != code {
		t.Fatalf("logmetrics %s: exit %d, want %d; stderr:\n%s", strings.Join(f.args, " "), f.code, code, firstLines(f.stderr, 60))
	}
}

// logText is lines from to to-1 of the end-to-end writer's log
// (logWriter.line), all of segment seg.
func logText(from, to, seg int) string {
	var w logWriter
	var b strings.Builder
	for n := from; n < to; n++ {
		b.WriteString(w.line(n, seg))
	}
	return b.String()
}

// stdoutRules is e2eRules without its influxdb block: backfill and test
// then write line protocol to stdout.
func stdoutRules(t *testing.T, paths string) string {
	t.Helper()
	rules := e2eRules("", "", paths, "")
	start, end := strings.Index(rules, "influxdb {"), strings.Index(rules, `source "app"`)
	if start < 0 || end < start {
		t.Fatalf("e2eRules changed: no influxdb block before the source:\n%s", rules)
	}
	return rules[:start] + rules[end:]
}

// referenceDump is what InfluxDB must hold once text is read as one file
// with e2eRules: the points of a dry run (what `test` computes), in
// influxtest.Dump's form.
func referenceDump(t *testing.T, text string) []string {
	t.Helper()
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.hcl")
	writeFile(t, rules, e2eRules("http://127.0.0.1:1", "never-written", `["whole.log"]`, ""))
	writeFile(t, filepath.Join(dir, "whole.log"), text)
	cfg, _, diags := config.Load(rules)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return expectedDump(t, cfg)
}

// zstdFile compresses name to name+".zst" and removes name, as logrotate
// with compresscmd zstd does.
func zstdFile(t *testing.T, name string) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, name+".zst", string(zw.EncodeAll(data, nil)))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
}

// The points as Dump writes them for e2eRules' rule r.
var pointRE = regexp.MustCompile(`^r,k=([abc]),s=(\d+) n=(\d+)i (\d+)$`)

// lineOf checks that p, a point in Dump form, carries the values of line
// n of logWriter (segment seg): its tags, its field, and a time in the
// line's second (where the separator may nudge it). It returns n.
func lineOf(t *testing.T, p string, seg int) (n int, ok bool) {
	t.Helper()
	m := pointRE.FindStringSubmatch(p)
	if m == nil {
		t.Errorf("not a point of rule r: %s", p)
		return 0, false
	}
	n, _ = strconv.Atoi(m[3])
	ns, _ := strconv.ParseInt(m[4], 10, 64)
	second := int64(1760000000 + n/linesPerSecond)
	if m[1] != string(rune('a'+n%3)) || m[2] != strconv.Itoa(seg) || ns < second*1e9 || ns >= (second+1)*1e9 {
		t.Errorf("point %s: line %d has k=%c s=%d and its time in second %d", p, n, 'a'+n%3, seg, second)
		return n, false
	}
	return n, true
}

// withN keeps the points of dump whose line number is in keep.
func withN(t *testing.T, dump []string, keep func(n int) bool) []string {
	t.Helper()
	var kept []string
	for _, p := range dump {
		m := valueN.FindStringSubmatch(p)
		if m == nil {
			t.Fatalf("point without n: %s", p)
		}
		if n, _ := strconv.Atoi(m[1]); keep(n) {
			kept = append(kept, p)
		}
	}
	return kept
}

// nudged counts the points of dump written after their line's own time:
// the tests mean something only when the separator had work to do.
func nudged(t *testing.T, dump []string) int {
	t.Helper()
	c := 0
	for _, p := range dump {
		ns, err := strconv.ParseInt(p[strings.LastIndexByte(p, ' ')+1:], 10, 64)
		if err != nil {
			t.Fatalf("point without time: %s", p)
		}
		if ns%1e9 != 0 {
			c++
		}
	}
	return c
}

// TestBackfillSameAsLive: run tails a log written live (40 lines a second
// of log time, rotated once) into one database; backfill of the same files
// into another, from a rules file that differs only in the database (and
// its folder, so that no agent's positions hand the files over to run);
// and test of them, written as it prints them into a third. All three
// hold exactly the same points: tags, fields, nanosecond timestamps.
func TestBackfillSameAsLive(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	for _, db := range []string{"live", "back", "tested"} {
		srv.CreateDatabase(t, db)
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.hcl")
	writeFile(t, rules, e2eRules(srv.URL(), "live", `["app.log"]`, ""))
	w := newLogWriter(t, filepath.Join(dir, "app.log"), filepath.Join(t.TempDir(), "segments"))
	a := startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	w.write(600, rotationRate)
	w.renameCreate(filepath.Join(dir, "app.log.1"), 0, rotationRate)
	w.write(600, rotationRate)
	lines := w.written()
	waitStored(t, srv, "live", lines, 15*time.Second, nil)
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Errorf("run after SIGTERM: %v\n%s", err, a.logged())
	}
	want := w.cleanPass(t, rules)
	if c := nudged(t, want); c < lines/2 {
		t.Fatalf("only %d of %d points nudged: the log does not test the separator", c, lines)
	}
	checkExact(t, srv, "live", want, nil, lines)

	elsewhere := t.TempDir()
	writeFile(t, filepath.Join(elsewhere, "rules.hcl"), e2eRules(srv.URL(), "back", fmt.Sprintf("[%q]", filepath.Join(dir, "app.log")), ""))
	// No paths: app.log from the source's glob, app.log.1 as its sibling.
	runOnce(t, elsewhere, "backfill", "-config", "rules.hcl").exited(t, exitOK)
	checkExact(t, srv, "back", want, nil, lines)

	tested := runOnce(t, elsewhere, "test", "-config", "rules.hcl", filepath.Join(dir, "app.log.1"), filepath.Join(dir, "app.log"))
	tested.exited(t, exitOK)
	srv.Write(t, "tested", string(tested.stdout))

	live := srv.Dump(t, "live")
	if diff := cmp.Diff(live, srv.Dump(t, "back")); diff != "" {
		t.Errorf("backfill and run (-run +backfill):\n%s", firstLines(diff, 40))
	}
	if diff := cmp.Diff(live, srv.Dump(t, "tested")); diff != "" {
		t.Errorf("test and run (-run +test):\n%s", firstLines(diff, 40))
	}
}

// TestBackfillIdempotent: a second backfill of the same files (an archive
// and the current log) leaves exactly the points of the first, which are
// those of the log read as one file.
func TestBackfillIdempotent(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "twice")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.hcl"), e2eRules(srv.URL(), "twice", `["app.log"]`, ""))
	const lines = 30 * linesPerSecond
	// Split at a change of second (see the top of the file).
	writeFile(t, filepath.Join(dir, "app.log.1"), logText(0, lines/2, 0))
	gzipFile(t, filepath.Join(dir, "app.log.1"))
	writeFile(t, filepath.Join(dir, "app.log"), logText(lines/2, lines, 0))
	want := referenceDump(t, logText(0, lines, 0))

	runOnce(t, dir, "backfill", "-config", "rules.hcl").exited(t, exitOK)
	first := srv.Dump(t, "twice")
	if diff := cmp.Diff(want, first); diff != "" {
		t.Fatalf("after one backfill (-want +got):\n%s", firstLines(diff, 40))
	}
	runOnce(t, dir, "backfill", "-config", "rules.hcl").exited(t, exitOK)
	if diff := cmp.Diff(first, srv.Dump(t, "twice")); diff != "" {
		t.Errorf("the second backfill changed the points (-first +after the second):\n%s", firstLines(diff, 40))
	}
	if n := stored(t, srv, "twice"); n != lines {
		t.Errorf("%d points after two backfills of %d lines", n, lines)
	}
}

// bzip2Part is testdata/backfill/part1.log.bz2: lines 200-399 of
// logText, made once with the bzip2 command (the standard library reads
// bzip2 but cannot write it, and a test must not need the command):
//
//	seq 200 399 | awk '{printf "t=%d k=%c s=0 n=%d\n", 1760000000+int($1/40), 97+$1%3, $1}' | bzip2 -9 > part1.log.bz2
const bzip2Part = "testdata/backfill/part1.log.bz2"

// TestBackfillArchivesLikePlain: a log of 20 seconds split where the
// second changes into app.log.2.zst, app.log.3.bz2, app.log.1.gz and
// app.log, in that time order, which is not the order of the names,
// beside an excluded app.log.junk. Backfilled without paths (the glob
// app.log and its rotated siblings) it gives the points of the plain
// concatenation backfilled as one file with -source; to stdout, the same
// bytes in the same order as `test` prints for the concatenation: the files
// were read in time order.
func TestBackfillArchivesLikePlain(t *testing.T) {
	t.Parallel()
	const lines = 20 * linesPerSecond
	want, err := os.ReadFile(bzip2Part)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(want))); err != nil || string(got) != logText(200, 400, 0) {
		t.Fatalf("%s does not hold lines 200-399 of logText (err %v): make it again as bzip2Part says", bzip2Part, err)
	}

	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "parts")
	srv.CreateDatabase(t, "whole")
	dir := t.TempDir()
	// The paths argument is pasted into the source block: it brings the
	// exclude too.
	paths := `["app.log"]` + "\n  exclude  = [\"*.junk\"]"
	writeFile(t, filepath.Join(dir, "parts.hcl"), e2eRules(srv.URL(), "parts", paths, ""))
	writeFile(t, filepath.Join(dir, "whole.hcl"), e2eRules(srv.URL(), "whole", paths, ""))
	writeFile(t, filepath.Join(dir, "stdout.hcl"), stdoutRules(t, paths))

	writeFile(t, filepath.Join(dir, "app.log.2"), logText(0, 200, 0))
	zstdFile(t, filepath.Join(dir, "app.log.2"))
	writeFile(t, filepath.Join(dir, "app.log.3.bz2"), string(want))
	writeFile(t, filepath.Join(dir, "app.log.1"), logText(400, 600, 0))
	gzipFile(t, filepath.Join(dir, "app.log.1"))
	writeFile(t, filepath.Join(dir, "app.log"), logText(600, lines, 0))
	writeFile(t, filepath.Join(dir, "app.log.junk"), logText(lines, lines+50, 0))
	whole := filepath.Join(t.TempDir(), "whole.log")
	writeFile(t, whole, logText(0, lines, 0))

	runOnce(t, dir, "backfill", "-config", "parts.hcl").exited(t, exitOK)
	runOnce(t, dir, "backfill", "-config", "whole.hcl", "-source", "app", whole).exited(t, exitOK)
	ref := referenceDump(t, logText(0, lines, 0))
	if diff := cmp.Diff(ref, srv.Dump(t, "whole")); diff != "" {
		t.Errorf("the concatenation backfilled as one file (-dry run +InfluxDB):\n%s", firstLines(diff, 40))
	}
	if diff := cmp.Diff(ref, srv.Dump(t, "parts")); diff != "" {
		t.Errorf("the parts backfilled (-the concatenation +the parts):\n%s", firstLines(diff, 40))
	}

	tested := runOnce(t, dir, "test", "-config", "stdout.hcl", "-source", "app", whole)
	tested.exited(t, exitOK)
	parts := runOnce(t, dir, "backfill", "-config", "stdout.hcl")
	parts.exited(t, exitOK)
	if !bytes.Equal(tested.stdout, parts.stdout) {
		t.Errorf("backfill of the parts to stdout (-test of the concatenation +backfill of the parts):\n%s",
			firstLines(cmp.Diff(strings.SplitAfter(string(tested.stdout), "\n"), strings.SplitAfter(string(parts.stdout), "\n")), 40))
	}
}

// syslogRules is the ssh_logins rule of extract/testdata/cases/
// syslog_new_year, shipping to db.
func syslogRules(url, db string) string {
	return `
agent {
  state_dir = "state"
  listen    = ""
}
influxdb {
  url            = "` + url + `"
  bucket         = "` + db + `/autogen"
  flush_interval = "50ms"
}
source "auth" {
  paths = ["auth.log"]
  rule "ssh_logins" {
    regex = <<-EOT
      ^(?P<time>\w{3} +\d{1,2} \d\d:\d\d:\d\d) (?P<host>\S+) sshd\[\d+\]: (?P<result>Accepted|Failed) (?P<method>\S+) for (?:invalid user )?(?P<user>\S+) from (?P<ip>\S+) port (?P<port>\d+)
    EOT
    time {
      from   = "time"
      layout = "syslog"
    }
    tags   = ["host", "result", "method"]
    fields = { user = "string", port = "int" }
  }
}
`
}

// TestBackfillSyslogNewYear: syslog times have no year. An archive from
// Dec 30 to Jan 2, rotated on Jan 2 of 2021 (its mtime), and the log
// written since: the December lines are of 2020, the January ones of 2021,
// whatever year the test runs in.
func TestBackfillSyslogNewYear(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "syslog")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.hcl"), syslogRules(srv.URL(), "syslog"))
	archive := filepath.Join(dir, "auth.log.1")
	writeFile(t, archive, `Dec 30 10:00:00 web01 sshd[100]: Accepted publickey for alice from 198.51.100.7 port 52113 ssh2
Dec 31 23:59:59 web01 sshd[101]: Failed password for invalid user oracle from 192.0.2.90 port 17310 ssh2
Jan  1 00:00:00 web02 sshd[102]: Accepted password for bob from 203.0.113.5 port 40000 ssh2
Jan  1 00:00:00 web02 sshd[103]: Accepted password for bob from 203.0.113.5 port 40001 ssh2
Jan  2 06:00:00 web02 sshd[104]: Failed password for root from 203.0.113.6 port 40002 ssh2
`)
	gzipFile(t, archive)
	current := filepath.Join(dir, "auth.log")
	writeFile(t, current, `Jan  2 06:30:00 web01 sshd[105]: Accepted publickey for carol from 203.0.113.7 port 40003 ssh2
Jan  2 11:59:59 web02 sshd[106]: Failed password for dave from 203.0.113.8 port 40004 ssh2
`)
	for name, mtime := range map[string]time.Time{
		archive + ".gz": time.Date(2021, 1, 2, 6, 25, 0, 0, time.UTC),
		current:         time.Date(2021, 1, 2, 12, 0, 0, 0, time.UTC),
	} {
		if err := os.Chtimes(name, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}

	runOnce(t, dir, "backfill", "-config", "rules.hcl").exited(t, exitOK)
	at := func(year int, month time.Month, day, h, m, s, ns int) int64 {
		return time.Date(year, month, day, h, m, s, ns, time.UTC).UnixNano()
	}
	want := []string{
		fmt.Sprintf(`ssh_logins,host=web01,method=password,result=Failed port=17310i,user="oracle" %d`, at(2020, 12, 31, 23, 59, 59, 0)),
		fmt.Sprintf(`ssh_logins,host=web01,method=publickey,result=Accepted port=40003i,user="carol" %d`, at(2021, 1, 2, 6, 30, 0, 0)),
		fmt.Sprintf(`ssh_logins,host=web01,method=publickey,result=Accepted port=52113i,user="alice" %d`, at(2020, 12, 30, 10, 0, 0, 0)),
		fmt.Sprintf(`ssh_logins,host=web02,method=password,result=Accepted port=40000i,user="bob" %d`, at(2021, 1, 1, 0, 0, 0, 0)),
		fmt.Sprintf(`ssh_logins,host=web02,method=password,result=Accepted port=40001i,user="bob" %d`, at(2021, 1, 1, 0, 0, 0, 1)),
		fmt.Sprintf(`ssh_logins,host=web02,method=password,result=Failed port=40002i,user="root" %d`, at(2021, 1, 2, 6, 0, 0, 0)),
		fmt.Sprintf(`ssh_logins,host=web02,method=password,result=Failed port=40004i,user="dave" %d`, at(2021, 1, 2, 11, 59, 59, 0)),
	}
	if diff := cmp.Diff(want, srv.Dump(t, "syslog")); diff != "" {
		t.Errorf("InfluxDB (-want +got):\n%s", diff)
	}
}

// TestBackfillCorruptArchive: of three archives, the middle one is a gzip
// file cut short. backfill says which file broke and where, keeps the
// points of its lines before the damage (a line the cut ends in the middle
// of is no point), reads the other files whole, and exits 1.
func TestBackfillCorruptArchive(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "corrupt")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.hcl"), e2eRules(srv.URL(), "corrupt", `["app.log"]`, ""))
	// Seconds 0-9 in app.log.2.gz, 10-34 in app.log.1.gz, 35-39 in app.log.
	const cut, whole, lines = 10 * linesPerSecond, 35 * linesPerSecond, 40 * linesPerSecond
	writeFile(t, filepath.Join(dir, "app.log.2"), logText(0, cut, 0))
	gzipFile(t, filepath.Join(dir, "app.log.2"))
	writeFile(t, filepath.Join(dir, "app.log"), logText(whole, lines, 0))

	// app.log.1.gz: lines 400-899 flushed whole, then 900-1399, the file
	// cut halfway through the compressed bytes of those.
	const flushed = 900
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write([]byte(logText(cut, flushed, 0))); err != nil {
		t.Fatal(err)
	}
	if err := zw.Flush(); err != nil {
		t.Fatal(err)
	}
	sound := gz.Len()
	if _, err := zw.Write([]byte(logText(flushed, whole, 0))); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "app.log.1.gz")
	writeFile(t, broken, string(gz.Bytes()[:sound+(gz.Len()-sound)/2]))

	res := runOnce(t, dir, "backfill", "-config", "rules.hcl")
	res.exited(t, exitFailure)
	if !strings.Contains(res.stderr, "app.log.1.gz") || !strings.Contains(res.stderr, "offset") && !strings.Contains(res.stderr, "byte") {
		t.Errorf("stderr does not name app.log.1.gz and the offset (byte) where it broke:\n%s", res.stderr)
	}

	got := srv.Dump(t, "corrupt")
	ref := referenceDump(t, logText(0, lines, 0))
	seen := map[int]bool{}
	for _, p := range got {
		if n, ok := lineOf(t, p, 0); ok {
			seen[n] = true
		}
	}
	// The lines of the broken file that were kept: those before the cut,
	// all of them up to where it broke.
	kept := flushed
	for seen[kept] {
		kept++
	}
	if kept >= whole {
		t.Errorf("every line of the broken file is in InfluxDB: the cut did not break it")
	}
	t.Logf("the broken file gave lines %d-%d of %d-%d", cut, kept-1, cut, whole-1)
	want := withN(t, ref, func(n int) bool { return n < kept || n >= whole })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("InfluxDB (-the lines of the sound files and before the damage +got):\n%s", firstLines(diff, 40))
	}
}

// TestBackfillWindowAndDryRun: -since and -until keep exactly the lines
// whose time is in [since, until), with the timestamps of a full backfill:
// the lines before since still count for the separator. Two lines of
// series a at 4.999999999, the second nudged to 5.000000000, push the
// first line of series a in second 5 to 5.000000001; a window from second
// 5 that forgot them would write it at 5.000000000. -n writes nothing.
func TestBackfillWindowAndDryRun(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	dir := t.TempDir()
	for _, db := range []string{"full", "window", "dry"} {
		srv.CreateDatabase(t, db)
		writeFile(t, filepath.Join(dir, db+".hcl"), e2eRules(srv.URL(), db, `["app.log"]`, ""))
	}
	const lines = 20*linesPerSecond + 3
	text := logText(0, 5*linesPerSecond, 0) +
		"t=1760000004.999999999 k=a s=0 n=800\n" +
		"t=1760000004.999999999 k=a s=0 n=801\n" +
		logText(5*linesPerSecond, 12*linesPerSecond, 0) +
		"t=1760000011.999999999 k=b s=0 n=802\n" +
		logText(12*linesPerSecond, 20*linesPerSecond, 0)
	writeFile(t, filepath.Join(dir, "app.log"), text)
	inWindow := func(n int) bool { return n >= 5*linesPerSecond && n < 12*linesPerSecond || n == 802 }
	since := time.Unix(1760000005, 0).UTC().Format(time.RFC3339)
	until := time.Unix(1760000012, 0).UTC().Format(time.RFC3339)

	dry := runOnce(t, dir, "backfill", "-n", "-config", "dry.hcl")
	dry.exited(t, exitOK)
	if got := srv.Dump(t, "dry"); len(got) > 0 {
		t.Errorf("backfill -n wrote %d points:\n%s", len(got), firstLines(strings.Join(got, "\n"), 10))
	}
	if len(dry.stdout) > 0 {
		t.Errorf("backfill -n wrote to stdout:\n%s", firstLines(string(dry.stdout), 10))
	}
	if !strings.Contains(dry.stderr, strconv.Itoa(lines)) {
		t.Errorf("backfill -n does not report the %d lines it read:\n%s", lines, dry.stderr)
	}

	runOnce(t, dir, "backfill", "-config", "full.hcl").exited(t, exitOK)
	full := srv.Dump(t, "full")
	if diff := cmp.Diff(referenceDump(t, text), full); diff != "" {
		t.Fatalf("full backfill (-dry run +InfluxDB):\n%s", firstLines(diff, 40))
	}
	for _, p := range []string{"r,k=a,s=0 n=801i 1760000005000000000", "r,k=a,s=0 n=201i 1760000005000000001"} {
		if !slices.Contains(full, p) {
			t.Fatalf("the full backfill lacks %s: the case does not test the window's separation", p)
		}
	}

	runOnce(t, dir, "backfill", "-config", "window.hcl", "-since", since, "-until", until).exited(t, exitOK)
	want := withN(t, full, inWindow)
	if len(want) != 7*linesPerSecond+1 {
		t.Fatalf("%d points in the window, want %d", len(want), 7*linesPerSecond+1)
	}
	if diff := cmp.Diff(want, srv.Dump(t, "window")); diff != "" {
		t.Errorf("backfill -since %s -until %s (-the window's points of the full backfill +got):\n%s", since, until, firstLines(diff, 40))
	}
}

// TestBackfillNeedsTime: a rule without a time block would stamp its
// points with the moment of the backfill, so backfill refuses it, with a
// diagnostic at the rule, and exits 2 before writing anything.
func TestBackfillNeedsTime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.hcl"), `
source "app" {
  paths = ["app.log"]
  rule "timed" {
    logfmt = true
    time {
      from   = "t"
      layout = "unix"
    }
    fields = { n = "int" }
  }
  rule "untimed" {
    logfmt = true
    fields = { n = "int" }
  }
}
`)
	writeFile(t, filepath.Join(dir, "app.log"), logText(0, 10, 0))
	res := runOnce(t, dir, "backfill", "-config", "rules.hcl")
	res.exited(t, exitUsage)
	for _, s := range []string{"rules.hcl", `"untimed"`, "time"} {
		if !strings.Contains(res.stderr, s) {
			t.Errorf("stderr lacks %s:\n%s", s, res.stderr)
		}
	}
	if len(res.stdout) > 0 {
		t.Errorf("stdout:\n%s", firstLines(string(res.stdout), 10))
	}
}

// TestBackfillStdout: without an influxdb block backfill prints line
// protocol, the bytes `test` prints for the same files, whether they are
// found by the source's glob and as its rotated sibling or named (in
// another order than their time order). The log is split in the middle of
// a second: each file is its own unit for the separator, in backfill as in
// run and test, so the first point of a series in app.log takes the
// second's first nanosecond again.
func TestBackfillStdout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.hcl"), stdoutRules(t, `["app.log"]`))
	const split, lines = linesPerSecond + linesPerSecond/2, 10 * linesPerSecond
	writeFile(t, filepath.Join(dir, "app.log.1"), logText(0, split, 0)+"a line no rule takes\n")
	writeFile(t, filepath.Join(dir, "app.log"), logText(split, lines, 0))
	tested := runOnce(t, dir, "test", "-config", "rules.hcl", "app.log.1", "app.log")
	tested.exited(t, exitOK)
	out := string(tested.stdout)
	if got := strings.Count(out, "\n"); got != lines {
		t.Fatalf("test printed %d lines for %d points:\n%s", got, lines, firstLines(out, 10))
	}
	// By hand: three series, 40 lines in each second.
	if head := "r,k=a,s=0 n=0i 1760000000000000000\nr,k=b,s=0 n=1i 1760000000000000000\nr,k=c,s=0 n=2i 1760000000000000000\nr,k=a,s=0 n=3i 1760000000000000001\n"; !strings.HasPrefix(out, head) {
		t.Fatalf("test printed:\n%s\nwant it to start with:\n%s", firstLines(out, 4), head)
	}
	for _, p := range []string{"\nr,k=a,s=0 n=42i 1760000001000000000\n", "\nr,k=a,s=0 n=60i 1760000001000000000\n"} {
		if !strings.Contains(out, p) {
			t.Fatalf("test did not print %q:\n%s", p[1:], firstLines(out, 70))
		}
	}
	for _, args := range [][]string{{"backfill", "-config", "rules.hcl"}, {"backfill", "-config", "rules.hcl", "app.log", "app.log.1"}} {
		res := runOnce(t, dir, args...)
		res.exited(t, exitOK)
		if !bytes.Equal(tested.stdout, res.stdout) {
			t.Errorf("logmetrics %s (-test +backfill):\n%s", strings.Join(args, " "),
				firstLines(cmp.Diff(strings.SplitAfter(out, "\n"), strings.SplitAfter(string(res.stdout), "\n")), 40))
		}
	}
}

// TestBackfillInterrupt: SIGINT while backfill writes a large archive to
// stdout, which the test stops reading so that backfill is held mid-file.
// It exits 130, says on stderr which file and offset it reached, and what
// it printed is the start of the file's points, each line whole.
func TestBackfillInterrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.hcl"), stdoutRules(t, `["app.log"]`))
	// 6.4 MB of lines, 8 MB of points: far more than pipes and buffers
	// hold. logText would take 2.5 s to write them under the race
	// detector, and the gzip command's default level 1.5 s.
	const lines = 200_000
	text := make([]byte, 0, 33*lines)
	for n := range lines {
		text = append(text, "t="...)
		text = strconv.AppendInt(text, int64(1760000000+n/linesPerSecond), 10)
		text = append(text, " k="...)
		text = append(text, byte('a'+n%3))
		text = append(text, " s=0 n="...)
		text = strconv.AppendInt(text, int64(n), 10)
		text = append(text, '\n')
	}
	if head := logText(0, 1000, 0); !bytes.HasPrefix(text, []byte(head)) {
		t.Fatalf("the big log does not start with logText's lines:\n%s", firstLines(string(text), 5))
	}
	var gz bytes.Buffer
	zw, err := kgzip.NewWriterLevel(&gz, kgzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(text); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "big.log.gz"), gz.String())

	a := startAgent(t, dir, "backfill", "-config", "rules.hcl", "-source", "app", "big.log.gz")
	got := a.points(10)
	// The test reads no more: the pipe fills and backfill waits on stdout.
	rest, err := a.stop(os.Interrupt)
	got = append(got, rest...)
	const interrupted = 130 // a shell's code for a command ended by SIGINT
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != interrupted {
		t.Errorf("backfill after SIGINT: %v, want exit %d; stderr:\n%s", err, interrupted, firstLines(a.logged(), 40))
	}
	if log := a.logged(); !strings.Contains(log, "big.log.gz") || !strings.Contains(log, "offset") {
		t.Errorf("stderr does not say which file and offset backfill reached:\n%s", firstLines(log, 40))
	}
	if len(got) >= lines {
		t.Errorf("all %d points printed: backfill did not stop at SIGINT", len(got))
	}
	for i, p := range got {
		m := pointRE.FindStringSubmatch(p)
		var n int
		var ns int64
		if m != nil {
			n, _ = strconv.Atoi(m[3])
			ns, _ = strconv.ParseInt(m[4], 10, 64)
		}
		second := int64(1760000000 + i/linesPerSecond)
		if m == nil || n != i || m[1] != string(rune('a'+i%3)) || ns < second*1e9 || ns >= second*1e9+linesPerSecond {
			t.Fatalf("point %d of the %d printed is %q, want line %d's", i, len(got), p, i)
		}
	}
	t.Logf("%d of %d points printed before backfill stopped", len(got), lines)
}

// positionsOf reads where the positions file of state says run began
// (replay_from) and what it committed (offset) for the file at path; found
// is false while it has no entry for it.
func positionsOf(t *testing.T, state, path string) (replayFrom, offset int64, found bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, "positions.json"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Files []struct {
			Path       string `json:"path"`
			Offset     int64  `json:"offset"`
			ReplayFrom int64  `json:"replay_from"`
		} `json:"files"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("positions.json: %v\n%s", err, data)
	}
	for _, f := range doc.Files {
		if f.Path == path {
			return f.ReplayFrom, f.Offset, true
		}
	}
	return 0, 0, false
}

// stateFiles is every file of the state folder with its bytes, mtime and
// inode.
func stateFiles(t *testing.T, state string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(state)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(state, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = fmt.Sprintf("mtime %s inode %d: %q", info.ModTime().Format(time.RFC3339Nano), info.Sys().(*syscall.Stat_t).Ino, data)
	}
	return files
}

// TestBackfillAdoption is the first day of logmetrics on a running system:
// the log already holds 10.5 seconds of lines when run starts with
// start_at = "end"; the application writes on, the rest of that second
// first; run ships the new lines. Then, run still running, backfill with
// the same rules file (so the agent's state folder) reads the part written
// before run began, and only that. InfluxDB then holds exactly one point
// per line of the file, with the line's values; none of run's points is
// overwritten, not even in the second in which run began; and backfill
// left the state folder as it was.
func TestBackfillAdoption(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	srv.CreateDatabase(t, "adopt")
	dir := t.TempDir()
	rules := e2eRules(srv.URL(), "adopt", `["app.log"]`, "")
	if !strings.Contains(rules, `start_at = "beginning"`) {
		t.Fatalf("e2eRules changed: no start_at to set to end:\n%s", rules)
	}
	writeFile(t, filepath.Join(dir, "rules.hcl"), strings.Replace(rules, `start_at = "beginning"`, `start_at = "end"`, 1))
	log := filepath.Join(dir, "app.log")
	state := filepath.Join(dir, "state")
	w := newLogWriter(t, log, filepath.Join(t.TempDir(), "segments"))
	const before, lines = 10*linesPerSecond + linesPerSecond/2, 20 * linesPerSecond
	w.write(before, 100_000)
	info, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	began := info.Size()

	a := startAgent(t, dir, "run", "-config", "rules.hcl")
	a.waitStderr("following files")
	waitUntil(t, "app.log in positions.json", func() bool { _, _, ok := positionsOf(t, state, log); return ok })
	if replayFrom, _, _ := positionsOf(t, state, log); replayFrom != began {
		t.Fatalf("run began app.log at %d, its size, but positions.json has replay_from %d", began, replayFrom)
	}
	w.write(lines-before, rotationRate)
	if took := waitStored(t, srv, "adopt", lines-before, 15*time.Second, nil); stored(t, srv, "adopt") != lines-before {
		t.Fatalf("run stored %d points of the %d lines written after it began, within %v\n%s", stored(t, srv, "adopt"), lines-before, took, a.logged())
	}
	info, err = os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	// Once all is committed run has no reason to save the positions
	// again: a change while backfill runs is backfill's.
	waitUntil(t, "app.log committed to its end", func() bool { _, off, _ := positionsOf(t, state, log); return off == info.Size() })
	fromRun := srv.Dump(t, "adopt")
	stateBefore := stateFiles(t, state)

	res := runOnce(t, dir, "backfill", "-config", "rules.hcl")
	res.exited(t, exitOK)
	if diff := cmp.Diff(stateBefore, stateFiles(t, state)); diff != "" {
		t.Errorf("the state folder changed while backfill ran (-before +after):\n%s", diff)
	}
	if _, err := a.stop(syscall.SIGTERM); err != nil {
		t.Errorf("run after SIGTERM: %v\n%s", err, a.logged())
	}

	got := srv.Dump(t, "adopt")
	seen := map[int]int{}
	for _, p := range got {
		if n, ok := lineOf(t, p, 0); ok {
			seen[n]++
		}
	}
	lost, twice := lostAndTwice(seen, lines)
	if len(lost) > 0 {
		t.Errorf("%d of %d lines have no point: %s", len(lost), lines, runs(lost))
	}
	if len(twice) > 0 {
		t.Errorf("%d lines have more than one point: %s", len(twice), runs(twice))
	}
	if len(got) != lines {
		t.Errorf("%d points for %d lines", len(got), lines)
	}
	var overwritten []string
	for _, p := range fromRun {
		if !slices.Contains(got, p) {
			overwritten = append(overwritten, p)
		}
	}
	if len(overwritten) > 0 {
		t.Errorf("%d points of run were overwritten by backfill:\n%s", len(overwritten), firstLines(strings.Join(overwritten, "\n"), 20))
	}
	if t.Failed() {
		t.Logf("backfill stderr:\n%s", firstLines(res.stderr, 40))
	}
}
