package main

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/logmetrics/logmetrics/tailer"
)

// cmdReload checks a rules file and, when it is valid, asks the agent
// running on its state folder to reload it (SIGHUP). An invalid file is
// not sent: the agent would refuse it and keep its rules anyway, but the
// operator should see why here, not in the agent's log.
func cmdReload(e *env, args []string) int {
	fs := flags(e, "reload")
	path := configFlag(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if !noArgs(e, fs, "") {
		return exitUsage
	}
	cfg := loadConfig(e, "reload", *path)
	if cfg == nil {
		fmt.Fprintln(e.stderr, "logmetrics reload: not sent: the running agent keeps its rules")
		return exitUsage
	}
	pid, err := tailer.RunningAgent(cfg.Agent.StateDir)
	if err != nil {
		if errors.Is(err, tailer.ErrNotRunning) {
			err = fmt.Errorf("%w (%s)", err, cfg.Agent.StateDir)
		}
		fmt.Fprintf(e.stderr, "logmetrics reload: %v\n", err)
		return exitFailure
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		fmt.Fprintf(e.stderr, "logmetrics reload: signal pid %d: %v\n", pid, err)
		return exitFailure
	}
	fmt.Fprintf(e.stderr, "logmetrics reload: sent SIGHUP to pid %d; its log says whether the rules applied\n", pid)
	return exitOK
}
