//go:build linux

package childproc

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

// helperEnv makes TestHelperStartThenHang start a child with DieWithParent,
// print its pid and hang: a test killed mid-run, whose cleanups never run.
const helperEnv = "CHILDPROC_HELPER_HANG"

func TestHelperStartThenHang(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("run by TestChildDiesWithParent")
	}
	cmd := exec.Command("sleep", "60")
	DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("pid " + strconv.Itoa(cmd.Process.Pid) + "\n")
	time.Sleep(time.Minute)
}

// TestChildDiesWithParent: the child of a process killed without running
// its cleanups goes with it (influxtest and victoriatest start their
// servers so; victoriatest's TestServerDiesWithItsTest checks a real one).
func TestChildDiesWithParent(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStartThenHang$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
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
		t.Fatal("the helper test printed no child pid")
	}
	for end := time.Now().Add(5 * time.Second); running(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d still runs 5s after its parent was killed", pid)
		}
	}
}

// running reports whether process pid exists and is not a zombie: the
// child is not ours, and whoever inherits it may reap it late.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return rest != "" && rest[0] != 'Z' && rest[0] != 'X'
}
