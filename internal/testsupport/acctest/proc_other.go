//go:build !unix

package acctest

import (
	"os/exec"
	"strconv"
)

// Without process groups the server is started directly; it is still killed
// in cleanup, but not if the test binary itself crashes.
func motoCommand(bin string, port int) *exec.Cmd {
	return exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
}
