// Package childproc holds what the test helpers do to the servers they start
// (InfluxDB, VictoriaMetrics) so that none outlives its test.
package childproc

import (
	"os/exec"
	"syscall"
)

// DieWithParent has the kernel kill cmd's process when the process that
// started it dies without running its cleanups (go test -timeout, ^C, a
// killed CI job), instead of leaving a server running with its data folder.
// Pdeathsig fires when the thread that started the process exits; Go keeps
// threads alive unless a goroutine exits locked to one, which the helpers'
// callers do not do.
func DieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
