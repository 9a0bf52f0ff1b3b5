package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/logmetrics/logmetrics/internal/benchsuite"
)

type report struct {
	opts      options
	date      time.Time
	goVersion string
	corpus    benchsuite.Corpus
	bench     []benchStat
	all       []*job
	commands  []string
	noTaskset bool      // taskset was not found: no pinned backfill
	outputSum [2]string // sha256 of backfill's output, unpinned and pinned
}

// job returns the job with this id, or nil.
func (r *report) job(id string) *job {
	for _, j := range r.all {
		if j.id == id {
			return j
		}
	}
	return nil
}

// med returns the median over j's rounds of f, or -1 without j.
func med(j *job, f func(measurement) float64) float64 {
	if j == nil || len(j.runs) == 0 {
		return -1
	}
	v := make([]float64, len(j.runs))
	for i, m := range j.runs {
		v[i] = f(m)
	}
	return median(v)
}

func cpuS(m measurement) float64       { return m.cpu.Seconds() }
func wallS(m measurement) float64      { return m.wall.Seconds() }
func rssMiB(m measurement) float64     { return mib(m.rss) }
func serverS(m measurement) float64    { return m.serverCPU.Seconds() }
func idlePct(m measurement) float64    { return 100 * m.idleCPU.Seconds() / m.idleSpan.Seconds() }
func cpuPerWall(m measurement) float64 { return m.cpu.Seconds() / m.wall.Seconds() }

// perMLines is f's figure per million lines of the job's input.
func (r *report) perMLines(f func(measurement) float64) func(measurement) float64 {
	return func(m measurement) float64 {
		n := m.lines
		if n == 0 {
			n = int64(r.corpus.N)
		}
		return f(m) / float64(n) * 1e6
	}
}

// ratio is a/b, or -1 when either is unknown.
func ratio(a, b float64) float64 {
	if a < 0 || b <= 0 {
		return -1
	}
	return a / b
}

// cpuModel reads the first model name of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func (r *report) allocs(name string) string {
	for _, b := range r.bench {
		if b.name == name && b.allocsOp >= 0 {
			return fmt.Sprintf("%.0f (%s)", b.allocsOp, name)
		}
	}
	return "—"
}

func fileSize(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", mib(fi.Size()))
}

// peer is a row of issue 9's table, measured on another day: CPU-s per
// million lines and peak RSS as the issue gives them (-1: not measured).
type peer struct {
	name        string
	nginx, json float64
	rss         string
}

// The floors of the day of issue 9's table, that the peers' ratios are to.
const (
	peerRegexFloor    = 2.85
	peerFastJSONFloor = 0.52
)

var peers = []peer{
	{"Telegraf 1.37 tail + grok (custom pattern) / json_v2", 14.5, 11.6, "~175 MB"},
	{"Telegraf with the stock COMBINED_LOG_FORMAT grok pattern", 659, -1, ""},
	{"mtail 3.0 (one-shot; aggregates only)", 13.0, 11.4, "~19 MB"},
	{"bare Go regexp with named groups + line-protocol output (floor)", peerRegexFloor, -1, "9 MB"},
	{"encoding/json + line-protocol output", -1, 2.24, "9 MB"},
	{"valyala/fastjson + line-protocol output (floor)", -1, peerFastJSONFloor, "4 MB"},
	{"a hand-written nginx scanner + line-protocol output", 0.27, -1, "4 MB"},
}

// target is one line of the summary: what issue 9 asks, what this run
// measured, and whether that meets it.
type target struct {
	want, got string
	met       int // 1 met, 0 not met, -1 unknown
}

func (t target) verdict() string {
	switch t.met {
	case 1:
		return "met"
	case 0:
		return "**not met**"
	}
	return "—"
}

// check makes a target of a figure v that must be at most limit (or at
// least, with atLeast).
func check(want string, v float64, format string, limit float64, atLeast bool) target {
	if v < 0 {
		return target{want, "not measured", -1}
	}
	met := v <= limit
	if atLeast {
		met = v >= limit
	}
	t := target{want, fmt.Sprintf(format, v), 0}
	if met {
		t.met = 1
	}
	return t
}

func (r *report) targets() []target {
	cpu := func(id string) float64 { return med(r.job(id), cpuS) }
	maxOf := func(ids ...string) float64 {
		m := -1.0
		for _, id := range ids {
			m = max(m, med(r.job(id), rssMiB))
		}
		return m
	}
	size := ""
	if r.corpus.N != 1_000_000 {
		size = fmt.Sprintf(" (this run: %d lines)", r.corpus.N)
	}
	ts := []target{
		check("nginx regex rule through `test`: ≤ 0.5 × the regexp floor (CPU)", ratio(cpu("test-nginx"), cpu("floor-nginx")), "%.2f ×", 0.5, false),
		check("JSON rule through `test`: ≤ 1.5 × the fastjson floor", ratio(cpu("test-json"), cpu("floor-json")), "%.2f ×", 1.5, false),
		check("logfmt rule through `test`: ≤ 1.5 × the go-logfmt floor", ratio(cpu("test-logfmt"), cpu("floor-logfmt")), "%.2f ×", 1.5, false),
	}
	runT := check("`run` into InfluxDB: ≤ 1.3 × `test` (nginx, CPU)", ratio(cpu("run"), cpu("test-nginx")), "%.2f ×", 1.3, false)
	if s := med(r.job("run"), r.perMLines(serverS)); s >= 0 {
		runT.got += fmt.Sprintf(" (InfluxDB server beside it: %.2f CPU-s per M lines)", s)
	}
	ts = append(ts, runT)
	allocs := -1.0
	for _, b := range r.bench {
		if b.name == "BenchmarkPipeline" {
			allocs = b.allocsOp
		}
	}
	ts = append(ts, check("allocations: ≤ 1 per line for event rules in the whole pipeline (BenchmarkPipeline allocs/op)", allocs, "%.0f", 1, false))
	if r.noTaskset {
		ts = append(ts, target{"parallel: backfill on 2 cores ≤ 0.6 × its wall time on one (`taskset -c 0`)", "not measured: taskset not found (util-linux)", -1})
	} else {
		ts = append(ts, check("parallel: backfill on 2 cores ≤ 0.6 × its wall time on one (`taskset -c 0`)",
			ratio(med(r.job("backfill"), wallS), med(r.job("backfill-pinned"), wallS)), "%.2f ×", 0.6, false))
		same := target{"parallel: backfill's output byte-identical on 1 and 2 cores", "sha256 " + short(r.outputSum[0]) + " and " + short(r.outputSum[1]), 0}
		if r.outputSum[0] != "" && r.outputSum[0] == r.outputSum[1] {
			same.met = 1
		}
		ts = append(ts, same)
	}
	ts = append(ts,
		check(fmt.Sprintf("parallel: `run` with %d busy files uses both cores (CPU / wall ≥ 1.5, our reading)", busyFiles), med(r.job("run-busy"), cpuPerWall), "%.2f", 1.5, true),
		check("memory: `test`/`backfill` of 1 M lines < 30 MiB peak RSS"+size, maxOf("test-nginx", "test-json", "test-logfmt", "backfill", "backfill-pinned"), "%.1f MiB (the largest)", 30, false),
		check("memory: `run` < 40 MiB peak RSS at the default max_pending"+size, maxOf("run", "run-busy"), "%.1f MiB (the larger of 1 and 4 files)", 40, false),
		check(fmt.Sprintf("idle `run` following %d files: < 20 MiB peak RSS", idleFiles), med(r.job("idle"), rssMiB), "%.1f MiB", 20, false),
		check(fmt.Sprintf("idle `run` following %d files: < 1 %% of a core", idleFiles), med(r.job("idle"), idlePct), "%.2f %%", 1, false),
		target{"`check` warns about a rule whose regexp falls back to Go's slowest matcher", "not measured by the suite", -1},
	)
	if s := med(r.job("steady"), r.perMLines(cpuS)); s >= 0 {
		ts = append(ts, target{fmt.Sprintf("(no target) `run` following one file at %d lines/s; the issue measured 20-22 CPU-s per M lines, 2.5 × `test`", r.opts.rate),
			fmt.Sprintf("%.2f CPU-s per M lines, %.2f × `test`", s, ratio(s, med(r.job("test-nginx"), r.perMLines(cpuS)))), -1})
	}
	return ts
}

func short(sum string) string {
	if len(sum) < 12 {
		return "?"
	}
	return sum[:12]
}

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks\n\n")
	p("Written by `make bench` (internal/benchsuite/cmd/benchsuite). Figures vary by up to 2× from day to day on shared machines: compare ratios measured in one run, or two runs on one machine with benchstat.\n\n")
	p("## Issue 9 targets\n\n| target | this run (medians) | |\n|---|---|---|\n")
	for _, t := range r.targets() {
		p("| %s | %s | %s |\n", t.want, t.got, t.verdict())
	}
	p("\n")
	p("- Date: %s\n", r.date.Format("2006-01-02 15:04 UTC"))
	p("- Machine: %s, %d cores (%s/%s)\n", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	p("- Go: %s\n", r.goVersion)
	p("- Corpora: %d lines each, loggen seed %d from %s: nginx combined (%s), the same requests as JSON lines (%s) and as logfmt lines (%s), gzip copy of the nginx lines (%s). Every line becomes one point: tags method and status, fields bytes and request_time, time from the line.\n",
		r.corpus.N, benchsuite.Seed, benchsuite.Start.Format(time.RFC3339),
		fileSize(r.corpus.Path(benchsuite.NginxFile)), fileSize(r.corpus.Path(benchsuite.JSONFile)),
		fileSize(r.corpus.Path(benchsuite.LogfmtFile)), fileSize(r.corpus.Path(benchsuite.GzipFile)))
	p("- Whole processes, interleaved, %d rounds; each figure is the median of its rounds. CPU is user+sys from wait4's rusage; peak RSS is the process's VmHWM, sampled from /proc every 10 ms (wait4's ru_maxrss would include the driver's own peak: Go starts children with vfork, and Linux carries the parent's high-water mark into the child's at exec). × floor is CPU over the floor's CPU on the same corpus.\n\n", r.opts.rounds)
	titles := map[string]string{"nginx": "nginx combined (regex rule)", "json": "JSON lines (json rule)", "logfmt": "logfmt lines (logfmt rule)"}
	for _, corpus := range []string{"nginx", "json", "logfmt"} {
		floorCPU := -1.0
		for _, j := range r.all {
			if j.corpus == corpus && j.floor {
				floorCPU = med(j, cpuS)
			}
		}
		p("## %s\n\n", titles[corpus])
		p("| program | wall s | lines/s | CPU-s per M lines | × floor | peak RSS MiB | allocs/line (Go benchmark) |\n|---|---:|---:|---:|---:|---:|---|\n")
		for _, j := range r.all {
			if j.corpus != corpus || len(j.runs) == 0 {
				continue
			}
			wall := med(j, wallS)
			allocs := "—"
			if j.allocs != "" {
				allocs = r.allocs(j.allocs)
			}
			p("| %s | %.2f | %.0f | %.2f | %.2f | %.1f | %s |\n", j.name, wall, float64(r.corpus.N)/wall,
				med(j, r.perMLines(cpuS)), ratio(med(j, cpuS), floorCPU), med(j, rssMiB), allocs)
			if j.influx {
				p("| … InfluxDB 1.8.10 server meanwhile | | | %.2f | | %.1f | |\n", med(j, r.perMLines(serverS)), med(j, func(m measurement) float64 { return mib(m.serverRSS) }))
			}
		}
		p("\n")
	}
	p("Notes: `run` is timed from its start until InfluxDB answers the full count (polled every 50 ms), then stopped with SIGTERM; its CPU and RSS cover the whole process, shutdown included. The server's CPU is from /proc over the same span (its peak RSS is for the server's life so far). allocs/line are allocs/op of the named Go benchmark, one op being one line: BenchmarkExtract/json and /logfmt use loggen's application logs, not these corpora; BenchmarkPipeline is extract and the sink as run wires them, into a discarding destination.\n\n")

	p("## Parallel backfill\n\n")
	if r.noTaskset {
		p("Not measured: taskset (util-linux) was not found.\n\n")
	} else {
		un, pin := r.job("backfill"), r.job("backfill-pinned")
		p("`backfill` of the gzip corpus as it runs (GOMAXPROCS = %d) and pinned to one core with `taskset -c 0` (Go then sets GOMAXPROCS to 1), in the same rounds.\n\n", runtime.NumCPU())
		p("| | wall s | CPU-s | CPU / wall |\n|---|---:|---:|---:|\n")
		for _, j := range []*job{pin, un} {
			p("| %s | %.2f | %.2f | %.2f |\n", j.name, med(j, wallS), med(j, cpuS), med(j, cpuPerWall))
		}
		p("\nWall time unpinned / pinned: **%.2f** (target ≤ 0.6). Output, run once more each after the rounds: sha256 `%s` unpinned, `%s` pinned: %s.\n\n",
			ratio(med(un, wallS), med(pin, wallS)), r.outputSum[0], r.outputSum[1],
			map[bool]string{true: "byte-identical", false: "**they differ**"}[r.outputSum[0] != "" && r.outputSum[0] == r.outputSum[1]])
	}

	if j := r.job("run-busy"); j != nil && len(j.runs) > 0 {
		p("## `run` with %d busy files\n\n", busyFiles)
		p("The nginx corpus in %d consecutive parts, each cut where the log time changes second (points of one series and time from two files would overwrite each other: separation is per file), followed by one `run` into InfluxDB from the start until InfluxDB holds all %d points.\n\n", busyFiles, r.corpus.N)
		p("| wall s | CPU-s | CPU / wall | peak RSS MiB | InfluxDB server CPU-s |\n|---:|---:|---:|---:|---:|\n")
		p("| %.2f | %.2f | %.2f | %.1f | %.2f |\n\n", med(j, wallS), med(j, cpuS), med(j, cpuPerWall), med(j, rssMiB), med(j, serverS))
		p("CPU / wall above 1 means more than one core busy on average; the one-file `run` above has %.2f.\n\n", med(r.job("run"), cpuPerWall))
	}

	if j := r.job("idle"); j != nil && len(j.runs) > 0 {
		p("## Idle `run`, %d files\n\n", idleFiles)
		p("One `run` following %d files of about %d nginx lines each (start_at beginning). Once InfluxDB holds their %d points and %v more have passed, nothing is written for -idle %v: its CPU then, from /proc/PID/stat (utime+stime, 10 ms ticks).\n\n",
			idleFiles, idleLinesPerFile, j.runs[0].lines, idleSettle, r.opts.idle)
		p("| catch-up wall s | idle CPU, %% of one core | peak RSS MiB (VmHWM) |\n|---:|---:|---:|\n")
		p("| %.2f | %.3f | %.1f |\n\n", med(j, wallS), med(j, idlePct), med(j, rssMiB))
	}

	if j := r.job("steady"); j != nil && len(j.runs) > 0 {
		p("## Steady-rate `run`\n\n")
		p("One `run` following one file that the driver appends nginx lines to at %d lines/s (a burst every 10-20 ms) for -steady %v, stopped once InfluxDB holds them all; CPU of the whole process.\n\n", r.opts.rate, r.opts.steady)
		p("| lines | wall s | CPU-s | CPU-s per M lines | × `test` (nginx) | peak RSS MiB | InfluxDB server CPU-s per M lines |\n|---:|---:|---:|---:|---:|---:|---:|\n")
		perM := med(j, r.perMLines(cpuS))
		p("| %d | %.2f | %.2f | %.2f | %.2f | %.1f | %.2f |\n\n", j.runs[0].lines, med(j, wallS), med(j, cpuS), perM,
			ratio(perM, med(r.job("test-nginx"), r.perMLines(cpuS))), med(j, rssMiB), med(j, r.perMLines(serverS)))
	}

	p("## Peers (quoted, not measured in this run)\n\n")
	p("From issue 9, measured on the day of its table (the issue gives no date), on this 2-core machine kind, 1,000,000 lines: CPU-s per million lines, with the ratio to that day's floor (Go regexp %.2f for nginx, fastjson %.2f for JSON). They are not from this run: compare their ratios with this run's, not their CPU-seconds.\n\n", peerRegexFloor, peerFastJSONFloor)
	p("| program | nginx CPU-s/M | × regexp floor | JSON CPU-s/M | × fastjson floor | peak RSS |\n|---|---:|---:|---:|---:|---|\n")
	cell := func(v, floor float64) string {
		if v < 0 {
			return " | "
		}
		return fmt.Sprintf("%.2f | %.2f", v, v/floor)
	}
	for _, q := range peers {
		p("| %s | %s | %s | %s |\n", q.name, cell(q.nginx, peerRegexFloor), cell(q.json, peerFastJSONFloor), q.rss)
	}
	p("| *logmetrics test, this run* | %.2f | %.2f | %.2f | %.2f | %.1f MiB |\n\n",
		med(r.job("test-nginx"), r.perMLines(cpuS)), ratio(med(r.job("test-nginx"), cpuS), med(r.job("floor-nginx"), cpuS)),
		med(r.job("test-json"), r.perMLines(cpuS)), ratio(med(r.job("test-json"), cpuS), med(r.job("floor-json"), cpuS)),
		max(med(r.job("test-nginx"), rssMiB), med(r.job("test-json"), rssMiB)))

	if len(r.bench) > 0 {
		p("## Go benchmarks (medians of -count %d)\n\n| benchmark | ns/op | MB/s | B/op | allocs/op |\n|---|---:|---:|---:|---:|\n", r.opts.count)
		for _, s := range r.bench {
			p("| %s | %s | %s | %s | %s |\n", s.name, num(s.nsOp, 1), num(s.mbS, 2), num(s.bOp, 0), num(s.allocsOp, 0))
		}
		p("\n")
	}
	p("## Commands\n\n```\nmake bench   # = make influxd, then: go run ./internal/benchsuite/cmd/benchsuite %s\n", r.flags())
	for _, c := range r.commands {
		p("%s\n", c)
	}
	if !r.noTaskset {
		p("# after the rounds, once each: the sha256 of the stdout of both backfill commands above\n")
	}
	p("```\n\n")
	p("## Comparing two runs\n\nThe Go benchmarks land in %s/bench.txt. Keep a copy, change the code, run again, and compare:\n\n```\ncp %s/bench.txt old.txt\nmake bench   # or: go test -run '^$' -bench . -benchmem -count 10 ./extract > new.txt\ngo run golang.org/x/perf/cmd/benchstat@latest old.txt %s/bench.txt\n```\n\nFor the whole-process figures compare the ratios to the floors, which are measured in the same run.\n",
		r.opts.dir, r.opts.dir, r.opts.dir)
	return b.String()
}

func (r *report) flags() string {
	o := r.opts
	s := fmt.Sprintf("-n %d -rounds %d -count %d -idle %v -steady %v -rate %d", o.n, o.rounds, o.count, o.idle, o.steady, o.rate)
	if o.benchtime != "" {
		s += " -benchtime " + o.benchtime
	}
	return s
}
