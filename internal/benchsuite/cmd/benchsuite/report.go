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
	jobs      []*job
	commands  []string
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

func (r *report) markdown() string {
	var b strings.Builder
	n := float64(r.corpus.N)
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks\n\n")
	p("Written by `make bench` (internal/benchsuite/cmd/benchsuite). Figures vary by up to 2× from day to day on shared machines: compare ratios measured in one run, or two runs on one machine with benchstat.\n\n")
	p("- Date: %s\n", r.date.Format("2006-01-02 15:04 UTC"))
	p("- Machine: %s, %d cores (%s/%s)\n", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	p("- Go: %s\n", r.goVersion)
	p("- Corpora: %d lines each, loggen seed %d from %s: nginx combined (%s), the same requests as JSON lines (%s), gzip copy of the nginx lines (%s). Every line becomes one point: tags method and status, fields bytes and request_time, time from the line.\n",
		r.corpus.N, benchsuite.Seed, benchsuite.Start.Format(time.RFC3339),
		fileSize(r.corpus.Path(benchsuite.NginxFile)), fileSize(r.corpus.Path(benchsuite.JSONFile)), fileSize(r.corpus.Path(benchsuite.GzipFile)))
	p("- Whole processes, interleaved, %d rounds; each figure is the median of its rounds. CPU is user+sys from wait4's rusage; peak RSS is the process's VmHWM, sampled from /proc every 10 ms (wait4's ru_maxrss would include the driver's own peak: Go starts children with vfork, and Linux carries the parent's high-water mark into the child's at exec). × floor is CPU over the floor's CPU on the same corpus.\n\n", r.opts.rounds)
	for _, corpus := range []string{"nginx", "json"} {
		var floorCPU time.Duration
		for _, j := range r.jobs {
			if j.corpus == corpus && j.floor {
				floorCPU = medianDur(j.runs, func(m measurement) time.Duration { return m.cpu })
			}
		}
		title := map[string]string{"nginx": "nginx combined (regex rule)", "json": "JSON lines (json rule)"}[corpus]
		p("## %s\n\n", title)
		p("| program | wall s | lines/s | CPU-s per M lines | × floor | peak RSS MiB | allocs/line (Go benchmark) |\n|---|---:|---:|---:|---:|---:|---|\n")
		for _, j := range r.jobs {
			if j.corpus != corpus {
				continue
			}
			wall := medianDur(j.runs, func(m measurement) time.Duration { return m.wall })
			cpu := medianDur(j.runs, func(m measurement) time.Duration { return m.cpu })
			rss := medianDur(j.runs, func(m measurement) time.Duration { return time.Duration(m.rss) })
			allocs := "—"
			if j.allocs != "" {
				allocs = r.allocs(j.allocs)
			}
			p("| %s | %.2f | %.0f | %.2f | %.2f | %.1f | %s |\n", j.name, wall.Seconds(), n/wall.Seconds(),
				cpu.Seconds()/n*1e6, float64(cpu)/float64(floorCPU), mib(int64(rss)), allocs)
			if j.influx {
				scpu := medianDur(j.runs, func(m measurement) time.Duration { return m.serverCPU })
				srss := medianDur(j.runs, func(m measurement) time.Duration { return time.Duration(m.serverRSS) })
				p("| … InfluxDB 1.8.10 server meanwhile | | | %.2f | | %.1f | |\n", scpu.Seconds()/n*1e6, mib(int64(srss)))
			}
		}
		p("\n")
	}
	p("Notes: `run` is timed from its start until InfluxDB answers the full count (polled every 50 ms), then stopped with SIGTERM; its CPU and RSS cover the whole process, shutdown included. The server's CPU is from /proc over the same span (its peak RSS is for the server's life so far). allocs/line are allocs/op of the named Go benchmark, one op being one line: BenchmarkExtract/json uses loggen's application JSON, not this corpus; BenchmarkPipeline is extract and the sink as run wires them, into a discarding destination.\n\n")
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
	p("```\n\n")
	p("## Comparing two runs\n\nThe Go benchmarks land in %s/bench.txt. Keep a copy, change the code, run again, and compare:\n\n```\ncp %s/bench.txt old.txt\nmake bench   # or: go test -run '^$' -bench . -benchmem -count 10 ./extract > new.txt\ngo run golang.org/x/perf/cmd/benchstat@latest old.txt %s/bench.txt\n```\n\nFor the whole-process figures compare the ratios to the floors, which are measured in the same run.\n",
		r.opts.dir, r.opts.dir, r.opts.dir)
	return b.String()
}

func (r *report) flags() string {
	o := r.opts
	s := fmt.Sprintf("-n %d -rounds %d -count %d", o.n, o.rounds, o.count)
	if o.benchtime != "" {
		s += " -benchtime " + o.benchtime
	}
	return s
}
