//go:build unix

package acctest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMotoCleanupStopsServer(t *testing.T) {
	skipIfShort(t)
	var endpoint string
	t.Run("user", func(t *testing.T) {
		m := StartMoto(t)
		endpoint = m.Endpoint()
		if !answers(endpoint) {
			t.Fatal("server does not answer right after StartMoto")
		}
	})
	if endpoint == "" {
		t.Fatal("subtest did not start a server")
	}
	// The wrapper is reaped before cleanup returns; the server dies from the
	// same group kill but may take a moment longer on a loaded machine.
	if !waitSilent(endpoint, 5*time.Second) {
		t.Errorf("%s still answers after the test that started it ended", endpoint)
	}
}

// TestMotoHelperCrash is run by TestMotoDiesWithTestProcess in a child test
// binary: it starts a server, reports it, and crashes the way a panic in a
// goroutine or a -timeout does, without running cleanups.
func TestMotoHelperCrash(t *testing.T) {
	if os.Getenv("AMIBAKE_ACCTEST_HELPER") != "crash" {
		t.Skip("helper for TestMotoDiesWithTestProcess")
	}
	m := StartMoto(t)
	fmt.Printf("MOTO %s %d\n", m.Endpoint(), m.cmd.Process.Pid)
	go panic("simulated crash of the test binary")
	time.Sleep(time.Minute)
}

func TestMotoDiesWithTestProcess(t *testing.T) {
	skipIfShort(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestMotoHelperCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), "AMIBAKE_ACCTEST_HELPER=crash")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	var endpoint string
	pgid := 0
	sc := bufio.NewScanner(out)
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "MOTO" {
			endpoint = f[1]
			pgid, _ = strconv.Atoi(f[2])
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	werr := cmd.Wait()
	if endpoint == "" || pgid == 0 {
		t.Fatalf("helper did not report a server (exit: %v); output:\n%s", werr, strings.Join(seen, "\n"))
	}
	if werr == nil {
		t.Fatal("helper exited cleanly, want a crash")
	}
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })

	if !waitSilent(endpoint, 10*time.Second) {
		t.Errorf("moto_server at %s outlived the crashed test binary", endpoint)
	}
}
