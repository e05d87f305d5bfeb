//go:build unix

package acctest

import (
	"os/exec"
	"strconv"
	"syscall"
)

// wrapper runs moto_server in the background and kills its own process group
// as soon as stdin (the lifeline pipe) reaches end of file, which happens
// when the test process closes it or dies. Background jobs of a
// non-interactive shell read /dev/null, so the lifeline is kept on fd 3.
const wrapper = `exec 3<&0 </dev/null
"$1" -H 127.0.0.1 -p "$2" 3<&- &
moto=$!
( read -r _line <&3; kill -9 0 ) >/dev/null 2>&1 &
exec 3<&-
wait "$moto"`

func motoCommand(bin string, port int) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", wrapper, "moto-wrapper", bin, strconv.Itoa(port))
	// Own process group: one kill reaches the wrapper, the server and the
	// watcher, and a Ctrl-C aimed at go test does not race our cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
