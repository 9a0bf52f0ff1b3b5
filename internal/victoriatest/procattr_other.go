//go:build !linux

package victoriatest

import "os/exec"

// dieWithTest does nothing where there is no Pdeathsig: a killed test
// leaves its server running there.
func dieWithTest(*exec.Cmd) {}
