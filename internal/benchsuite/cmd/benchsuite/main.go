// Command benchsuite is make bench: it generates the corpora, runs the Go
// benchmarks, builds logmetrics and the floors, times them as whole
// processes, interleaved, over several rounds, and writes BENCHMARKS.md.
// Run it from the module root:
//
//	go run ./internal/benchsuite/cmd/benchsuite -n 1000000 -rounds 5
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logmetrics/logmetrics/internal/benchsuite"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

type options struct {
	n         int
	rounds    int
	count     int
	benchtime string
	dir       string
	out       string
	influxd   string
	pkgs      string
	skipGo    bool
	idle      time.Duration
	steady    time.Duration
	rate      int
}

func run(args []string) int {
	var o options
	fs := flag.NewFlagSet("benchsuite", flag.ContinueOnError)
	fs.IntVar(&o.n, "n", 1_000_000, "lines per corpus")
	fs.IntVar(&o.rounds, "rounds", 5, "rounds of the whole-process timings (medians are reported)")
	fs.IntVar(&o.count, "count", 5, "go test -count for the Go benchmarks")
	fs.StringVar(&o.benchtime, "benchtime", "", "go test -benchtime for the Go benchmarks (default: go test's)")
	fs.StringVar(&o.dir, "dir", ".bench", "cache `folder` for corpora, binaries and bench.txt")
	fs.StringVar(&o.out, "o", "BENCHMARKS.md", "the report `file`")
	fs.StringVar(&o.influxd, "influxd", "bin/influxd", "InfluxDB 1.8 server binary for the run benchmark")
	fs.StringVar(&o.pkgs, "pkgs", "./extract ./sink ./tailer ./cmd/logmetrics", "packages whose Go benchmarks run")
	fs.BoolVar(&o.skipGo, "skip-go", false, "skip the Go benchmarks (reuse bench.txt if there is one)")
	fs.DurationVar(&o.idle, "idle", time.Minute, "CPU of the idle run is counted over this `span`")
	fs.DurationVar(&o.steady, "steady", time.Minute, "the steady-rate run is fed for this `span`")
	fs.IntVar(&o.rate, "rate", 5000, "lines per second written for the steady-rate run")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.n < 1 || o.rounds < 1 || o.count < 1 || o.idle <= 0 || o.steady <= 0 || o.rate < 1 || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "benchsuite: -n, -rounds, -count and -rate must be at least 1, -idle and -steady positive, and no arguments")
		return 2
	}
	if err := suite(o); err != nil {
		fmt.Fprintf(os.Stderr, "benchsuite: %v\n", err)
		return 1
	}
	return 0
}

func suite(o options) error {
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the module root (go.mod not found)")
	}
	influxd, err := filepath.Abs(o.influxd)
	if err != nil {
		return err
	}
	if _, err := os.Stat(influxd); err != nil {
		return fmt.Errorf("%w (make influxd builds it)", err)
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	r := &report{opts: o, date: time.Now().UTC()}

	step("corpora: %d lines, seed %d", o.n, benchsuite.Seed)
	c, err := benchsuite.Generate(o.dir, o.n)
	if err != nil {
		return fmt.Errorf("generate corpora: %w", err)
	}
	r.corpus = c

	benchTxt := filepath.Join(o.dir, "bench.txt")
	if !o.skipGo {
		goArgs := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(o.count)}
		if o.benchtime != "" {
			goArgs = append(goArgs, "-benchtime", o.benchtime)
		}
		goArgs = append(goArgs, strings.Fields(o.pkgs)...)
		shown := o.influxd // as the user would type it: relative inside the module
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, influxd); err == nil && !strings.HasPrefix(rel, "..") {
				shown = rel
			}
		}
		r.commands = append(r.commands, "LOGMETRICS_INFLUXD="+shown+" go "+strings.Join(goArgs, " ")+" > "+benchTxt)
		step("Go benchmarks into %s: go %s", benchTxt, strings.Join(goArgs, " "))
		if err := goBench(goArgs, influxd, benchTxt); err != nil {
			return err
		}
	}
	if b, err := os.ReadFile(benchTxt); err == nil {
		r.bench = parseBench(b)
		printBench(os.Stdout, r.bench)
	}

	bin := func(name string) string { return filepath.Join(o.dir, name) }
	builds := [][2]string{
		{bin("logmetrics"), "./cmd/logmetrics"},
		{bin("floor-regex"), "./internal/benchsuite/floors/regex"},
		{bin("floor-fastjson"), "./internal/benchsuite/floors/fastjson"},
		{bin("floor-logfmt"), "./internal/benchsuite/floors/logfmt"},
	}
	for _, b := range builds {
		cmd := "go build -o " + b[0] + " " + b[1]
		step("%s", cmd)
		r.commands = append(r.commands, cmd)
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
		}
	}

	step("InfluxDB: %s", influxd)
	srv, err := startInfluxd(influxd)
	if err != nil {
		return err
	}
	defer srv.stop()

	jobs := r.plan(bin, srv)
	for _, j := range jobs {
		r.commands = append(r.commands, j.command)
	}
	for round := 1; round <= o.rounds; round++ {
		step("round %d of %d", round, o.rounds)
		for _, j := range jobs {
			m, err := j.measure()
			if err != nil {
				return fmt.Errorf("%s (%s): %w", j.name, j.corpus, err)
			}
			fmt.Printf("  %-6s %-36s wall %6.2fs  cpu %6.2fs  rss %5.1f MiB%s\n", j.corpus, j.name, m.wall.Seconds(), m.cpu.Seconds(), mib(m.rss), m.note())
			j.runs = append(j.runs, m)
		}
	}
	if p := r.job("backfill-pinned"); p != nil {
		step("backfill output, pinned and not")
		b := r.job("backfill")
		for i, args := range [][]string{b.args, p.args} {
			if r.outputSum[i], err = sha256Output(args); err != nil {
				return fmt.Errorf("%s: %w", args, err)
			}
			fmt.Printf("  sha256 %s  %s\n", r.outputSum[i], strings.Join(args, " "))
		}
	}
	r.goVersion = runtime.Version()
	md := r.markdown()
	fmt.Println()
	fmt.Print(md)
	return os.WriteFile(o.out, []byte(md), 0o644)
}

// plan lists the programs timed each round, in the order they run.
func (r *report) plan(bin func(string) string, srv *influxd) []*job {
	c, lm := r.corpus, bin("logmetrics")
	process := func(j *job) *job {
		j.command = strings.Join(j.args, " ") + " > /dev/null"
		j.measure = func() (measurement, error) { return measure(j.args) }
		return j
	}
	runCmd := func(what string) string {
		return fmt.Sprintf("%s run -config RUN.hcl   # RUN.hcl: %s's rules with agent { state_dir } and influxdb { url, bucket = \"benchN/autogen\" } on a server of its own (%s), %s",
			lm, c.Path(benchsuite.NginxConfig), r.opts.influxd, what)
	}
	nginxArgs := func(sub, file string) []string {
		return []string{lm, sub, "-config", c.Path(benchsuite.NginxConfig), "-source", "nginx", c.Path(file)}
	}
	r.all = []*job{
		process(&job{id: "floor-nginx", corpus: "nginx", name: "floor: Go regexp + encoder", floor: true,
			args: []string{bin("floor-regex"), c.Path(benchsuite.NginxFile)}}),
		process(&job{id: "test-nginx", corpus: "nginx", name: "logmetrics test",
			args: nginxArgs("test", benchsuite.NginxFile), allocs: "BenchmarkExtract/regex"}),
		process(&job{id: "backfill", corpus: "nginx", name: "logmetrics backfill (gzip)",
			args: nginxArgs("backfill", benchsuite.GzipFile), allocs: "BenchmarkPipeline"}),
	}
	if taskset, err := exec.LookPath("taskset"); err == nil {
		r.all = append(r.all, process(&job{id: "backfill-pinned", corpus: "nginx", name: "logmetrics backfill (gzip), taskset -c 0",
			args: append([]string{taskset, "-c", "0"}, nginxArgs("backfill", benchsuite.GzipFile)...), allocs: "BenchmarkPipeline"}))
	} else {
		r.noTaskset = true
	}
	r.all = append(r.all,
		&job{id: "run", corpus: "nginx", name: "logmetrics run → InfluxDB", influx: true, allocs: "BenchmarkPipeline",
			command: runCmd(fmt.Sprintf("following a fresh copy of %s; stopped by SIGTERM once SELECT count(request_time) FROM nginx returns %d", c.Path(benchsuite.NginxFile), c.N)),
			measure: func() (measurement, error) { return runBacklog(srv, lm, c, 1) }},
		&job{id: "run-busy", corpus: "nginx", name: fmt.Sprintf("logmetrics run, %d files → InfluxDB", busyFiles), influx: true, allocs: "BenchmarkPipeline",
			command: runCmd(fmt.Sprintf("following %s split into %d consecutive parts (each cut where the log time changes second) in one folder; stopped by SIGTERM once InfluxDB holds all %d points", c.Path(benchsuite.NginxFile), busyFiles, c.N)),
			measure: func() (measurement, error) { return runBacklog(srv, lm, c, busyFiles) }},
		process(&job{id: "floor-json", corpus: "json", name: "floor: fastjson + encoder", floor: true,
			args: []string{bin("floor-fastjson"), c.Path(benchsuite.JSONFile)}}),
		process(&job{id: "test-json", corpus: "json", name: "logmetrics test",
			args: []string{lm, "test", "-config", c.Path(benchsuite.JSONConfig), "-source", "json", c.Path(benchsuite.JSONFile)}, allocs: "BenchmarkExtract/json"}),
		process(&job{id: "floor-logfmt", corpus: "logfmt", name: "floor: go-logfmt + encoder", floor: true,
			args: []string{bin("floor-logfmt"), c.Path(benchsuite.LogfmtFile)}}),
		process(&job{id: "test-logfmt", corpus: "logfmt", name: "logmetrics test",
			args: []string{lm, "test", "-config", c.Path(benchsuite.LogfmtConfig), "-source", "logfmt", c.Path(benchsuite.LogfmtFile)}, allocs: "BenchmarkExtract/logfmt"}),
		&job{id: "idle", name: fmt.Sprintf("logmetrics run, %d idle files", idleFiles), influx: true,
			command: runCmd(fmt.Sprintf("following %d files of about %d lines of %s each (start_at beginning); once InfluxDB holds their points, %v later, CPU from /proc/PID/stat over -idle %v with nothing written, then SIGTERM", idleFiles, idleLinesPerFile, c.Path(benchsuite.NginxFile), idleSettle, r.opts.idle)),
			measure: func() (measurement, error) { return runIdle(srv, lm, c, r.opts.idle) }},
		&job{id: "steady", name: fmt.Sprintf("logmetrics run, %d lines/s", r.opts.rate), influx: true,
			command: runCmd(fmt.Sprintf("following one file that the driver appends loggen nginx lines to (seed %d) at -rate %d lines/s, a burst every 10-20 ms, for -steady %v; stopped by SIGTERM once InfluxDB holds them all", benchsuite.Seed, r.opts.rate, r.opts.steady)),
			measure: func() (measurement, error) { return runSteady(srv, lm, r.opts.rate, r.opts.steady) }},
	)
	return r.all
}

// sha256Output runs args and returns the sha256 of its stdout, in hex.
func sha256Output(args []string) (string, error) {
	h := sha256.New()
	var stderr bytes.Buffer
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = h, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, tail(stderr.Bytes()))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func step(format string, args ...any) {
	fmt.Printf("== "+format+"\n", args...)
}

func goBench(args []string, influxd, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "LOGMETRICS_INFLUXD="+influxd)
	cmd.Stdout, cmd.Stderr = f, os.Stderr
	err = cmd.Run()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("go test -bench: %w (output in %s)", err, out)
	}
	return nil
}

// job is one program timed each round.
type job struct {
	id      string // how the report finds it
	corpus  string // the table it is a row of; "" for a section of its own
	name    string
	args    []string // the command, for a plain process
	command string   // how the Commands section shows it
	floor   bool
	influx  bool
	allocs  string // the Go benchmark whose allocs/op is this job's per line
	measure func() (measurement, error)
	runs    []measurement
}

// measurement is one process: wall time, user+sys CPU and peak RSS from
// wait4's rusage; for run, also the InfluxDB server's CPU meanwhile.
type measurement struct {
	wall, cpu time.Duration
	rss       int64
	serverCPU time.Duration
	serverRSS int64
	lines     int64         // lines the process read, when not the corpus's
	idleCPU   time.Duration // the idle run: its CPU over idleSpan
	idleSpan  time.Duration
}

func (m measurement) note() string {
	s := ""
	if m.idleSpan > 0 {
		s += fmt.Sprintf("  idle cpu %.3fs in %.0fs (%.2f %% of a core)", m.idleCPU.Seconds(), m.idleSpan.Seconds(), 100*m.idleCPU.Seconds()/m.idleSpan.Seconds())
	}
	if m.lines > 0 {
		s += fmt.Sprintf("  %d lines", m.lines)
	}
	if m.serverRSS > 0 {
		s += fmt.Sprintf("  (influxd cpu %.2fs, peak rss %.0f MiB)", m.serverCPU.Seconds(), mib(m.serverRSS))
	}
	return s
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// measure runs args with stdout on /dev/null and returns its costs.
func measure(args []string) (measurement, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return measurement{}, err
	}
	defer devnull.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = devnull, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return measurement{}, err
	}
	hwm := watchHWM(cmd.Process.Pid)
	err = cmd.Wait()
	wall := time.Since(start)
	peak := hwm()
	if err != nil {
		return measurement{}, fmt.Errorf("%v\n%s", err, tail(stderr.Bytes()))
	}
	return usage(cmd, wall, peak), nil
}

// usage reads the CPU from the rusage wait4 returned for cmd, and takes
// peak as its peak RSS when known. rusage's Maxrss is only the fallback:
// Go starts children with vfork, and Linux carries the parent's peak RSS
// into the child's Maxrss at exec, so a small program started by a driver
// that once held a lot would report the driver's peak.
func usage(cmd *exec.Cmd, wall time.Duration, peak int64) measurement {
	m := measurement{wall: wall, rss: peak}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		if peak == 0 {
			m.rss = ru.Maxrss << 10 // kilobytes on Linux
		}
	}
	return m
}

// hwmInterval is how often watchHWM reads /proc; VmHWM is the process's own
// high-water mark, so sampling misses only growth in its last interval.
const hwmInterval = 10 * time.Millisecond

// watchHWM samples the peak RSS (VmHWM) of process pid until the returned
// function is called, after the process has exited, which returns the
// largest value seen in bytes (0 without /proc).
func watchHWM(pid int) func() int64 {
	var peak int64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(hwmInterval)
		defer t.Stop()
		for {
			peak = max(peak, procHWM(pid))
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return peak
	}
}

func tail(b []byte) []byte {
	if len(b) > 2000 {
		return b[len(b)-2000:]
	}
	return b
}

// benchStat is the medians of one Go benchmark over its -count runs.
type benchStat struct {
	name                     string
	nsOp, mbS, bOp, allocsOp float64
	runs                     int
}

// parseBench reads go test -bench output: name, iterations, then value
// unit pairs. The -GOMAXPROCS suffix is dropped from names.
func parseBench(b []byte) []benchStat {
	vals := map[string]map[string][]float64{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if vals[name] == nil {
			vals[name] = map[string][]float64{}
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			vals[name][f[i+1]] = append(vals[name][f[i+1]], v)
		}
	}
	var out []benchStat
	for _, name := range order {
		v := vals[name]
		out = append(out, benchStat{name: name, nsOp: median(v["ns/op"]), mbS: median(v["MB/s"]),
			bOp: median(v["B/op"]), allocsOp: median(v["allocs/op"]), runs: len(v["ns/op"])})
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return -1
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printBench(w io.Writer, bs []benchStat) {
	fmt.Fprintf(w, "%-60s %14s %10s %12s %10s\n", "Go benchmark (median)", "ns/op", "MB/s", "B/op", "allocs/op")
	for _, b := range bs {
		fmt.Fprintf(w, "%-60s %14s %10s %12s %10s\n", b.name, num(b.nsOp, 1), num(b.mbS, 2), num(b.bOp, 0), num(b.allocsOp, 0))
	}
}

func num(v float64, prec int) string {
	if v < 0 {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}
