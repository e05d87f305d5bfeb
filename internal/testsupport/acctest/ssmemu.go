package acctest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// SSMEmulator is the project's SSM Automation emulator
// (tools/ssm-automation-emulator) running as its own process in front of a
// moto_server: executions run in that process, so they outlive a provider
// or Terraform process that a test kills.
type SSMEmulator struct {
	endpoint string
	moto     *Moto
	cmd      *exec.Cmd
	// lifeline is the emulator's standard input (it runs with
	// -exit-with-stdin): closed when this process dies, which ends the
	// emulator too.
	lifeline io.WriteCloser
	logPath  string
	exited   chan struct{}
	stopOnce sync.Once
}

var emulatorBuild struct {
	sync.Mutex
	path string
	err  error
}

// buildEmulator builds the emulator command once per test process.
func buildEmulator() (string, error) {
	emulatorBuild.Lock()
	defer emulatorBuild.Unlock()
	if emulatorBuild.path != "" || emulatorBuild.err != nil {
		return emulatorBuild.path, emulatorBuild.err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		emulatorBuild.err = fmt.Errorf("no go command to build the SSM Automation emulator with: %w", err)
		return "", emulatorBuild.err
	}
	mod, err := exec.Command(goBin, "env", "GOMOD").Output()
	root := filepath.Dir(strings.TrimSpace(string(mod)))
	if err != nil || root == "" || root == "." {
		emulatorBuild.err = fmt.Errorf("cannot find the module root to build the SSM Automation emulator (go env GOMOD: %v)", err)
		return "", emulatorBuild.err
	}
	dir, err := os.MkdirTemp("", "ssm-automation-emulator-")
	if err != nil {
		emulatorBuild.err = err
		return "", err
	}
	bin := filepath.Join(dir, "ssm-automation-emulator")
	build := exec.Command(goBin, "build", "-o", bin, "./tools/ssm-automation-emulator")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		emulatorBuild.err = fmt.Errorf("building the SSM Automation emulator: %v\n%s", err, out)
		return "", emulatorBuild.err
	}
	emulatorBuild.path = bin
	return bin, nil
}

// StartSSMEmulator builds and starts the emulator in front of m for this
// test and stops it in tb.Cleanup. args are extra command-line flags (e.g.
// "-max-concurrent", "2"); documents' assumeRole is not assumed
// (-ignore-assume-role), since the test recipes name placeholder roles.
func StartSSMEmulator(tb testing.TB, m *Moto, args ...string) *SSMEmulator {
	tb.Helper()
	e, err := startSSMEmulator(m, args...)
	if err != nil {
		tb.Fatal(err)
		return nil
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("SSM Automation emulator at %s, last lines of its log:\n%s", e.endpoint, e.LogTail(60))
		}
		e.Stop()
	})
	return e
}

var sharedEmulator struct {
	sync.Mutex
	emu *SSMEmulator
	err error
}

// SharedSSMEmulator is one emulator for the whole test process, in front of
// m, started on first use (default quotas and rates, as AWS publishes them).
// It stops when the process exits.
func SharedSSMEmulator(tb testing.TB, m *Moto) *SSMEmulator {
	tb.Helper()
	sharedEmulator.Lock()
	defer sharedEmulator.Unlock()
	if sharedEmulator.emu == nil && sharedEmulator.err == nil {
		sharedEmulator.emu, sharedEmulator.err = startSSMEmulator(m)
	}
	if sharedEmulator.err != nil {
		tb.Fatal(sharedEmulator.err)
	}
	return sharedEmulator.emu
}

func startSSMEmulator(m *Moto, args ...string) (*SSMEmulator, error) {
	if m == nil {
		return nil, errors.New("the SSM Automation emulator needs a moto_server")
	}
	bin, err := buildEmulator()
	if err != nil {
		return nil, err
	}
	logFile, err := os.CreateTemp("", "ssm-automation-emulator-*.log")
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, append([]string{"-moto", m.Endpoint(), "-listen", "127.0.0.1:0", "-exit-with-stdin", "-ignore-assume-role"}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_REGION="+Region)
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	e := &SSMEmulator{moto: m, cmd: cmd, lifeline: stdin, logPath: logFile.Name(), exited: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, r)
	}()
	go func() {
		_ = cmd.Wait()
		close(e.exited)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), motoReadyTimeout)
	defer cancel()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
		if !ok {
			e.Stop()
			return nil, fmt.Errorf("the SSM Automation emulator printed %q instead of its address; its log:\n%s", line, e.LogTail(20))
		}
		e.endpoint = url
	case <-ctx.Done():
		e.Stop()
		return nil, fmt.Errorf("the SSM Automation emulator did not start within %s; its log:\n%s", motoReadyTimeout, e.LogTail(20))
	}
	return e, nil
}

// Endpoint is the emulator's base URL: the SSM endpoint of the provider
// under test, or every service's (see Env).
func (e *SSMEmulator) Endpoint() string { return e.endpoint }

// Env is the environment that sends all of the AWS SDK's traffic through
// the emulator (which answers SSM Automation and the EC2 operations moto
// lacks, and forwards the rest to moto): Moto.Env with AWS_ENDPOINT_URL set
// to the emulator.
func (e *SSMEmulator) Env() map[string]string {
	env := e.moto.Env()
	env["AWS_ENDPOINT_URL"] = e.endpoint
	return env
}

// SetEnv applies Env for the duration of the test. Like tb.Setenv it cannot
// be used in parallel tests.
func (e *SSMEmulator) SetEnv(tb testing.TB) {
	tb.Helper()
	for k, v := range e.Env() {
		tb.Setenv(k, v)
	}
}

// Stop ends the emulator (its executions end Cancelled) and waits for it.
func (e *SSMEmulator) Stop() {
	e.stopOnce.Do(func() {
		_ = e.lifeline.Close()
		select {
		case <-e.exited:
		case <-time.After(15 * time.Second):
			_ = e.cmd.Process.Kill()
			<-e.exited
		}
		os.Remove(e.logPath)
	})
}

// Log is the emulator's whole log.
func (e *SSMEmulator) Log() string {
	data, err := os.ReadFile(e.logPath)
	if err != nil {
		return "(log unavailable: " + err.Error() + ")"
	}
	return string(data)
}

// LogTail is the last lines of the emulator's log.
func (e *SSMEmulator) LogTail(lines int) string {
	all := strings.Split(strings.TrimRight(e.Log(), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
