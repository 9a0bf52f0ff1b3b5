package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/logmetrics/logmetrics/internal/benchsuite"
	"github.com/logmetrics/logmetrics/internal/loggen"
)

// The shapes of the run benchmarks besides the one-file backlog.
const (
	busyFiles        = 4   // run with several busy files: the corpus in this many parts
	idleFiles        = 100 // the idle run follows this many files
	idleLinesPerFile = 20  // about this many lines each, read to their end before the idle span
	// idleSettle is how long the idle run is left after InfluxDB holds
	// every point before its CPU is counted: the last batch's ack and the
	// positions file written after it are still work of the backlog.
	idleSettle = 5 * time.Second
	// runTimeout bounds the wait for InfluxDB to hold a run's points.
	runTimeout = 10 * time.Minute
)

// influxRun is one logmetrics run into a database of its own on srv,
// reading logs in a temporary folder.
type influxRun struct {
	srv     *influxd
	dir     string
	db      string
	cmd     *exec.Cmd
	stderr  bytes.Buffer
	exited  chan error
	hwm     func() int64
	start   time.Time
	cpu0    time.Duration // the server's CPU at the start
	stopped bool          // stop has waited for the process
}

// runSeq numbers the databases, one per run.
var runSeq int

// newRunDir makes the temporary folder of a run, with its state folder.
func newRunDir() (string, error) {
	dir, err := os.MkdirTemp("", "benchsuite-run-")
	if err != nil {
		return "", err
	}
	return dir, os.Mkdir(filepath.Join(dir, "state"), 0o755)
}

// startRun starts lm run in dir (from newRunDir, its logs in place) with
// the nginx rules following paths (a glob), into a fresh database.
func startRun(srv *influxd, lm, dir, paths string) (*influxRun, error) {
	runSeq++
	r := &influxRun{srv: srv, dir: dir, db: "bench" + strconv.Itoa(runSeq), exited: make(chan error, 1)}
	if _, err := srv.query("", "CREATE DATABASE "+r.db); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "run.hcl")
	blocks := fmt.Sprintf("agent {\n  state_dir = %q\n  listen = \"\"\n}\ninfluxdb {\n  url = %q\n  bucket = %q\n}\n",
		filepath.Join(dir, "state"), srv.url, r.db+"/autogen")
	if err := os.WriteFile(cfg, []byte(benchsuite.NginxRules(paths, blocks)), 0o644); err != nil {
		return nil, err
	}
	r.cmd = exec.Command(lm, "run", "-config", cfg)
	r.cmd.Stdout, r.cmd.Stderr = &r.stderr, &r.stderr
	r.cpu0 = procCPU(srv.cmd.Process.Pid)
	r.start = time.Now()
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	r.hwm = watchHWM(r.cmd.Process.Pid)
	go func() { r.exited <- r.cmd.Wait() }()
	return r, nil
}

// waitCount polls InfluxDB every 50 ms until it holds want points, and
// returns the time since the start.
func (r *influxRun) waitCount(want int64) (time.Duration, error) {
	var got int64
	for {
		select {
		case err := <-r.exited:
			r.exited <- err
			return 0, fmt.Errorf("run exited early (%v) with %d of %d points written:\n%s", err, got, want, tail(r.stderr.Bytes()))
		case <-time.After(50 * time.Millisecond):
		}
		var err error
		if got, err = r.srv.count(r.db, benchsuite.Measurement); err != nil {
			return 0, err
		}
		if got == want {
			return time.Since(r.start), nil
		}
		if got > want {
			return 0, fmt.Errorf("InfluxDB holds %d points for %d lines", got, want)
		}
		if time.Since(r.start) > runTimeout {
			return 0, fmt.Errorf("InfluxDB holds %d of %d points after %v", got, want, runTimeout)
		}
	}
}

// stop sends SIGTERM and returns the run's costs with wall as its wall
// time and the server's CPU since the start.
func (r *influxRun) stop(wall time.Duration) (measurement, error) {
	serverCPU, serverRSS := r.srv.cpu()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	err := <-r.exited
	r.stopped = true
	peak := r.hwm()
	if err != nil {
		return measurement{}, fmt.Errorf("run after SIGTERM: %v\n%s", err, tail(r.stderr.Bytes()))
	}
	m := usage(r.cmd, wall, peak)
	m.serverCPU, m.serverRSS = serverCPU-r.cpu0, serverRSS
	return m, nil
}

// close kills the run if it is still going, and drops its database and
// folder.
func (r *influxRun) close() {
	if !r.stopped {
		_ = r.cmd.Process.Kill()
		<-r.exited
		r.hwm()
	}
	_, _ = r.srv.query("", "DROP DATABASE "+r.db)
	os.RemoveAll(r.dir)
}

// runBacklog times logmetrics run from its start until InfluxDB holds every
// point of the nginx corpus, copied into files files (1: a fresh copy;
// more: consecutive parts, split by splitLines), then stops it with SIGTERM.
func runBacklog(srv *influxd, lm string, c benchsuite.Corpus, files int) (measurement, error) {
	dir, err := newRunDir()
	if err != nil {
		return measurement{}, err
	}
	paths := make([]string, files)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("access-%d.log", i))
	}
	lines, err := splitLines(c.Path(benchsuite.NginxFile), paths, (c.N+files-1)/files)
	if err != nil {
		os.RemoveAll(dir)
		return measurement{}, err
	}
	if lines != int64(c.N) {
		os.RemoveAll(dir)
		return measurement{}, fmt.Errorf("split %d of %d lines", lines, c.N)
	}
	r, err := startRun(srv, lm, dir, filepath.Join(dir, "access-*.log"))
	if err != nil {
		os.RemoveAll(dir)
		return measurement{}, err
	}
	defer r.close()
	wall, err := r.waitCount(lines)
	if err != nil {
		return measurement{}, err
	}
	return r.stop(wall)
}

// runIdle starts logmetrics run following idleFiles small files (start_at
// beginning), waits until InfluxDB holds their points and then idleSettle,
// and counts its CPU over span with nothing written: idleCPU. rss is its
// peak RSS then; wall is the time to catch up.
func runIdle(srv *influxd, lm string, c benchsuite.Corpus, span time.Duration) (measurement, error) {
	dir, err := newRunDir()
	if err != nil {
		return measurement{}, err
	}
	paths := make([]string, idleFiles)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("idle-%03d.log", i))
	}
	lines, err := splitLines(c.Path(benchsuite.NginxFile), paths, idleLinesPerFile)
	if err != nil {
		os.RemoveAll(dir)
		return measurement{}, err
	}
	r, err := startRun(srv, lm, dir, filepath.Join(dir, "idle-*.log"))
	if err != nil {
		os.RemoveAll(dir)
		return measurement{}, err
	}
	defer r.close()
	wall, err := r.waitCount(lines)
	if err != nil {
		return measurement{}, err
	}
	pid := r.cmd.Process.Pid
	if err := r.sleep(idleSettle); err != nil {
		return measurement{}, err
	}
	cpu0, t0 := procCPU(pid), time.Now()
	if err := r.sleep(span); err != nil {
		return measurement{}, err
	}
	idleCPU, idleSpan := procCPU(pid)-cpu0, time.Since(t0)
	m, err := r.stop(wall)
	m.idleCPU, m.idleSpan, m.lines = idleCPU, idleSpan, lines
	return m, err
}

// sleep waits d unless the run exits meanwhile, which is an error.
func (r *influxRun) sleep(d time.Duration) error {
	select {
	case err := <-r.exited:
		r.exited <- err
		return fmt.Errorf("run exited (%v):\n%s", err, tail(r.stderr.Bytes()))
	case <-time.After(d):
		return nil
	}
}

// runSteady starts logmetrics run following one empty file and appends
// rate lines a second to it for span (nginx lines from loggen, the corpus's
// seed and start, so the same lines as the corpus's first ones), in bursts
// every 10 to 20 ms; it waits until InfluxDB holds them all and stops the
// run. lines is how many were written.
func runSteady(srv *influxd, lm string, rate int, span time.Duration) (measurement, error) {
	dir, err := newRunDir()
	if err != nil {
		return measurement{}, err
	}
	total := int(float64(rate) * span.Seconds())
	input := filepath.Join(dir, "input.log")
	if err := writeLoggen(input, total); err != nil {
		os.RemoveAll(dir)
		return measurement{}, err
	}
	logPath := filepath.Join(dir, "access.log")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		os.RemoveAll(dir)
		return measurement{}, err
	}
	r, err := startRun(srv, lm, dir, logPath)
	if err != nil {
		os.RemoveAll(dir)
		return measurement{}, err
	}
	defer r.close()
	written, err := appendAtRate(input, logPath, rate, total, r.exited)
	if err != nil {
		return measurement{}, err
	}
	wall, err := r.waitCount(int64(written))
	if err != nil {
		return measurement{}, err
	}
	m, err := r.stop(wall)
	m.lines = int64(written)
	return m, err
}

func writeLoggen(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := loggen.Nginx(f, n, benchsuite.Seed, benchsuite.Start); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// appendAtRate copies the total lines of input to the end of logPath at
// rate lines a second: every 10 to 20 ms (a fixed pseudo-random sequence)
// as many lines as are due by then, in one write. It stops early, with an
// error, if exited delivers (the run being fed has stopped).
func appendAtRate(input, logPath string, rate, total int, exited chan error) (int, error) {
	in, err := os.Open(input)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	br := bufio.NewReaderSize(in, 64<<10)
	rng := rand.New(rand.NewPCG(benchsuite.Seed, 0))
	var burst []byte
	written, start := 0, time.Now()
	for written < total {
		select {
		case err := <-exited:
			exited <- err
			return written, fmt.Errorf("run exited after %d lines were written: %v", written, err)
		case <-time.After(time.Duration(10+rng.IntN(11)) * time.Millisecond):
		}
		due := min(total, int(time.Since(start).Seconds()*float64(rate)))
		burst = burst[:0]
		for ; written < due; written++ {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return written, fmt.Errorf("read %s: %w", input, err)
			}
			burst = append(burst, line...)
		}
		if _, err := out.Write(burst); err != nil {
			return written, err
		}
	}
	return written, nil
}

// splitLines copies the lines of the nginx corpus at src into the files
// dst, about per lines each, and returns how many lines it wrote. Each
// file but the last ends where the log time changes second: the points of
// one series and time from two files would overwrite each other in
// InfluxDB (separation is per file), and a count of them would fall short.
// The last file takes the rest of the corpus when per*len(dst) reaches it,
// else per lines and up to its second's end; if the corpus runs out first,
// the remaining files stay empty.
func splitLines(src string, dst []string, per int) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	br := bufio.NewReaderSize(in, 64<<10)
	var total int64
	var line []byte
	for _, path := range dst {
		f, err := os.Create(path)
		if err != nil {
			return total, err
		}
		w := bufio.NewWriterSize(f, 64<<10)
		var second []byte
		for n := 0; ; n++ {
			if line == nil {
				line, err = br.ReadBytes('\n')
				if errors.Is(err, io.EOF) && len(line) == 0 {
					line = nil
					break
				}
				if err != nil {
					f.Close()
					return total, fmt.Errorf("read %s: %w", src, err)
				}
			}
			s := logSecond(line)
			if n >= per && !bytes.Equal(s, second) {
				break // line stays for the next file
			}
			second = append(second[:0], s...)
			if _, err := w.Write(line); err != nil {
				f.Close()
				return total, err
			}
			total++
			line = nil
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return total, err
		}
		if err := f.Close(); err != nil {
			return total, err
		}
	}
	return total, nil
}

// logSecond returns the [time] of an nginx line, which is to the second.
func logSecond(line []byte) []byte {
	i := bytes.IndexByte(line, '[')
	j := bytes.IndexByte(line, ']')
	if i < 0 || j < i {
		return nil
	}
	return line[i+1 : j]
}
