package victoriatest

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill the server when the test process dies
// without running its cleanups (go test -timeout, ^C, a killed CI job),
// instead of leaving it running. Pdeathsig fires when the thread that
// started the server exits; Go keeps threads alive unless a goroutine
// exits locked to one, which Start's callers do not do.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
