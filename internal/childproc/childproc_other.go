//go:build !linux

package childproc

import "os/exec"

// DieWithParent does nothing where there is no Pdeathsig: a killed test
// leaves its server running there.
func DieWithParent(*exec.Cmd) {}
