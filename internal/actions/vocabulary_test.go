package actions

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// runStep runs an action as the engine would: inputs normalised and coerced
// to the catalogue's types, under a deadline.
func runStep(t *testing.T, env *Env, action string, in map[string]any, outs ...document.StepOutput) (Result, error) {
	t.Helper()
	a, ok := Lookup(action)
	if !ok {
		t.Fatalf("action %s not registered", action)
	}
	spec, _ := document.LookupAction(action)
	coerced := map[string]any{}
	for k, v := range in {
		v = document.NormalizeValue(v)
		if is, ok := spec.Input(k); ok {
			var err error
			if v, err = document.Coerce(v, is.Type); err != nil {
				t.Fatalf("input %s: %v", k, err)
			}
		}
		coerced[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.Run(ctx, env, &document.Step{Name: "s1", Action: action, Outputs: outs}, coerced)
}

func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
}

func scriptEnvFor() *Env {
	return &Env{Clients: &awsx.Clients{Region: "eu-west-1", AccountID: "123456789012", Partition: "aws"}, ExecutionID: "exec-1", Ledger: NewLedger()}
}

func TestExecuteScript_python(t *testing.T) {
	needPython(t)
	res, err := runStep(t, scriptEnvFor(), "aws:executeScript", map[string]any{
		"Runtime": "python3.11",
		"Handler": "script_handler",
		"Script": `import os
def script_handler(events, context):
    print("hello from the script")
    return {"sum": events["a"] + events["b"], "exec": context["automation:EXECUTION_ID"],
            "region": os.environ.get("AWS_REGION"), "list": [1, 2]}`,
		"InputPayload": map[string]any{"a": 2, "b": 3},
	}, document.StepOutput{Name: "Sum", Selector: "$.Payload.sum", Type: "Integer"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := res.Outputs["Payload"].(map[string]any)
	if p["sum"] != int64(5) || p["exec"] != "exec-1" || p["region"] != "eu-west-1" {
		t.Errorf("Payload = %#v", res.Outputs["Payload"])
	}
	if res.Outputs["Sum"] != int64(5) {
		t.Errorf("Sum = %#v", res.Outputs["Sum"])
	}
}

func TestExecuteScript_failures(t *testing.T) {
	needPython(t)
	cases := []struct {
		name    string
		in      map[string]any
		timeout time.Duration
		want    string
	}{
		{"exception", map[string]any{"Runtime": "python3.11", "Handler": "h", "Script": "def h(e, c):\n    raise ValueError('bad input')"}, 0, "ValueError: bad input"},
		{"no such handler", map[string]any{"Runtime": "python3.11", "Handler": "nope", "Script": "def h(e, c):\n    return 1"}, 0, "has no function 'nope'"},
		{"not JSON", map[string]any{"Runtime": "python3.11", "Handler": "h", "Script": "def h(e, c):\n    return float('nan')"}, 0, "not JSON"},
		{"too large", map[string]any{"Runtime": "python3.11", "Handler": "h", "Script": "def h(e, c):\n    return 'x' * 200000"}, 0, "at most 100 KB"},
		{"timeout", map[string]any{"Runtime": "python3.11", "Handler": "h", "Script": "import time\ndef h(e, c):\n    time.sleep(30)"}, time.Second, "did not finish in time"},
		{"unknown runtime", map[string]any{"Runtime": "ruby3.2", "Handler": "h", "Script": "x"}, 0, "neither Python"},
		{"attachment without files", map[string]any{"Runtime": "python3.11", "Handler": "a.h", "Attachment": "a.py"}, 0, `executor = "ssm"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := scriptEnvFor()
			a, _ := Lookup("aws:executeScript")
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			started := time.Now()
			_, err := a.Run(ctx, env, &document.Step{Name: "s"}, document.NormalizeValue(tc.in).(map[string]any))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if time.Since(started) > 10*time.Second {
				t.Errorf("took %s", time.Since(started))
			}
		})
	}
}

func TestExecuteScript_missingInterpreter(t *testing.T) {
	old := pythonInterpreter
	pythonInterpreter = "python3-not-installed-here"
	defer func() { pythonInterpreter = old }()
	_, err := runStep(t, scriptEnvFor(), "aws:executeScript", map[string]any{"Runtime": "python3.11", "Handler": "h", "Script": "def h(e, c): pass"})
	var mi *MissingInterpreterError
	if !errors.As(err, &mi) || !strings.Contains(err.Error(), "install Python 3") || !strings.Contains(err.Error(), `executor = "ssm"`) {
		t.Fatalf("err = %v", err)
	}
	powershellInterpreter = "pwsh-not-installed-here"
	defer func() { powershellInterpreter = "pwsh" }()
	_, err = runStep(t, scriptEnvFor(), "aws:executeScript", map[string]any{"Runtime": "PowerShell 7.4", "Script": "1"})
	if err == nil || !strings.Contains(err.Error(), "PowerShell 7 (the pwsh command)") {
		t.Fatalf("err = %v", err)
	}
}

func TestExecuteScript_powershell(t *testing.T) {
	if _, err := exec.LookPath("pwsh"); err != nil {
		t.Skip("pwsh is not installed")
	}
	res, err := runStep(t, scriptEnvFor(), "aws:executeScript", map[string]any{
		"Runtime":      "PowerShell 7.4",
		"Script":       `$in = $env:InputPayload | ConvertFrom-Json; @{ doubled = $in.n * 2 }`,
		"InputPayload": map[string]any{"n": 21},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := res.Outputs["Payload"].(map[string]any); p["doubled"] != int64(42) {
		t.Errorf("Payload = %#v", res.Outputs["Payload"])
	}
}

// An attachment, zipped, is unpacked beside the script, checked against the
// document's checksum, and its module called as file.function.
func TestExecuteScript_attachment(t *testing.T) {
	needPython(t)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("lib/helper.py")
	_, _ = w.Write([]byte("def double(e, c):\n    return {'v': e['n'] * 2}\n"))
	w, _ = zw.Create("lib/__init__.py")
	_, _ = w.Write(nil)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write(data) }))
	defer srv.Close()
	sum := sha256.Sum256(data)
	files := map[string]any{"lib.zip": map[string]any{"checksums": map[string]any{"sha256": hex.EncodeToString(sum[:])}}}

	env := scriptEnvFor()
	env.Files = CheckedAttachments(URLAttachments(srv.Client(), map[string]string{"lib.zip": srv.URL}), files)
	res, err := runStep(t, env, "aws:executeScript", map[string]any{
		"Runtime": "python3.11", "Handler": "lib.helper.double", "Attachment": "lib.zip", "InputPayload": map[string]any{"n": 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := res.Outputs["Payload"].(map[string]any); p["v"] != int64(8) {
		t.Errorf("Payload = %#v", res.Outputs["Payload"])
	}

	// A checksum that does not match refuses the attachment.
	files["lib.zip"] = map[string]any{"checksums": map[string]any{"sha256": strings.Repeat("0", 64)}}
	env.Files = CheckedAttachments(URLAttachments(srv.Client(), map[string]string{"lib.zip": srv.URL}), files)
	if _, err := runStep(t, env, "aws:executeScript", map[string]any{"Runtime": "python3.11", "Handler": "lib.helper.double", "Attachment": "lib.zip"}); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnzipRefusesEscapes(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("../evil.py")
	_, _ = w.Write([]byte("x"))
	_ = zw.Close()
	if err := unzip(buf.Bytes(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "leaves") {
		t.Fatalf("err = %v", err)
	}
}

// fakeCFN is CloudFormation with instant or scripted outcomes.
type fakeCFN struct {
	mu        sync.Mutex
	stacks    map[string]*cfntypes.Stack // by id
	final     cfntypes.StackStatus       // status a created stack ends in
	createErr error
	// keepExisting: a CreateStack for a name already taken makes nothing.
	keepExisting bool
	calls        []string
	tokens       []string
}

func newFakeCFN() *fakeCFN {
	return &fakeCFN{stacks: map[string]*cfntypes.Stack{}, final: cfntypes.StackStatusCreateComplete}
}

func (f *fakeCFN) CreateStack(_ context.Context, in *cloudformation.CreateStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "CreateStack")
	f.tokens = append(f.tokens, aws.ToString(in.ClientRequestToken))
	if f.keepExisting && f.find(aws.ToString(in.StackName)) != nil {
		return nil, f.createErr // the call failed and made nothing
	}
	id := "arn:aws:cloudformation:eu-west-1:123456789012:stack/" + aws.ToString(in.StackName) + "/1"
	f.stacks[id] = &cfntypes.Stack{StackId: aws.String(id), StackName: in.StackName, StackStatus: f.final, Tags: in.Tags,
		StackStatusReason: aws.String("as scripted"), CreationTime: aws.Time(time.Now())}
	if f.createErr != nil {
		return nil, f.createErr
	}
	return &cloudformation.CreateStackOutput{StackId: aws.String(id)}, nil
}

func (f *fakeCFN) find(idOrName string) *cfntypes.Stack {
	for id, s := range f.stacks {
		if id == idOrName || (aws.ToString(s.StackName) == idOrName && s.StackStatus != cfntypes.StackStatusDeleteComplete) {
			return s
		}
	}
	return nil
}

func (f *fakeCFN) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.find(aws.ToString(in.StackName))
	if s == nil {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id " + aws.ToString(in.StackName) + " does not exist"}
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{*s}}, nil
}

func (f *fakeCFN) DeleteStack(_ context.Context, in *cloudformation.DeleteStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "DeleteStack "+aws.ToString(in.StackName))
	if s := f.find(aws.ToString(in.StackName)); s != nil {
		s.StackStatus = cfntypes.StackStatusDeleteComplete
	}
	return &cloudformation.DeleteStackOutput{}, nil
}

func (f *fakeCFN) live() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id, s := range f.stacks {
		if s.StackStatus != cfntypes.StackStatusDeleteComplete {
			out = append(out, id)
		}
	}
	return out
}

func stackEnv(f *fakeCFN) *Env {
	c := &awsx.Clients{CloudFormation: f, Region: "eu-west-1", Policy: testPolicy}
	return &Env{Clients: c, Ledger: NewLedger(), ExecutionID: "exec-1", Tags: map[string]string{"amibake:execution-id": "exec-1", "team": "x"}}
}

func TestCreateStack(t *testing.T) {
	f := newFakeCFN()
	env := stackEnv(f)
	res, err := runStep(t, env, "aws:createStack", map[string]any{
		"StackName": "net", "TemplateBody": "{}", "Tags": []any{map[string]any{"Key": "team", "Value": "mine"}},
		"Parameters": []any{map[string]any{"ParameterKey": "A", "ParameterValue": "1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.Outputs["StackId"].(string)
	if res.Outputs["StackStatus"] != "CREATE_COMPLETE" || id == "" {
		t.Errorf("outputs %v", res.Outputs)
	}
	if st := env.Ledger.Stacks(); len(st) != 1 || st[0].ID != id {
		t.Errorf("ledger %v", st)
	}
	tags := map[string]string{}
	for _, tg := range f.stacks[id].Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if tags["team"] != "mine" || tags["amibake:execution-id"] != "exec-1" {
		t.Errorf("stack tags %v", tags)
	}
	if !strings.HasPrefix(f.tokens[0], "amibake-exec-1-s1") {
		t.Errorf("client token %q", f.tokens[0])
	}

	// Cleanup of a failed run deletes it.
	rep, err := Cleanup(context.Background(), env, CleanupOptions{DeleteStacks: true})
	if err != nil || len(rep.DeletedStacks) != 1 || len(f.live()) != 0 {
		t.Fatalf("cleanup %+v, %v; live %v", rep, err, f.live())
	}
}

func TestCreateStack_failures(t *testing.T) {
	// A stack that rolls back fails the step and stays in the ledger.
	f := newFakeCFN()
	f.final = cfntypes.StackStatusRollbackComplete
	env := stackEnv(f)
	_, err := runStep(t, env, "aws:createStack", map[string]any{"StackName": "net", "TemplateBody": "{}"})
	if err == nil || !strings.Contains(err.Error(), "ROLLBACK_COMPLETE") {
		t.Fatalf("err = %v", err)
	}
	if len(env.Ledger.Stacks()) != 1 {
		t.Errorf("ledger %v", env.Ledger.Stacks())
	}

	// A CreateStack whose answer is lost, but that made the stack, is
	// recorded by the run's tag.
	f = newFakeCFN()
	f.createErr = errors.New("connection reset")
	env = stackEnv(f)
	if _, err := runStep(t, env, "aws:createStack", map[string]any{"StackName": "net", "TemplateBody": "{}"}); err == nil {
		t.Fatal("no error")
	}
	if st := env.Ledger.Stacks(); len(st) != 1 {
		t.Fatalf("ledger %v", st)
	}
	if _, err := Cleanup(context.Background(), env, CleanupOptions{DeleteStacks: true}); err != nil || len(f.live()) != 0 {
		t.Fatalf("cleanup %v; live %v", err, f.live())
	}

	// A stack of someone else's that existed before the call, with the name
	// the run asks for and the run's tag put on it: a tag is no proof.
	f = newFakeCFN()
	old := "arn:aws:cloudformation:eu-west-1:123456789012:stack/net/0"
	f.stacks[old] = &cfntypes.Stack{StackId: aws.String(old), StackName: aws.String("net"), StackStatus: cfntypes.StackStatusCreateComplete,
		CreationTime: aws.Time(time.Now().Add(-time.Hour)),
		Tags:         []cfntypes.Tag{{Key: aws.String("amibake:execution-id"), Value: aws.String("exec-1")}}}
	f.createErr = errors.New("connection reset")
	f.keepExisting = true
	env = stackEnv(f)
	if _, err := runStep(t, env, "aws:createStack", map[string]any{"StackName": "net", "TemplateBody": "{}"}); err == nil {
		t.Fatal("no error")
	}
	if st := env.Ledger.Stacks(); len(st) != 0 {
		t.Fatalf("a stack that predates the call was recorded for deletion: %v", st)
	}
}

func TestDeleteStack(t *testing.T) {
	f := newFakeCFN()
	env := stackEnv(f)
	if _, err := runStep(t, env, "aws:createStack", map[string]any{"StackName": "net", "TemplateBody": "{}"}); err != nil {
		t.Fatal(err)
	}
	if _, err := runStep(t, env, "aws:deleteStack", map[string]any{"StackName": "net"}); err != nil {
		t.Fatal(err)
	}
	if st := env.Ledger.Stacks(); len(st) != 1 || !st[0].Deleted || len(f.live()) != 0 {
		t.Errorf("ledger %v, live %v", st, f.live())
	}
	// Deleting a stack that is gone is done.
	if _, err := runStep(t, env, "aws:deleteStack", map[string]any{"StackName": "net"}); err != nil {
		t.Fatal(err)
	}
}

func TestLoopAndControlActionsOutsideARun(t *testing.T) {
	for _, a := range []string{"aws:loop", "aws:updateVariable", "aws:executeAutomation"} {
		act, _ := Lookup(a)
		if _, err := act.Run(context.Background(), &Env{}, &document.Step{Name: "s"}, map[string]any{}); err == nil {
			t.Errorf("%s ran outside a run", a)
		}
	}
}
