package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

func TestMain(m *testing.M) {
	retryBackoff = func(int) time.Duration { return time.Millisecond }
	os.Exit(m.Run())
}

var fixedNow = time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC)

// fakeAction is one step's behaviour in a script.
type fakeAction func(ctx context.Context, env *actions.Env, step *document.Step, in map[string]any) (actions.Result, error)

type call struct {
	step string
	in   map[string]any
	env  *actions.Env
}

// script stands in for every action: it runs the behaviour registered for the
// step's name (success with no outputs when none) and records each call.
type script struct {
	mu        sync.Mutex
	behaviour map[string]fakeAction
	// unsupported actions are refused by lookup.
	unsupported []string
	calls       []call
}

func (s *script) Run(ctx context.Context, env *actions.Env, step *document.Step, in map[string]any) (actions.Result, error) {
	s.mu.Lock()
	s.calls = append(s.calls, call{step: step.Name, in: in, env: env})
	b := s.behaviour[step.Name]
	s.mu.Unlock()
	if b == nil {
		return actions.Result{}, nil
	}
	return b(ctx, env, step, in)
}

func (s *script) lookup(name string) (actions.Action, bool) {
	if slices.Contains(s.unsupported, name) {
		return nil, false
	}
	return s, true
}

// ran lists the steps called, in order (one entry per attempt).
func (s *script) ran() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, c := range s.calls {
		names = append(names, c.step)
	}
	return names
}

func (s *script) input(step string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.step == step {
			return c.in
		}
	}
	return nil
}

func outputs(o map[string]any) fakeAction {
	return func(context.Context, *actions.Env, *document.Step, map[string]any) (actions.Result, error) {
		return actions.Result{Outputs: o}, nil
	}
}

func fails(msg string) fakeAction {
	return func(context.Context, *actions.Env, *document.Step, map[string]any) (actions.Result, error) {
		return actions.Result{}, errors.New(msg)
	}
}

func branchTo(next string) fakeAction {
	return func(context.Context, *actions.Env, *document.Step, map[string]any) (actions.Result, error) {
		return actions.Result{NextStep: next}, nil
	}
}

type stepOpt func(*document.Step)

func step(name, action string, opts ...stepOpt) document.Step {
	s := document.Step{Name: name, Action: action, Inputs: map[string]any{}}
	for _, o := range opts {
		o(&s)
	}
	return s
}

func inputs(m map[string]any) stepOpt { return func(s *document.Step) { s.Inputs = m } }
func onFailure(v string) stepOpt      { return func(s *document.Step) { s.OnFailure = v } }
func onCancel(v string) stepOpt       { return func(s *document.Step) { s.OnCancel = v } }
func nextStep(v string) stepOpt       { return func(s *document.Step) { s.NextStep = v } }
func isEnd() stepOpt                  { return func(s *document.Step) { t := true; s.IsEnd = &t } }
func isCritical(v bool) stepOpt       { return func(s *document.Step) { s.IsCritical = &v } }
func maxAttempts(n int64) stepOpt     { return func(s *document.Step) { s.MaxAttempts = &n } }
func timeout(n int64) stepOpt         { return func(s *document.Step) { s.TimeoutSeconds = &n } }

func doc(steps ...document.Step) *document.Document {
	return &document.Document{SchemaVersion: "0.3", MainSteps: steps}
}

// events collects what a run reports.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) of(kind string) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, ev := range e.all {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func options(s *script, ev *events) Options {
	o := Options{ExecutionID: "11111111-2222-4333-8444-555555555555", Now: func() time.Time { return fixedNow }, Lookup: s.lookup}
	if ev != nil {
		o.OnEvent = ev.add
	}
	return o
}

func statuses(res *Result) []string {
	var out []string
	for _, s := range res.Steps {
		out = append(out, s.Name+":"+s.Status)
	}
	return out
}

func TestRunLinearSuccess(t *testing.T) {
	s := &script{behaviour: map[string]fakeAction{
		"launch": outputs(map[string]any{"InstanceIds": []string{"i-0abc"}, "InstanceStates": []string{"running"}}),
		"image":  outputs(map[string]any{"ImageId": "ami-0def", "ImageState": "available"}),
	}}
	d := doc(
		step("launch", "aws:runInstances", inputs(map[string]any{"ImageId": "ami-base"})),
		step("image", "aws:createImage", inputs(map[string]any{"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "img-{{automation:EXECUTION_ID}}"})),
		step("stop", "aws:changeInstanceState", inputs(map[string]any{"InstanceIds": []any{"{{launch.InstanceIds}}"}, "DesiredState": "stopped"})),
	)
	ev := &events{}
	res, err := Run(context.Background(), d, nil, options(s, ev))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := s.ran(), []string{"launch", "image", "stop"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ran %v, want %v", got, want)
	}
	if res.ExecutionID != "11111111-2222-4333-8444-555555555555" {
		t.Errorf("ExecutionID = %q", res.ExecutionID)
	}
	if got, want := statuses(res), []string{"launch:Success", "image:Success", "stop:Success"}; !reflect.DeepEqual(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	for _, sr := range res.Steps {
		if sr.Attempts != 1 || !sr.StartedAt.Equal(fixedNow) || !sr.FinishedAt.Equal(fixedNow) || sr.Message != "" {
			t.Errorf("step %+v: want 1 attempt, fixed clock, no message", sr)
		}
	}
	wantOut := map[string]any{
		"launch.InstanceIds":    []any{"i-0abc"},
		"launch.InstanceStates": []any{"running"},
		"image.ImageId":         "ami-0def",
		"image.ImageState":      "available",
	}
	if !reflect.DeepEqual(res.Outputs, wantOut) {
		t.Errorf("Outputs = %#v, want %#v", res.Outputs, wantOut)
	}
	if got := res.Steps[1].Outputs["ImageId"]; got != "ami-0def" {
		t.Errorf("image step outputs = %v", res.Steps[1].Outputs)
	}
	if got, want := s.input("image"), (map[string]any{"InstanceId": "i-0abc", "ImageName": "img-11111111-2222-4333-8444-555555555555"}); !reflect.DeepEqual(got, want) {
		t.Errorf("image inputs = %#v, want %#v", got, want)
	}
	if got, want := s.input("stop")["InstanceIds"], []any{"i-0abc"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stop InstanceIds = %#v, want %#v", got, want)
	}

	var kinds []string
	for _, e := range ev.all {
		kinds = append(kinds, e.Kind+":"+e.Step)
	}
	wantKinds := []string{"step_start:launch", "step_end:launch", "step_start:image", "step_end:image", "step_start:stop", "step_end:stop"}
	if !reflect.DeepEqual(kinds, wantKinds) {
		t.Errorf("events %v, want %v", kinds, wantKinds)
	}
	end := ev.of(EventStepEnd)[0]
	if end.Action != "aws:runInstances" || end.Fields["status"] != StatusSuccess || end.Fields["attempts"] != 1 ||
		!reflect.DeepEqual(end.Fields["instance_ids"], []any{"i-0abc"}) {
		t.Errorf("step_end event = %+v", end)
	}
	if got := ev.of(EventStepEnd)[1].Fields["image_id"]; got != "ami-0def" {
		t.Errorf("image step_end image_id = %v", got)
	}
}

func TestRunFlow(t *testing.T) {
	a, b, c := "a", "b", "c"
	tests := []struct {
		name      string
		steps     []document.Step
		behaviour map[string]fakeAction
		wantRan   []string
		wantSteps []string
		wantErr   string // substring; "" for success
	}{
		{
			name:      "abort by default",
			steps:     []document.Step{step(a, "aws:sleep"), step(b, "aws:sleep"), step(c, "aws:sleep")},
			behaviour: map[string]fakeAction{b: fails("disk full")},
			wantRan:   []string{a, b},
			wantSteps: []string{"a:Success", "b:Failed"},
			wantErr:   `step "b" (aws:sleep) failed: disk full`,
		},
		{
			name:      "explicit Abort",
			steps:     []document.Step{step(a, "aws:sleep", onFailure("Abort")), step(b, "aws:sleep")},
			behaviour: map[string]fakeAction{a: fails("nope")},
			wantRan:   []string{a},
			wantSteps: []string{"a:Failed"},
			wantErr:   `step "a" (aws:sleep) failed: nope`,
		},
		{
			name:      "Continue goes on and the run succeeds",
			steps:     []document.Step{step(a, "aws:sleep"), step(b, "aws:sleep", onFailure("Continue")), step(c, "aws:sleep")},
			behaviour: map[string]fakeAction{b: fails("flaky")},
			wantRan:   []string{a, b, c},
			wantSteps: []string{"a:Success", "b:Failed", "c:Success"},
		},
		{
			name:      "Continue on a critical step fails the run at the end",
			steps:     []document.Step{step(a, "aws:sleep", onFailure("Continue"), isCritical(true)), step(b, "aws:sleep")},
			behaviour: map[string]fakeAction{a: fails("flaky")},
			wantRan:   []string{a, b},
			wantSteps: []string{"a:Failed", "b:Success"},
			wantErr:   `step "a" (aws:sleep) failed: flaky`,
		},
		{
			name:      "onFailure step:X jumps and the critical failure fails the run",
			steps:     []document.Step{step(a, "aws:sleep", onFailure("step:c")), step(b, "aws:sleep"), step(c, "aws:sleep")},
			behaviour: map[string]fakeAction{a: fails("broken")},
			wantRan:   []string{a, c},
			wantSteps: []string{"a:Failed", "c:Success"},
			wantErr:   `step "a" (aws:sleep) failed: broken`,
		},
		{
			name:      "onFailure step:X on a non-critical step succeeds",
			steps:     []document.Step{step(a, "aws:sleep", onFailure("step:c"), isCritical(false)), step(b, "aws:sleep"), step(c, "aws:sleep")},
			behaviour: map[string]fakeAction{a: fails("broken")},
			wantRan:   []string{a, c},
			wantSteps: []string{"a:Failed", "c:Success"},
		},
		{
			name:      "nextStep skips ahead",
			steps:     []document.Step{step(a, "aws:sleep", nextStep(c)), step(b, "aws:sleep"), step(c, "aws:sleep")},
			wantRan:   []string{a, c},
			wantSteps: []string{"a:Success", "c:Success"},
		},
		{
			name:      "nextStep jumps back once",
			steps:     []document.Step{step(a, "aws:sleep"), step(b, "aws:sleep", nextStep(a), onFailure("step:c")), step(c, "aws:sleep", isEnd())},
			behaviour: map[string]fakeAction{b: secondCallFails()},
			wantRan:   []string{a, b, a, b, c},
			wantSteps: []string{"a:Success", "b:Success", "a:Success", "b:Failed", "c:Success"},
			wantErr:   `step "b" (aws:sleep) failed: second call`,
		},
		{
			name:      "isEnd stops the run",
			steps:     []document.Step{step(a, "aws:sleep"), step(b, "aws:sleep", isEnd()), step(c, "aws:sleep")},
			wantRan:   []string{a, b},
			wantSteps: []string{"a:Success", "b:Success"},
		},
		{
			name:      "isEnd after a continued failure",
			steps:     []document.Step{step(a, "aws:sleep", onFailure("Continue"), isEnd()), step(b, "aws:sleep")},
			behaviour: map[string]fakeAction{a: fails("x")},
			wantRan:   []string{a},
			wantSteps: []string{"a:Failed"},
		},
		{
			name:      "branch picks the next step over nextStep",
			steps:     []document.Step{step(a, "aws:branch", nextStep(b)), step(b, "aws:sleep"), step(c, "aws:sleep")},
			behaviour: map[string]fakeAction{a: branchTo(c)},
			wantRan:   []string{a, c},
			wantSteps: []string{"a:Success", "c:Success"},
		},
		{
			name:      "branch to a missing step",
			steps:     []document.Step{step(a, "aws:branch"), step(b, "aws:sleep")},
			behaviour: map[string]fakeAction{a: branchTo("nowhere")},
			wantRan:   []string{a},
			wantSteps: []string{"a:Success"},
			wantErr:   `step "a": the branch names step "nowhere", which the document does not have`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{behaviour: tt.behaviour}
			res, err := Run(context.Background(), doc(tt.steps...), nil, options(s, nil))
			if got := s.ran(); !reflect.DeepEqual(got, tt.wantRan) {
				t.Errorf("ran %v, want %v", got, tt.wantRan)
			}
			if got := statuses(res); !reflect.DeepEqual(got, tt.wantSteps) {
				t.Errorf("steps %v, want %v", got, tt.wantSteps)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Run: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Run error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func secondCallFails() fakeAction {
	var n int
	return func(context.Context, *actions.Env, *document.Step, map[string]any) (actions.Result, error) {
		n++
		if n == 2 {
			return actions.Result{}, errors.New("second call")
		}
		return actions.Result{}, nil
	}
}

func TestRunStepError(t *testing.T) {
	s := &script{behaviour: map[string]fakeAction{"b": fails("quota exceeded")}}
	_, err := Run(context.Background(), doc(step("a", "aws:sleep"), step("b", "aws:createImage")), nil, options(s, nil))
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("error %T %v is not a *StepError", err, err)
	}
	if se.Step != "b" || se.Action != "aws:createImage" || se.Status != StatusFailed || se.Err.Error() != "quota exceeded" {
		t.Errorf("StepError = %+v", se)
	}
}

func TestRunRetries(t *testing.T) {
	tests := []struct {
		name         string
		maxAttempts  *int64
		failures     int
		wantStatus   string
		wantAttempts int
		wantFailed   int // attempt_failed events
	}{
		{"fails twice then succeeds", ptr(int64(3)), 2, StatusSuccess, 3, 2},
		{"fails every time", ptr(int64(3)), 5, StatusFailed, 3, 3},
		{"no retries by default", nil, 1, StatusFailed, 1, 1},
		{"succeeds at once", ptr(int64(3)), 0, StatusSuccess, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			s := &script{behaviour: map[string]fakeAction{"cmd": func(_ context.Context, _ *actions.Env, _ *document.Step, in map[string]any) (actions.Result, error) {
				n++
				// Inputs are fresh for every attempt even if an action edits them.
				if in["Comment"] != "hi" {
					return actions.Result{}, fmt.Errorf("attempt %d saw Comment %v", n, in["Comment"])
				}
				in["Comment"] = "edited"
				if n <= tt.failures {
					return actions.Result{}, fmt.Errorf("InvalidInstanceId: attempt %d", n)
				}
				return actions.Result{Outputs: map[string]any{"CommandId": "c-1"}}, nil
			}}}
			st := step("cmd", "aws:runCommand", inputs(map[string]any{"DocumentName": "AWS-RunShellScript", "Comment": "hi"}))
			st.MaxAttempts = tt.maxAttempts
			ev := &events{}
			res, err := Run(context.Background(), doc(st), nil, options(s, ev))
			if got := res.Steps[0]; got.Status != tt.wantStatus || got.Attempts != tt.wantAttempts {
				t.Errorf("step = %s after %d attempts, want %s after %d", got.Status, got.Attempts, tt.wantStatus, tt.wantAttempts)
			}
			if n != tt.wantAttempts {
				t.Errorf("action called %d times, want %d", n, tt.wantAttempts)
			}
			failed := ev.of(EventAttemptFailed)
			if len(failed) != tt.wantFailed {
				t.Fatalf("%d attempt_failed events, want %d", len(failed), tt.wantFailed)
			}
			for i, e := range failed {
				wantRetry := i+1 < tt.wantAttempts || tt.wantStatus == StatusSuccess
				if e.Attempt != i+1 || e.Fields["error"] != fmt.Sprintf("InvalidInstanceId: attempt %d", i+1) || e.Fields["will_retry"] != wantRetry {
					t.Errorf("attempt_failed[%d] = %+v", i, e)
				}
			}
			if tt.wantStatus == StatusSuccess {
				if err != nil || res.Outputs["cmd.CommandId"] != "c-1" {
					t.Errorf("err = %v, outputs = %v", err, res.Outputs)
				}
			} else if err == nil || !strings.Contains(err.Error(), fmt.Sprintf(`step "cmd" (aws:runCommand) failed: InvalidInstanceId: attempt %d`, tt.wantAttempts)) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestRunTimeout(t *testing.T) {
	tests := []struct {
		name      string
		onFailure string
		wantRan   []string
		wantErr   bool
	}{
		{"abort", "", []string{"wait"}, true},
		{"continue", "Continue", []string{"wait", "after"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var deadline time.Time
			s := &script{behaviour: map[string]fakeAction{"wait": func(ctx context.Context, _ *actions.Env, _ *document.Step, _ map[string]any) (actions.Result, error) {
				deadline, _ = ctx.Deadline()
				<-ctx.Done()
				return actions.Result{}, fmt.Errorf("waiting for instance i-1: %w", ctx.Err())
			}}}
			d := doc(step("wait", "aws:sleep", timeout(1), onFailure(tt.onFailure), isCritical(false)), step("after", "aws:sleep"))
			started := time.Now()
			res, err := Run(context.Background(), d, nil, options(s, nil))
			if elapsed := time.Since(started); elapsed < time.Second || elapsed > 10*time.Second {
				t.Errorf("run took %v; the step timeout is 1s", elapsed)
			}
			if deadline.IsZero() || time.Until(deadline) > 0 {
				t.Errorf("action context deadline = %v", deadline)
			}
			if got := s.ran(); !reflect.DeepEqual(got, tt.wantRan) {
				t.Errorf("ran %v, want %v", got, tt.wantRan)
			}
			if res.Steps[0].Status != StatusTimedOut || !strings.Contains(res.Steps[0].Message, "timeoutSeconds (1)") {
				t.Errorf("step = %+v", res.Steps[0])
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				return
			}
			var se *StepError
			if !errors.As(err, &se) || se.Step != "wait" || se.Status != StatusTimedOut || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v", err)
			}
			if want := `step "wait" (aws:sleep) timed out: no result within timeoutSeconds (1): waiting for instance i-1: context deadline exceeded`; err.Error() != want {
				t.Errorf("err = %q, want %q", err, want)
			}
		})
	}
}

func TestRunRunawayLoop(t *testing.T) {
	tests := []struct {
		name string
		max  int
		want int
	}{
		{"default bound", 0, 100},
		{"custom bound", 7, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{}
			o := options(s, nil)
			o.MaxStepExecutions = tt.max
			res, err := Run(context.Background(), doc(step("a", "aws:sleep"), step("b", "aws:sleep", nextStep("a"))), nil, o)
			if !errors.Is(err, ErrTooManySteps) {
				t.Fatalf("err = %v, want ErrTooManySteps", err)
			}
			if want := fmt.Sprintf("after %d step executions", tt.want); !strings.Contains(err.Error(), want) {
				t.Errorf("err = %q, want it to contain %q", err, want)
			}
			if len(s.ran()) != tt.want || len(res.Steps) != tt.want {
				t.Errorf("%d calls, %d step results, want %d", len(s.ran()), len(res.Steps), tt.want)
			}
		})
	}
}

func TestRunUnknownAction(t *testing.T) {
	s := &script{unsupported: []string{"aws:executeScript"}}
	d := doc(step("a", "aws:sleep"), step("script", "aws:executeScript", onFailure("Continue")), step("c", "aws:sleep"))
	res, err := Run(context.Background(), d, nil, options(s, nil))
	if want := `step "script" (aws:executeScript) failed: the local engine cannot run action aws:executeScript`; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if got := s.ran(); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("ran %v; an unknown action must end the run even with Continue", got)
	}
	if got := statuses(res); !reflect.DeepEqual(got, []string{"a:Success", "script:Failed"}) {
		t.Errorf("steps %v", got)
	}
}

func TestRunPanicRecovered(t *testing.T) {
	var cleaned bool
	withCleanup(t, func(_ context.Context, env *actions.Env, o actions.CleanupOptions) (actions.CleanupReport, error) {
		cleaned = true
		if !o.DeleteImages || !o.TerminateInstances {
			t.Errorf("cleanup options %+v after a failed run", o)
		}
		return actions.CleanupReport{}, nil
	})
	s := &script{behaviour: map[string]fakeAction{
		"launch": recordInstance("i-1"),
		"boom": func(context.Context, *actions.Env, *document.Step, map[string]any) (actions.Result, error) {
			var m map[string]int
			m["x"] = 1 //nolint:staticcheck // the panic is the point of this action
			return actions.Result{}, nil
		},
	}}
	res, err := Run(context.Background(), doc(step("launch", "aws:runInstances"), step("boom", "aws:createImage"), step("never", "aws:sleep")), nil, options(s, nil))
	var pe *PanicError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), `step "boom" (aws:createImage) failed: the action panicked: assignment to entry in nil map`) {
		t.Fatalf("err = %v", err)
	}
	if len(pe.Stack) == 0 {
		t.Error("panic stack not kept")
	}
	if got := statuses(res); !reflect.DeepEqual(got, []string{"launch:Success", "boom:Failed"}) {
		t.Errorf("steps %v", got)
	}
	if !cleaned {
		t.Error("cleanup did not run after the panic")
	}
	if !reflect.DeepEqual(res.Instances, []string{"i-1"}) {
		t.Errorf("Instances = %v", res.Instances)
	}
}

func recordInstance(ids ...string) fakeAction {
	return func(_ context.Context, env *actions.Env, _ *document.Step, _ map[string]any) (actions.Result, error) {
		for _, id := range ids {
			env.Ledger.RecordInstance(id)
		}
		return actions.Result{Outputs: map[string]any{"InstanceIds": ids}}, nil
	}
}

func withCleanup(t *testing.T, f func(context.Context, *actions.Env, actions.CleanupOptions) (actions.CleanupReport, error)) {
	t.Helper()
	old := cleanupFunc
	cleanupFunc = f
	t.Cleanup(func() { cleanupFunc = old })
}

func TestRunCancellation(t *testing.T) {
	tests := []struct {
		name      string
		onCancel  string
		wantRan   []string
		wantSteps []string
	}{
		{"ends the run even with Continue", "", []string{"launch", "wait"}, []string{"launch:Success", "wait:Cancelled"}},
		{"onCancel step runs on a live context", "step:tidy", []string{"launch", "wait", "tidy"}, []string{"launch:Success", "wait:Cancelled", "tidy:Success"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cleanupCtxErr := errors.New("cleanup not called")
			var cleanupDeadline time.Duration
			withCleanup(t, func(cctx context.Context, env *actions.Env, o actions.CleanupOptions) (actions.CleanupReport, error) {
				cleanupCtxErr = cctx.Err()
				if d, ok := cctx.Deadline(); ok {
					cleanupDeadline = time.Until(d)
				}
				if !o.TerminateInstances || !o.DeleteImages {
					t.Errorf("cleanup options %+v after cancellation", o)
				}
				return actions.CleanupReport{Terminated: []string{"i-1"}}, nil
			})
			s := &script{behaviour: map[string]fakeAction{
				"launch": recordInstance("i-1"),
				"wait": func(ctx context.Context, _ *actions.Env, _ *document.Step, _ map[string]any) (actions.Result, error) {
					cancel() // Ctrl-C while the step waits
					<-ctx.Done()
					return actions.Result{}, ctx.Err()
				},
				"tidy": func(ctx context.Context, _ *actions.Env, _ *document.Step, _ map[string]any) (actions.Result, error) {
					if ctx.Err() != nil {
						t.Errorf("onCancel step got a done context: %v", ctx.Err())
					}
					return actions.Result{}, nil
				},
			}}
			d := doc(
				step("launch", "aws:runInstances"),
				step("wait", "aws:sleep", onFailure("Continue"), maxAttempts(3), onCancel(tt.onCancel)),
				step("after", "aws:sleep"),
				step("tidy", "aws:changeInstanceState", isEnd()),
			)
			o := options(s, nil)
			o.CleanupTimeout = 3 * time.Minute
			res, err := Run(ctx, d, nil, o)
			if got := s.ran(); !reflect.DeepEqual(got, tt.wantRan) {
				t.Errorf("ran %v, want %v", got, tt.wantRan)
			}
			if got := statuses(res); !reflect.DeepEqual(got, tt.wantSteps) {
				t.Errorf("steps %v, want %v", got, tt.wantSteps)
			}
			if res.Steps[1].Attempts != 1 {
				t.Errorf("a cancelled step was retried: %d attempts", res.Steps[1].Attempts)
			}
			var se *StepError
			if !errors.As(err, &se) || se.Step != "wait" || se.Status != StatusCancelled || !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v", err)
			}
			if !strings.HasPrefix(err.Error(), `step "wait" (aws:sleep) was cancelled: context canceled`) {
				t.Errorf("err = %q", err)
			}
			if cleanupCtxErr != nil {
				t.Errorf("cleanup context: %v, want a live one", cleanupCtxErr)
			}
			if cleanupDeadline < 2*time.Minute || cleanupDeadline > 3*time.Minute {
				t.Errorf("cleanup deadline in %v, want about CleanupTimeout", cleanupDeadline)
			}
		})
	}
}

func TestRunCancelledBetweenSteps(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &script{behaviour: map[string]fakeAction{"a": func(context.Context, *actions.Env, *document.Step, map[string]any) (actions.Result, error) {
		cancel() // the action finishes, but the run was interrupted meanwhile
		return actions.Result{}, nil
	}}}
	res, err := Run(ctx, doc(step("a", "aws:sleep"), step("b", "aws:sleep")), nil, options(s, nil))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `run cancelled before step "b"`) {
		t.Fatalf("err = %v", err)
	}
	if got := statuses(res); !reflect.DeepEqual(got, []string{"a:Success"}) {
		t.Errorf("steps %v", got)
	}
}

func TestRunTemplates(t *testing.T) {
	tests := []struct {
		name       string
		instances  []string
		in         map[string]any
		wantIn     map[string]any
		wantErr    string
		wantAction string
	}{
		{
			name:      "published example: single-element list in a scalar and in a list",
			instances: []string{"i-0abc"},
			in: map[string]any{
				"InstanceId":  "{{ startInstances.InstanceIds }}",
				"InstanceIds": []any{"{{ startInstances.InstanceIds }}"},
				"ImageName":   "img-{{startInstances.InstanceIds}}-{{ automation:EXECUTION_ID }}",
			},
			wantIn: map[string]any{
				"InstanceId":  "i-0abc",
				"InstanceIds": []any{"i-0abc"},
				"ImageName":   "img-i-0abc-exec-42",
			},
		},
		{
			name:      "list splices next to other elements",
			instances: []string{"i-1", "i-2"},
			in:        map[string]any{"InstanceIds": []any{"i-0", "{{ startInstances.InstanceIds }}", "i-3"}},
			wantIn:    map[string]any{"InstanceIds": []any{"i-0", "i-1", "i-2", "i-3"}},
		},
		{
			name:      "list standing alone in a list input",
			instances: []string{"i-1", "i-2"},
			in:        map[string]any{"InstanceIds": "{{ startInstances.InstanceIds }}"},
			wantIn:    map[string]any{"InstanceIds": []any{"i-1", "i-2"}},
		},
		{
			name:      "two-element list in a scalar fails the step",
			instances: []string{"i-1", "i-2"},
			in:        map[string]any{"InstanceId": "{{ startInstances.InstanceIds }}"},
			wantErr:   `step "use" (aws:createImage) failed: input InstanceId`,
		},
		{
			name:      "inside maps inside lists",
			instances: []string{"i-1"},
			in: map[string]any{"Tags": []any{
				map[string]any{"Key": "Generated By Automation", "Value": "{{automation:EXECUTION_ID}}"},
				map[string]any{"Key": "From", "Value": "src-{{ startInstances.InstanceIds }}"},
			}},
			wantIn: map[string]any{"Tags": []any{
				map[string]any{"Key": "Generated By Automation", "Value": "exec-42"},
				map[string]any{"Key": "From", "Value": "src-i-1"},
			}},
			wantAction: "aws:createTags",
		},
		{
			name:      "output of a step that has not run",
			instances: []string{"i-1"},
			in:        map[string]any{"InstanceId": "{{ later.InstanceIds }}"},
			wantErr:   `step "use" (aws:createImage) failed: input InstanceId`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			action := tt.wantAction
			if action == "" {
				action = "aws:createImage"
			}
			s := &script{behaviour: map[string]fakeAction{"startInstances": outputs(map[string]any{"InstanceIds": tt.instances})}}
			o := options(s, nil)
			o.ExecutionID = "exec-42"
			d := doc(step("startInstances", "aws:runInstances"), step("use", action, inputs(tt.in)), step("later", "aws:runInstances"))
			res, err := Run(context.Background(), d, nil, o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if got := statuses(res); !reflect.DeepEqual(got, []string{"startInstances:Success", "use:Failed"}) {
					t.Errorf("steps %v", got)
				}
				if res.Steps[1].Attempts != 0 {
					t.Errorf("action attempted %d times with unresolvable inputs", res.Steps[1].Attempts)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := s.input("use"); !reflect.DeepEqual(got, tt.wantIn) {
				t.Errorf("inputs = %#v, want %#v", got, tt.wantIn)
			}
		})
	}
}

func TestRunCoercesInputs(t *testing.T) {
	d := doc(
		step("launch", "aws:runInstances", inputs(map[string]any{
			"ImageId": "{{ ami }}", "MinInstanceCount": "{{ count }}", "MaxInstanceCount": "2", "SecurityGroupIds": "sg-1",
		})),
		step("image", "aws:createImage", inputs(map[string]any{"InstanceId": "i-1", "ImageName": "x-{{count}}", "NoReboot": "{{ noReboot }}"})),
	)
	d.Parameters = []document.Parameter{
		{Name: "ami", Type: "String"},
		{Name: "count", Type: "Integer", Default: int64(1), HasDefault: true},
		{Name: "noReboot", Type: "String", Default: "true", HasDefault: true},
	}
	s := &script{}
	if _, err := Run(context.Background(), d, map[string]string{"ami": "ami-9"}, options(s, nil)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string]any{"ImageId": "ami-9", "MinInstanceCount": int64(1), "MaxInstanceCount": int64(2), "SecurityGroupIds": []any{"sg-1"}}
	if got := s.input("launch"); !reflect.DeepEqual(got, want) {
		t.Errorf("launch inputs = %#v, want %#v", got, want)
	}
	want = map[string]any{"InstanceId": "i-1", "ImageName": "x-1", "NoReboot": true}
	if got := s.input("image"); !reflect.DeepEqual(got, want) {
		t.Errorf("image inputs = %#v, want %#v", got, want)
	}
}

func TestRunParameters(t *testing.T) {
	params := []document.Parameter{
		// Declared before the parameter its default uses: resolution follows dependencies.
		{Name: "copyName", Type: "String", Default: "{{ targetAMIname }}-copy", HasDefault: true},
		{Name: "targetAMIname", Type: "String", Default: "patchedAMI-{{global:DATE_TIME}}", HasDefault: true},
		{Name: "sourceAMIid", Type: "String"},
		{Name: "day", Type: "String", Default: "{{global:DATE}}/{{automation:EXECUTION_ID}}", HasDefault: true},
	}
	tests := []struct {
		name    string
		params  []document.Parameter
		given   map[string]string
		want    map[string]any
		wantErr string
	}{
		{
			name:   "defaults with globals and other parameters",
			params: params,
			given:  map[string]string{"sourceAMIid": "ami-src"},
			want: map[string]any{
				"ImageId":   "ami-src",
				"ImageName": "patchedAMI-2024-05-01_10.20.30",
				"Copy":      "patchedAMI-2024-05-01_10.20.30-copy",
				"Day":       "2024-05-01/exec-7",
			},
		},
		{
			name:   "a given value wins over the default and feeds the others",
			params: params,
			given:  map[string]string{"sourceAMIid": "ami-src", "targetAMIname": "golden"},
			want:   map[string]any{"ImageId": "ami-src", "ImageName": "golden", "Copy": "golden-copy", "Day": "2024-05-01/exec-7"},
		},
		{
			name:    "required parameter missing",
			params:  params,
			given:   map[string]string{},
			wantErr: "invalid parameters: ",
		},
		{
			name: "defaults in a cycle",
			params: []document.Parameter{
				{Name: "sourceAMIid", Type: "String", Default: "x", HasDefault: true},
				{Name: "targetAMIname", Type: "String", Default: "{{ copyName }}", HasDefault: true},
				{Name: "copyName", Type: "String", Default: "{{ targetAMIname }}", HasDefault: true},
				{Name: "day", Type: "String", Default: "d", HasDefault: true},
			},
			wantErr: "the defaults of parameters copyName, targetAMIname refer to each other in a cycle",
		},
		{
			name: "default that uses a step output",
			params: []document.Parameter{
				{Name: "sourceAMIid", Type: "String", Default: "{{ use.ImageId }}", HasDefault: true},
				{Name: "targetAMIname", Type: "String", Default: "t", HasDefault: true},
				{Name: "copyName", Type: "String", Default: "c", HasDefault: true},
				{Name: "day", Type: "String", Default: "d", HasDefault: true},
			},
			wantErr: `default of parameter "sourceAMIid"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := doc(step("use", "aws:createImage", inputs(map[string]any{
				"ImageId": "{{ sourceAMIid }}", "ImageName": "{{ targetAMIname }}", "Copy": "{{copyName}}", "Day": "{{ day }}",
			})))
			d.Parameters = tt.params
			s := &script{}
			o := options(s, nil)
			o.ExecutionID = "exec-7"
			res, err := Run(context.Background(), d, tt.given, o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if len(s.ran()) != 0 || len(res.Steps) != 0 {
					t.Errorf("steps ran despite bad parameters: %v", s.ran())
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := s.input("use"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("inputs = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestRunParameterErrorType(t *testing.T) {
	d := doc(step("use", "aws:sleep"))
	d.Parameters = []document.Parameter{{Name: "ami", Type: "String", AllowedPattern: "^ami-[0-9a-f]+$"}}
	_, err := Run(context.Background(), d, map[string]string{"ami": "not-an-ami"}, options(&script{}, nil))
	var pe *ParameterError
	if !errors.As(err, &pe) || len(pe.Problems) != 1 {
		t.Fatalf("err = %#v, want one *ParameterError problem", err)
	}
}

func TestRunEnv(t *testing.T) {
	s := &script{}
	o := options(s, nil)
	o.ExecutionID = "exec-9"
	o.BakeKey = "bk-123"
	o.Tags = map[string]string{"team": "platform", TagManaged: "no"}
	withSweep(t, func(context.Context, *actions.Env, actions.SweepOptions) (actions.SweepReport, error) {
		return actions.SweepReport{}, nil
	})
	if _, err := Run(context.Background(), doc(step("a", "aws:sleep"), step("b", "aws:sleep")), nil, o); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string]string{"team": "platform", TagManaged: "true", TagExecutionID: "exec-9", TagBakeKey: "bk-123"}
	for _, c := range s.calls {
		lease, err := time.Parse(time.RFC3339, c.env.Tags[actions.TagLease])
		if err != nil || !lease.Equal(o.Now().Add(10*time.Minute).Truncate(time.Second)) {
			t.Errorf("step %s lease tag %q: want about 10 minutes ahead", c.step, c.env.Tags[actions.TagLease])
		}
		delete(c.env.Tags, actions.TagLease)
		if !reflect.DeepEqual(c.env.Tags, want) {
			t.Errorf("step %s tags = %v, want %v", c.step, c.env.Tags, want)
		}
		if c.env.ExecutionID != "exec-9" || c.env.Ledger == nil || c.env.Ledger != s.calls[0].env.Ledger {
			t.Errorf("step %s env = %+v: want the run's id and one shared ledger", c.step, c.env)
		}
	}
	if o.Tags[TagManaged] != "no" {
		t.Error("Run changed the caller's tag map")
	}
}

func TestRunGeneratesExecutionID(t *testing.T) {
	s := &script{}
	o := options(s, nil)
	o.ExecutionID = ""
	res1, err1 := Run(context.Background(), doc(step("a", "aws:sleep", inputs(map[string]any{"Duration": "{{automation:EXECUTION_ID}}"}))), nil, o)
	res2, err2 := Run(context.Background(), doc(step("a", "aws:sleep")), nil, o)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if len(res1.ExecutionID) != 36 || res1.ExecutionID[14] != '4' || res1.ExecutionID == res2.ExecutionID {
		t.Errorf("execution ids %q, %q: want distinct UUID v4s", res1.ExecutionID, res2.ExecutionID)
	}
	if got := s.calls[0].in["Duration"]; got != res1.ExecutionID {
		t.Errorf("{{automation:EXECUTION_ID}} = %v, want %s", got, res1.ExecutionID)
	}
}

func TestRunLogEvents(t *testing.T) {
	s := &script{behaviour: map[string]fakeAction{"a": func(_ context.Context, env *actions.Env, _ *document.Step, _ map[string]any) (actions.Result, error) {
		env.Log.Info("waiting for instance", map[string]any{"instance_id": "i-1"})
		return actions.Result{}, nil
	}}}
	ev := &events{}
	if _, err := Run(context.Background(), doc(step("a", "aws:runCommand")), nil, options(s, ev)); err != nil {
		t.Fatal(err)
	}
	logs := ev.of(EventLog)
	if len(logs) != 1 || logs[0].Step != "a" || logs[0].Action != "aws:runCommand" ||
		logs[0].Fields["message"] != "waiting for instance" || logs[0].Fields["instance_id"] != "i-1" {
		t.Errorf("log events = %+v", logs)
	}
}

func withSweep(t *testing.T, f func(context.Context, *actions.Env, actions.SweepOptions) (actions.SweepReport, error)) {
	t.Helper()
	old := sweepFunc
	sweepFunc = f
	t.Cleanup(func() { sweepFunc = old })
}

func TestRunSweep(t *testing.T) {
	var got actions.SweepOptions
	var gotExec string
	swept := make(chan struct{})
	withSweep(t, func(_ context.Context, env *actions.Env, o actions.SweepOptions) (actions.SweepReport, error) {
		defer close(swept)
		got, gotExec = o, env.ExecutionID
		return actions.SweepReport{
			CleanupReport: actions.CleanupReport{Terminated: []string{"i-dead"}, Deregistered: []string{"ami-dead"}},
			Spared:        []string{"instance i-live: its bake is still running (lease live)"},
		}, nil
	})
	s := &script{behaviour: map[string]fakeAction{"a": func(context.Context, *actions.Env, *document.Step, map[string]any) (actions.Result, error) {
		return actions.Result{}, nil
	}}}
	ev := &events{}
	o := options(s, ev)
	o.BakeKey = "bk-1"
	o.KeepImageIDs = []string{"ami-instate"}
	res, err := Run(context.Background(), doc(step("a", "aws:sleep")), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-swept:
	default:
		t.Fatal("Run returned before its sweep ended")
	}
	if got.TagKey != TagBakeKey || got.TagValue != "bk-1" || got.ExecutionTag != TagExecutionID ||
		!reflect.DeepEqual(got.KeepImageIDs, []string{"ami-instate"}) || got.Now.IsZero() || gotExec != res.ExecutionID {
		t.Errorf("sweep options %+v, execution %q", got, gotExec)
	}
	sw := ev.of(EventSweep)
	if len(sw) != 1 || !reflect.DeepEqual(sw[0].Fields["terminated"], []string{"i-dead"}) ||
		!reflect.DeepEqual(sw[0].Fields["deregistered"], []string{"ami-dead"}) || sw[0].Fields["bake_key"] != "bk-1" ||
		sw[0].Fields["spared"] == nil {
		t.Errorf("sweep events = %+v", sw)
	}

	// Without a bake key nothing is swept.
	calls := 0
	withSweep(t, func(context.Context, *actions.Env, actions.SweepOptions) (actions.SweepReport, error) {
		calls++
		return actions.SweepReport{}, nil
	})
	o.BakeKey = ""
	if _, err := Run(context.Background(), doc(step("a", "aws:sleep")), nil, o); err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Errorf("swept %d times without a bake key", calls)
	}
}

// The sweep runs alongside the first steps: a slow sweep does not hold them up.
func TestRunSweepDoesNotDelayTheFirstStep(t *testing.T) {
	release := make(chan struct{})
	withSweep(t, func(ctx context.Context, _ *actions.Env, _ actions.SweepOptions) (actions.SweepReport, error) {
		<-release
		return actions.SweepReport{}, nil
	})
	s := &script{behaviour: map[string]fakeAction{"a": func(context.Context, *actions.Env, *document.Step, map[string]any) (actions.Result, error) {
		close(release) // runs while the sweep is still waiting
		return actions.Result{}, nil
	}}}
	o := options(s, nil)
	o.BakeKey = "k"
	if _, err := Run(context.Background(), doc(step("a", "aws:sleep")), nil, o); err != nil {
		t.Fatal(err)
	}
}

func TestRunSweepFailureDoesNotStopTheRun(t *testing.T) {
	withSweep(t, func(context.Context, *actions.Env, actions.SweepOptions) (actions.SweepReport, error) {
		return actions.SweepReport{}, errors.New("UnauthorizedOperation: not allowed")
	})
	s := &script{}
	ev := &events{}
	o := options(s, ev)
	o.BakeKey = "k"
	if _, err := Run(context.Background(), doc(step("a", "aws:sleep")), nil, o); err != nil {
		t.Fatal(err)
	}
	if got := s.ran(); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("ran %v", got)
	}
	if sw := ev.of(EventSweep); len(sw) != 1 || sw[0].Fields["error"] != "UnauthorizedOperation: not allowed" {
		t.Errorf("sweep events = %+v", sw)
	}
}

func TestRunSSMParameterDefaults(t *testing.T) {
	tests := []struct {
		name      string
		values    map[string]string
		want      map[string]any
		wantCalls []string
		wantErr   string
	}{
		{
			name:      "resolved once with decryption and used by other defaults",
			values:    map[string]string{"/amibake/base-ami": "ami-0123", "/amibake/count": "3"},
			want:      map[string]any{"ImageId": "ami-0123", "ImageName": "from-ami-0123-in-eu-west-1-123456789012-aws-cn", "MaxInstanceCount": int64(3)},
			wantCalls: []string{"/amibake/base-ami", "/amibake/count"},
		},
		{
			name:    "missing SSM parameter",
			values:  map[string]string{"/amibake/count": "3"},
			wantErr: `default of parameter "base": {{ssm:/amibake/base-ami}}: reading SSM parameter /amibake/base-ami: ParameterNotFound: Parameter /amibake/base-ami not found.`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := doc(step("launch", "aws:runInstances", inputs(map[string]any{
				"ImageId": "{{ base }}", "ImageName": "{{ name }}", "MaxInstanceCount": "{{ count }}",
			})))
			d.Parameters = []document.Parameter{
				{Name: "name", Type: "String", Default: "from-{{ base }}-in-{{global:REGION}}-{{global:ACCOUNT_ID}}-{{global:AWS_PARTITION}}", HasDefault: true},
				{Name: "base", Type: "String", Default: "{{ssm:/amibake/base-ami}}", HasDefault: true},
				{Name: "count", Type: "Integer", Default: "{{ssm:/amibake/count}}", HasDefault: true},
			}
			c := simcloud.NewInstant()
			for name, v := range tt.values {
				c.PutParameter(name, v, true)
			}
			s := &script{}
			o := options(s, nil)
			o.Clients = c.Clients(awsx.Policy{})
			o.Clients.Region, o.Clients.Partition = "eu-west-1", "aws-cn"
			_, err := Run(context.Background(), d, nil, o)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := s.input("launch"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("inputs = %#v, want %#v", got, tt.want)
			}
			var calls []string
			for _, call := range c.Calls("GetParameter") {
				in := call.Input.(*ssm.GetParameterInput)
				if !aws.ToBool(in.WithDecryption) {
					t.Errorf("GetParameter %s without decryption", aws.ToString(in.Name))
				}
				calls = append(calls, aws.ToString(in.Name))
			}
			if !reflect.DeepEqual(calls, tt.wantCalls) {
				t.Errorf("GetParameter calls %v, want %v", calls, tt.wantCalls)
			}
		})
	}
}

func TestStepErrorText(t *testing.T) {
	api := &smithy.GenericAPIError{Code: "InvalidInstanceID.NotFound", Message: "The instance ID 'i-1' does not exist"}
	op := &smithy.OperationError{ServiceID: "EC2", OperationName: "CreateImage", Err: fmt.Errorf("https response error StatusCode: 400, RequestID: abc, %w", api)}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"SDK operation error", op, `step "createImage" (aws:createImage) failed: InvalidInstanceID.NotFound: The instance ID 'i-1' does not exist`},
		{"wrapped with context", fmt.Errorf("creating image from i-1: %w", op), `step "createImage" (aws:createImage) failed: creating image from i-1: InvalidInstanceID.NotFound: The instance ID 'i-1' does not exist`},
		{"bare API error", api, `step "createImage" (aws:createImage) failed: InvalidInstanceID.NotFound: The instance ID 'i-1' does not exist`},
		{"plain error", errors.New("command failed: exit 1"), `step "createImage" (aws:createImage) failed: command failed: exit 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := &StepError{Step: "createImage", Action: "aws:createImage", Status: StatusFailed, Err: tt.err}
			if err.Error() != tt.want {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.want)
			}
			if !errors.Is(err, tt.err) {
				t.Error("StepError does not unwrap to its cause")
			}
		})
	}
}
