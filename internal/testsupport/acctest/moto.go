// Package acctest is the acceptance-test harness: it runs moto_server, an
// independent AWS emulator, on a free loopback port and checks that the
// Terraform CLI for terraform-plugin-testing is configured.
//
// It depends on the standard library only, so that every test package can
// import it without pulling the provider in.
package acctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Region is the region the emulator is addressed with.
const Region = "us-east-1"

// lambdaConfig keeps Lambda Invoke working on machines without Docker: moto
// then echoes the request payload instead of running the function.
const lambdaConfig = `{"lambda":{"use_docker":false}}`

// motoReadyTimeout is generous because several test binaries may start
// emulators at once on a two-core machine.
const motoReadyTimeout = 60 * time.Second

// errExitedEarly marks a moto_server that quit before answering, most often
// because another process took the port between probing and binding.
var errExitedEarly = errors.New("moto_server exited before answering")

// Moto is a running moto_server.
type Moto struct {
	endpoint string
	cmd      *exec.Cmd
	// lifeline is the write end of a pipe the server's wrapper reads; when
	// this process dies for any reason the kernel closes it and the wrapper
	// kills the server, so no emulator outlives a crashed test binary.
	lifeline *os.File
	logPath  string
	exited   chan struct{}
	client   *http.Client
	stopOnce sync.Once
}

// StartMoto starts a moto_server for this test and stops it in tb.Cleanup.
// It fails the test with a clear message when moto_server is not installed.
func StartMoto(tb testing.TB) *Moto {
	tb.Helper()
	m, err := startMoto()
	if err != nil {
		tb.Fatal(err)
		return nil
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("moto_server at %s, last lines of its log:\n%s", m.endpoint, m.logTail(40))
		}
		m.stop()
	})
	return m
}

var shared struct {
	sync.Mutex
	moto *Moto
	refs int
}

// SharedMoto returns the emulator shared by the whole test process, starting
// it on first use, for TestMain:
//
//	moto, stop, err := acctest.SharedMoto()
//	if err != nil { fmt.Fprintln(os.Stderr, err); os.Exit(1) }
//	code := m.Run()
//	stop()
//	os.Exit(code)
//
// The server stops when every caller has called its stop function; calling
// stop more than once is harmless. Tests sharing it should call Reset before
// they rely on an empty emulator.
func SharedMoto() (*Moto, func(), error) {
	shared.Lock()
	defer shared.Unlock()
	if shared.moto == nil {
		m, err := startMoto()
		if err != nil {
			return nil, func() {}, err
		}
		shared.moto = m
	}
	shared.refs++
	m := shared.moto
	var once sync.Once
	release := func() {
		once.Do(func() {
			shared.Lock()
			defer shared.Unlock()
			shared.refs--
			if shared.refs == 0 && shared.moto == m {
				shared.moto = nil
				m.stop()
			}
		})
	}
	return m, release, nil
}

// Endpoint is the server's base URL, e.g. http://127.0.0.1:40123.
func (m *Moto) Endpoint() string { return m.endpoint }

// Reset drops every resource the emulator holds and re-applies the Lambda
// configuration.
func (m *Moto) Reset(tb testing.TB) {
	tb.Helper()
	if err := m.post("/moto-api/reset", ""); err != nil {
		tb.Fatal(err)
		return
	}
	if err := m.configure(); err != nil {
		tb.Fatal(err)
	}
}

// Env is the environment that points the AWS SDK's default chain at the
// emulator. AWS_SESSION_TOKEN and AWS_PROFILE are emptied so that a
// developer's own AWS session cannot leak into a test.
func (m *Moto) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":          m.endpoint,
		"AWS_REGION":                Region,
		"AWS_ACCESS_KEY_ID":         "test",
		"AWS_SECRET_ACCESS_KEY":     "test",
		"AWS_SESSION_TOKEN":         "",
		"AWS_PROFILE":               "",
		"AWS_EC2_METADATA_DISABLED": "true",
	}
}

// SetEnv applies Env for the duration of the test. Like tb.Setenv it cannot
// be used in parallel tests; those share an environment set up in TestMain.
func (m *Moto) SetEnv(tb testing.TB) {
	tb.Helper()
	for k, v := range m.Env() {
		tb.Setenv(k, v)
	}
}

func startMoto() (*Moto, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("moto_server not found on PATH (%v); the acceptance tests run against the moto AWS emulator: install it with `pip install 'moto[server]'` and make sure moto_server is on PATH", err)
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		m, err := launch(bin, port)
		if err == nil {
			return m, nil
		}
		lastErr = err
		if !errors.Is(err, errExitedEarly) {
			break
		}
	}
	return nil, lastErr
}

// freePort asks the kernel for an unused loopback port. Another process may
// take it before moto binds; startMoto retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func launch(bin string, port int) (*Moto, error) {
	logFile, err := os.CreateTemp("", "moto-*.log")
	if err != nil {
		return nil, fmt.Errorf("creating moto_server log: %w", err)
	}
	defer logFile.Close()
	r, w, err := os.Pipe()
	if err != nil {
		os.Remove(logFile.Name())
		return nil, fmt.Errorf("creating moto_server lifeline: %w", err)
	}
	cmd := motoCommand(bin, port)
	cmd.Stdin = r
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		os.Remove(logFile.Name())
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	r.Close()

	m := &Moto{
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		cmd:      cmd,
		lifeline: w,
		logPath:  logFile.Name(),
		exited:   make(chan struct{}),
		// No proxy: the emulator is on loopback and must be reached directly.
		// A reset can take many seconds when the machine is busy.
		client: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{Proxy: nil}},
	}
	go func() {
		_ = cmd.Wait()
		close(m.exited)
	}()
	if err := m.waitReady(time.Now().Add(motoReadyTimeout)); err != nil {
		m.stop()
		return nil, err
	}
	if err := m.configure(); err != nil {
		m.stop()
		return nil, err
	}
	return m, nil
}

func (m *Moto) waitReady(deadline time.Time) error {
	for {
		select {
		case <-m.exited:
			return fmt.Errorf("%w (%s); its log:\n%s", errExitedEarly, m.endpoint, m.logTail(20))
		default:
		}
		resp, err := m.probe()
		if err == nil {
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("moto_server did not answer on %s/moto-api/ within %s (last error: %v); its log:\n%s",
				m.endpoint, motoReadyTimeout, err, m.logTail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probe asks for the dashboard with a short timeout, so that one slow
// answer during start-up does not eat the whole deadline.
func (m *Moto) probe() (*http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.endpoint+"/moto-api/", nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, err
	}
	// Read the body before cancel runs; the caller only needs the status.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

func (m *Moto) configure() error {
	return m.post("/moto-api/config", lambdaConfig)
}

func (m *Moto) post(path, body string) error {
	req, err := http.NewRequest(http.MethodPost, m.endpoint+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s on moto_server: %w", path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s on moto_server: HTTP %d: %s", path, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// stop kills the server with its whole process group and waits for the
// wrapper to exit.
func (m *Moto) stop() {
	m.stopOnce.Do(func() {
		killGroup(m.cmd)
		m.lifeline.Close()
		select {
		case <-m.exited:
		case <-time.After(10 * time.Second):
		}
		m.client.CloseIdleConnections()
		os.Remove(m.logPath)
	})
}

func (m *Moto) logTail(lines int) string {
	data, err := os.ReadFile(m.logPath)
	if err != nil {
		return "(log unavailable: " + err.Error() + ")"
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
