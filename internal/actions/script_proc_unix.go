//go:build unix

package actions

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the script in a process group of its own, so that a timeout
// ends whatever it started too.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
