package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logmetrics/logmetrics/internal/influxtest"
)

// influxd is one InfluxDB 1.8 server for the run benchmark, configured as
// internal/influxtest configures one (influxtest.Command); started here
// because influxtest.Start needs a testing.TB for its temporary folder and
// cleanup.
type influxd struct {
	cmd    *exec.Cmd
	dir    string
	url    string
	out    bytes.Buffer
	exited chan struct{}
	client *http.Client
}

const influxdStartTimeout = 30 * time.Second

func startInfluxd(bin string) (*influxd, error) {
	httpAddr, err := influxtest.FreeAddr()
	if err != nil {
		return nil, err
	}
	rpcAddr, err := influxtest.FreeAddr()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "benchsuite-influxd-")
	if err != nil {
		return nil, err
	}
	s := &influxd{dir: dir, url: "http://" + httpAddr, exited: make(chan struct{}), client: &http.Client{Timeout: 30 * time.Second}}
	s.cmd = influxtest.Command(bin, httpAddr, rpcAddr, dir)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(influxdStartTimeout)
	for {
		resp, err := s.client.Get(s.url + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("influxd exited before answering /ping:\n%s", s.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("influxd did not answer /ping within %v", influxdStartTimeout)
		}
	}
}

// stop sends SIGTERM, kills after 10 s, and removes the data folder.
func (s *influxd) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	os.RemoveAll(s.dir)
}

// query runs one InfluxQL statement (POST, so it may write).
func (s *influxd) query(db, q string) ([]byte, error) {
	resp, err := s.client.PostForm(s.url+"/query", url.Values{"db": {db}, "q": {q}, "epoch": {"ns"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("query %q: %s: %s", q, resp.Status, b)
	}
	return b, nil
}

// count returns how many points of db's measurement m have a request_time.
func (s *influxd) count(db, m string) (int64, error) {
	b, err := s.query(db, "SELECT count(request_time) FROM "+m)
	if err != nil {
		return 0, err
	}
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]json.Number `json:"values"`
			} `json:"series"`
			Error string `json:"error"`
		} `json:"results"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		return 0, fmt.Errorf("count: %w: %s", err, b)
	}
	if len(r.Results) == 0 {
		return 0, nil
	}
	if r.Results[0].Error != "" {
		return 0, fmt.Errorf("count: %s", r.Results[0].Error)
	}
	if len(r.Results[0].Series) == 0 || len(r.Results[0].Series[0].Values) == 0 || len(r.Results[0].Series[0].Values[0]) < 2 {
		return 0, nil
	}
	return r.Results[0].Series[0].Values[0][1].Int64()
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux build that matters here.
const clockTicks = 100

// cpu returns the server's user+sys CPU so far and its peak RSS in bytes
// (VmHWM), from /proc (Linux only; 0 elsewhere).
func (s *influxd) cpu() (time.Duration, int64) {
	return procCPU(s.cmd.Process.Pid), procHWM(s.cmd.Process.Pid)
}

// procCPU returns the user+sys CPU of process pid so far, from
// /proc/PID/stat, or 0 when /proc does not tell.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) <= 12 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * time.Second / clockTicks
}

// procHWM returns VmHWM, the peak RSS of process pid in bytes, or 0 when
// /proc does not tell (another OS, or the process has exited).
func procHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
