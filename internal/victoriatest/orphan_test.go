package victoriatest

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes TestHelperServerThenHang start a server, print its pid
// and hang: a test killed mid-run (go test -timeout, ^C, a CI job's
// kill), whose cleanups never run.
const helperEnv = "VICTORIATEST_HELPER_HANG"

func TestHelperServerThenHang(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("run by TestServerDiesWithItsTest")
	}
	s := Start(t)
	os.Stdout.WriteString("pid " + strconv.Itoa(s.cmd.Process.Pid) + "\n")
	time.Sleep(time.Minute)
}

// TestServerDiesWithItsTest: a test process killed without running its
// cleanups takes its victoria-metrics with it, rather than leaving it
// running (and its data folder growing) until someone notices.
func TestServerDiesWithItsTest(t *testing.T) {
	findBinary(t) // skip or fail as Start would, before running the helper
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServerThenHang$", "-test.v")
	// The helper's temporary folders, which its killed cleanups leave,
	// go with this test's.
	cmd.Env = append(os.Environ(), helperEnv+"=1", "TMPDIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	sc := bufio.NewScanner(out)
	for pid == 0 && sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "pid "); ok {
			pid, _ = strconv.Atoi(p)
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if pid == 0 {
		t.Fatal("the helper test printed no server pid")
	}
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if !running(pid) {
			return
		}
		if time.Now().After(end) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("victoria-metrics %d still runs 5s after its test process was killed", pid)
		}
	}
}

// running reports whether process pid exists and is not a zombie: the
// server is not our child, and whoever inherits it may reap it late.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return rest != "" && rest[0] != 'Z' && rest[0] != 'X'
}
