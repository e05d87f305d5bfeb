package actions

import (
	"archive/zip"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// Bounds of aws:executeScript, from the AWS Systems Manager User Guide
// (aws:executeScript): a script runs for at most 600 seconds, and "Up to
// 100KB is returned. If you output a list, a maximum of 100 items is
// returned."
const (
	MaxScriptDuration    = 600 * time.Second
	MaxScriptOutputBytes = 100 * 1024
	MaxScriptOutputItems = 100
	// scriptLogBytes is how much of the script's stdout and stderr is kept for
	// the log and the error.
	scriptLogBytes = 8 * 1024
)

//go:embed execute_script_runner.py
var pythonRunner string

//go:embed execute_script_runner.ps1
var powershellRunner string

// Interpreters aws:executeScript looks for on PATH; variables so that tests
// can point them elsewhere.
var (
	pythonInterpreter     = "python3"
	powershellInterpreter = "pwsh"
)

// executeScript is aws:executeScript, run on this machine: Python handlers in
// the local python3, called with the events (InputPayload) and context that
// SSM passes; PowerShell scripts in pwsh, with InputPayload in
// $env:InputPayload. The script sees the run's credentials, Region and
// endpoints in the AWS_* environment variables, so that boto3 or AWS.Tools
// reach the same cloud as the run. The Payload output is the JSON of what the
// handler returns; the step's own outputs select from {"Payload": ...}.
type executeScript struct{}

func init() { register("aws:executeScript", executeScript{}) }

func (executeScript) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	runtime, err := required(in, "Runtime")
	if err != nil {
		return Result{}, err
	}
	lang, err := scriptLanguage(runtime)
	if err != nil {
		return Result{}, err
	}
	interpreter := pythonInterpreter
	if lang == "powershell" {
		interpreter = powershellInterpreter
	}
	bin, err := exec.LookPath(interpreter)
	if err != nil {
		return Result{}, missingInterpreter(runtime, interpreter)
	}
	script, attachment := str(in, "Script"), str(in, "Attachment")
	if script == "" && attachment == "" {
		return Result{}, errors.New("give the script in Script or Attachment")
	}
	handler := str(in, "Handler")
	if lang == "python" && handler == "" {
		return Result{}, errors.New("input Handler is required for a Python script: the name of the function to call")
	}

	// The script's own deadline: the step's timeout when shorter.
	ctx, cancel := context.WithTimeout(ctx, MaxScriptDuration)
	defer cancel()

	dir, err := os.MkdirTemp("", "amibake-script-")
	if err != nil {
		return Result{}, fmt.Errorf("making the script's working directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if attachment != "" {
		if err := unpackAttachment(ctx, env, dir, attachment, lang); err != nil {
			return Result{}, err
		}
	}
	outPath := filepath.Join(dir, ".amibake-output.json")
	payload, err := json.Marshal(in["InputPayload"])
	if err != nil {
		return Result{}, fmt.Errorf("input InputPayload: %w", err)
	}
	if in["InputPayload"] == nil {
		payload = []byte("{}")
	}

	var cmd *exec.Cmd
	switch lang {
	case "python":
		module := ""
		if script != "" {
			module = "amibake_step_script"
			if err := os.WriteFile(filepath.Join(dir, module+".py"), []byte(script), 0o600); err != nil {
				return Result{}, err
			}
		} else if !strings.Contains(handler, ".") {
			return Result{}, fmt.Errorf("input Handler %q: a script given as an attachment is called as file.function (e.g. script.handler)", handler)
		}
		spec, err := json.Marshal(map[string]any{
			"dir": dir, "module": module, "handler": handler, "out": outPath,
			"events": json.RawMessage(payload), "context": scriptContext(env),
		})
		if err != nil {
			return Result{}, err
		}
		specPath := filepath.Join(dir, ".amibake-spec.json")
		runnerPath := filepath.Join(dir, ".amibake-runner.py")
		if err := os.WriteFile(specPath, spec, 0o600); err != nil {
			return Result{}, err
		}
		if err := os.WriteFile(runnerPath, []byte(pythonRunner), 0o600); err != nil {
			return Result{}, err
		}
		cmd = exec.CommandContext(ctx, bin, "-B", runnerPath, specPath)
	case "powershell":
		if script == "" {
			return Result{}, errors.New("input Script is required for PowerShell (an attachment only brings the files it uses)")
		}
		scriptPath := filepath.Join(dir, ".amibake-step-script.ps1")
		runnerPath := filepath.Join(dir, ".amibake-runner.ps1")
		if err := os.WriteFile(scriptPath, []byte(script), 0o600); err != nil {
			return Result{}, err
		}
		if err := os.WriteFile(runnerPath, []byte(powershellRunner), 0o600); err != nil {
			return Result{}, err
		}
		cmd = exec.CommandContext(ctx, bin, "-NoLogo", "-NoProfile", "-NonInteractive", "-File", runnerPath, scriptPath, outPath)
	}
	cmd.Dir = dir
	if cmd.Env, err = scriptEnv(ctx, env, dir, payload); err != nil {
		return Result{}, err
	}
	ownGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	stdout, stderr := &tailBuffer{max: scriptLogBytes}, &tailBuffer{max: scriptLogBytes}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	started := time.Now()
	env.info("running script", map[string]any{"runtime": runtime, "interpreter": bin})
	runErr := cmd.Run()
	fields := map[string]any{"elapsed": time.Since(started).Round(time.Millisecond).String()}
	if s := stdout.String(); s != "" {
		fields["stdout"] = s
	}
	env.info("script ended", fields)
	if runErr != nil {
		if ctx.Err() != nil {
			return Result{}, fmt.Errorf("the script did not finish in time: %w%s", ctx.Err(), scriptTail(stderr, stdout))
		}
		return Result{}, fmt.Errorf("the script failed (%v)%s", runErr, scriptTail(stderr, stdout))
	}
	result, err := readScriptOutput(outPath)
	if err != nil {
		return Result{}, err
	}
	res := Result{Outputs: map[string]any{"Payload": result}}
	if len(step.Outputs) > 0 {
		outs, err := selectOutputs(map[string]any{"Payload": result}, step.Outputs)
		if err != nil {
			return Result{}, err
		}
		for k, v := range outs {
			res.Outputs[k] = v
		}
	}
	return res, nil
}

// scriptLanguage tells Python from PowerShell by the Runtime input
// ("python3.11", "PowerShell 7.4", "PowerShell Core 6.0").
func scriptLanguage(runtime string) (string, error) {
	r := strings.ToLower(strings.TrimSpace(runtime))
	switch {
	case strings.HasPrefix(r, "python3"):
		return "python", nil
	case strings.HasPrefix(r, "powershell"):
		return "powershell", nil
	}
	return "", fmt.Errorf("input Runtime %q is neither Python 3 (python3.11) nor PowerShell (PowerShell 7.4)", runtime)
}

// MissingInterpreterError says which interpreter a script needs.
type MissingInterpreterError struct {
	Runtime, Interpreter string
}

func (e *MissingInterpreterError) Error() string {
	what := "Python 3 (the python3 command; with boto3 installed for scripts that call AWS)"
	if e.Interpreter == powershellInterpreter {
		what = "PowerShell 7 (the pwsh command)"
	}
	return fmt.Sprintf("runtime %s runs on this machine with %s, which is not on PATH: install %s, or run the recipe on SSM with executor = \"ssm\"",
		e.Runtime, e.Interpreter, what)
}

func missingInterpreter(runtime, interpreter string) error {
	return &MissingInterpreterError{Runtime: runtime, Interpreter: interpreter}
}

// scriptContext is the handler's second argument, as SSM passes it.
func scriptContext(env *Env) map[string]any {
	now := time.Now().UTC()
	c := map[string]any{
		"global:DATE":      now.Format("2006-01-02"),
		"global:DATE_TIME": now.Format("2006-01-02_15.04.05"),
	}
	if env != nil {
		c["automation:EXECUTION_ID"] = env.ExecutionID
		if cl := env.Clients; cl != nil {
			c["global:REGION"] = cl.Region
			c["global:ACCOUNT_ID"] = cl.AccountID
			c["global:AWS_PARTITION"] = cl.Partition
		}
	}
	return c
}

// scriptEnv is the script's environment: the run's AWS credentials and
// endpoints, and InputPayload for PowerShell.
func scriptEnv(ctx context.Context, env *Env, dir string, payload []byte) ([]string, error) {
	var out []string
	if env != nil && env.Clients != nil {
		var err error
		if out, err = env.Clients.ProcessEnv(ctx, nil); err != nil {
			return nil, err
		}
	} else {
		out = os.Environ()
	}
	return append(out,
		"InputPayload="+string(payload),
		"HOME="+homeDir(dir),
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
	), nil
}

func homeDir(fallback string) string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return fallback
}

// unpackAttachment puts the attachment in dir: a .zip is extracted, anything
// else written under its own name.
func unpackAttachment(ctx context.Context, env *Env, dir, name, lang string) error {
	if env == nil || env.Files == nil {
		return fmt.Errorf("input Attachment %q: the run has no attachments to give; attachments come with a runbook read from SSM "+
			"(aws:executeAutomation), or run the recipe with executor = \"ssm\"", name)
	}
	data, err := env.Files(ctx, name)
	if err != nil {
		return fmt.Errorf("input Attachment: %w", err)
	}
	if strings.HasSuffix(strings.ToLower(name), ".zip") {
		return unzip(data, dir)
	}
	if lang == "powershell" {
		return fmt.Errorf("input Attachment %q: PowerShell attachments are .zip files", name)
	}
	base := filepath.Base(name)
	if base == "." || base == "/" || strings.HasPrefix(base, ".amibake") {
		return fmt.Errorf("input Attachment %q is not a file name", name)
	}
	return os.WriteFile(filepath.Join(dir, base), data, 0o600)
}

// unzip extracts an archive into dir, refusing paths that leave it and
// archives larger than an attachment may be.
func unzip(data []byte, dir string) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("attachment: not a zip archive: %w", err)
	}
	var total int64
	for _, f := range zr.File {
		name := filepath.Clean(filepath.FromSlash(f.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return fmt.Errorf("attachment: archive entry %q leaves the working directory", f.Name)
		}
		target := filepath.Join(dir, name)
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return err
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("attachment: %s: %w", f.Name, err)
		}
		w, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			rc.Close()
			return err
		}
		n, err := io.Copy(w, io.LimitReader(rc, MaxAttachmentBytes-total+1))
		rc.Close()
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("attachment: %s: %w", f.Name, err)
		}
		if total += n; total > MaxAttachmentBytes {
			return fmt.Errorf("attachment: the archive unpacks to more than %d bytes", MaxAttachmentBytes)
		}
	}
	return nil
}

// readScriptOutput reads what the handler returned, within SSM's bounds.
func readScriptOutput(path string) (any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the script ended without a result: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxScriptOutputBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxScriptOutputBytes {
		return nil, fmt.Errorf("the script returned more than %d KB; aws:executeScript returns at most %d KB: return less, or put it in S3 or SSM Parameter Store",
			MaxScriptOutputBytes/1024, MaxScriptOutputBytes/1024)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the script's result is not JSON: %w", err)
	}
	v = document.NormalizeValue(v)
	if l, ok := v.([]any); ok && len(l) > MaxScriptOutputItems {
		v = l[:MaxScriptOutputItems]
	}
	return v, nil
}

// scriptTail is the end of the script's output, for its error.
func scriptTail(stderr, stdout *tailBuffer) string {
	if t := outputTail(stderr.String(), stdout.String()); t != "" {
		return ":\n" + t
	}
	return ""
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }
