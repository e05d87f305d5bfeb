package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"strings"
	"time"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// end is the index that stops the step loop.
const end = -1

// runFrom runs the document's steps starting at index i until the document
// ends, a step aborts the run, or ctx is cancelled.
func (r *runner) runFrom(ctx context.Context, i int) error {
	return r.runSteps(ctx, r.doc.MainSteps, i)
}

// runSteps runs steps starting at index i: the document's, or those nested in
// an aws:loop, whose jumps stay among them. Every step execution counts
// against the run's bound, nested and secondary ones included.
func (r *runner) runSteps(ctx context.Context, steps []document.Step, i int) error {
	// A critical step that failed but was continued past still fails the run, once
	// the remaining steps have had their chance (SSM's isCritical).
	var criticalErr error
	top := r.top()
	for i != end && i < len(steps) {
		step := &steps[i]
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("run cancelled before step %q: %w", step.Name, err)
		}
		top.executions++
		if top.executions > r.o.MaxStepExecutions {
			return fmt.Errorf("%w: run stopped after %d step executions, before step %q; the document's jumps (nextStep, onFailure, branch) or loops appear to run away",
				ErrTooManySteps, r.o.MaxStepExecutions, step.Name)
		}

		out := r.execStep(ctx, step)
		if out.fatal || errors.Is(out.err, ErrTooManySteps) {
			return out.err
		}
		switch out.status {
		case StatusSuccess:
			next, err := r.successor(steps, i, out.result.NextStep)
			if err != nil {
				return err
			}
			i = next
		case StatusCancelled:
			return r.onCancel(ctx, steps, step, out.err)
		default:
			onFailure := step.OnFailure
			switch {
			case onFailure == "Continue":
				next, err := r.successor(steps, i, "")
				if err != nil {
					return err
				}
				i = next
			case strings.HasPrefix(onFailure, "step:"):
				next, err := r.index(steps, strings.TrimPrefix(onFailure, "step:"), step.Name, "onFailure")
				if err != nil {
					return err
				}
				i = next
			default:
				return out.err
			}
			if criticalErr == nil && critical(step) {
				criticalErr = out.err
			}
		}
	}
	return criticalErr
}

func critical(step *document.Step) bool {
	if step.IsCritical != nil {
		return *step.IsCritical
	}
	return step.OnFailure != "Continue"
}

// successor is the step after a successful (or continued) step i: the branch
// choice, else the end when isEnd, else nextStep, else the next in order.
func (r *runner) successor(steps []document.Step, i int, branch string) (int, error) {
	step := &steps[i]
	switch {
	case branch != "":
		return r.index(steps, branch, step.Name, "the branch")
	case step.IsEnd != nil && *step.IsEnd:
		return end, nil
	case step.NextStep != "":
		return r.index(steps, step.NextStep, step.Name, "nextStep")
	}
	return i + 1, nil
}

func (r *runner) index(steps []document.Step, target, from, via string) (int, error) {
	for i := range steps {
		if steps[i].Name == target {
			return i, nil
		}
	}
	if len(steps) > 0 && len(r.doc.MainSteps) > 0 && &steps[0] != &r.doc.MainSteps[0] {
		return end, fmt.Errorf("step %q: %s names step %q, which is not among the steps of its loop; a nested step jumps only within its loop", from, via, target)
	}
	return end, fmt.Errorf("step %q: %s names step %q, which the document does not have", from, via, target)
}

// onCancel runs the step that onCancel names, if any. The run's context is done by
// then, so it runs on a detached one with the cleanup deadline; the run still ends
// as cancelled.
func (r *runner) onCancel(ctx context.Context, steps []document.Step, step *document.Step, cancelErr error) error {
	target, ok := strings.CutPrefix(step.OnCancel, "step:")
	if !ok {
		return cancelErr
	}
	i, err := r.index(steps, target, step.Name, "onCancel")
	if err != nil {
		return fmt.Errorf("%w; %w", cancelErr, err)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.CleanupTimeout)
	defer cancel()
	if err := r.runSteps(cctx, steps, i); err != nil {
		return fmt.Errorf("%w; then onCancel step %q: %w", cancelErr, target, err)
	}
	return cancelErr
}

type stepOutcome struct {
	status string
	result actions.Result
	err    error // a *StepError unless the run cannot go on at all
	fatal  bool  // ends the run whatever onFailure says
}

func (r *runner) execStep(ctx context.Context, step *document.Step) stepOutcome {
	started := r.now()
	sr := StepResult{Name: r.stepPrefix + step.Name, Action: step.Action, StartedAt: started}
	r.emit(Event{Kind: EventStepStart, Step: sr.Name, Action: step.Action})

	out := r.attempts(ctx, step, &sr)

	sr.Status = out.status
	sr.FinishedAt = r.now()
	fields := map[string]any{"status": out.status, "attempts": sr.Attempts}
	if out.err != nil {
		var se *StepError
		if errors.As(out.err, &se) {
			sr.Message = errorText(se.Err)
			r.stepErrs[step.Name] = se.Err
		} else {
			sr.Message = errorText(out.err)
			r.stepErrs[step.Name] = out.err
		}
		sr.Message = r.redact(sr.Message)
		fields["error"] = sr.Message
	} else {
		delete(r.stepErrs, step.Name)
		sr.Outputs = maps.Clone(out.result.Outputs)
		for k, v := range out.result.Outputs {
			r.outputs[step.Name+"."+k] = v
		}
		idFields(out.result.Outputs, fields)
		if out.result.NextStep != "" {
			fields["next_step"] = out.result.NextStep
		}
	}
	top := r.top()
	top.steps = append(top.steps, sr)
	r.emit(Event{Kind: EventStepEnd, Step: sr.Name, Action: step.Action, Attempt: sr.Attempts,
		Elapsed: sr.FinishedAt.Sub(started), Fields: fields})
	return out
}

// attempts resolves the step's inputs and runs its action up to maxAttempts times.
func (r *runner) attempts(ctx context.Context, step *document.Step, sr *StepResult) stepOutcome {
	fail := func(status string, err error) stepOutcome {
		return stepOutcome{status: status, err: &StepError{Step: step.Name, Action: step.Action, Status: status, Err: err}}
	}
	action, ok := r.lookup(step.Action)
	if !ok || action == nil {
		out := fail(StatusFailed, fmt.Errorf("the local engine cannot run action %s", step.Action))
		out.fatal = true
		return out
	}
	in, err := r.stepInputs(ctx, step)
	if err != nil {
		return fail(StatusFailed, err)
	}
	if err := checkStepImageName(step, in); err != nil {
		return fail(StatusFailed, err)
	}

	// Validation refuses maxAttempts above document.MaxAttempts at plan time;
	// a document that was not validated gets the ceiling.
	maxAttempts := 1
	if step.MaxAttempts != nil && *step.MaxAttempts > 1 {
		maxAttempts = int(min(*step.MaxAttempts, document.MaxAttempts))
	}
	for attempt := 1; ; attempt++ {
		sr.Attempts = attempt
		begun := r.now()
		before := r.imageIDs()
		// Each attempt gets its own copy: an action that edits its inputs must not
		// change what the next attempt sees.
		res, status, err := r.attempt(ctx, action, step, document.NormalizeValue(in).(map[string]any))
		// Before anything reports the attempt: its error may quote them.
		r.addSecret(res.Secrets...)
		if status != StatusSuccess {
			// What a failed attempt made is no step's output: nothing can
			// refer to it, so it goes whatever the run's outcome.
			for id := range r.imageIDs() {
				if !before[id] {
					r.discard[id] = true
				}
			}
		}
		if status == StatusSuccess {
			if res.Outputs != nil {
				res.Outputs = document.NormalizeValue(res.Outputs).(map[string]any)
			}
			return stepOutcome{status: status, result: res}
		}
		retry := status != StatusCancelled && attempt < maxAttempts
		fields := map[string]any{"error": errorText(err), "status": status, "will_retry": retry}
		if retry {
			fields["retry_in"] = retryBackoff(attempt)
		}
		r.emit(Event{Kind: EventAttemptFailed, Step: step.Name, Action: step.Action, Attempt: attempt,
			Elapsed: r.now().Sub(begun), Fields: fields})
		if !retry {
			return fail(status, err)
		}
		t := time.NewTimer(retryBackoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return fail(StatusCancelled, fmt.Errorf("%w (while waiting to retry after: %s)", ctx.Err(), errorText(err)))
		case <-t.C:
		}
	}
}

// attempt runs the action once under the step's timeout. A panic in the action
// becomes an error so that the run, and its cleanup, go on.
func (r *runner) attempt(ctx context.Context, action actions.Action, step *document.Step, in map[string]any) (res actions.Result, status string, err error) {
	actx := ctx
	var timeout time.Duration
	if step.TimeoutSeconds != nil && *step.TimeoutSeconds > 0 {
		timeout = time.Duration(*step.TimeoutSeconds) * time.Second
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = &PanicError{Value: p, Stack: debug.Stack()}
			}
		}()
		res, err = action.Run(actx, r.env(step), step, in)
	}()
	switch {
	case err == nil:
		return res, StatusSuccess, nil
	case ctx.Err() != nil:
		return res, StatusCancelled, err
	case timeout > 0 && errors.Is(actx.Err(), context.DeadlineExceeded):
		return res, StatusTimedOut, fmt.Errorf("no result within timeoutSeconds (%d): %w", *step.TimeoutSeconds, err)
	}
	return res, StatusFailed, err
}

// PanicError is a panic inside an action, recovered.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("the action panicked: %v", e.Value) }

// imageIDs is the set of images the ledger holds.
func (r *runner) imageIDs() map[string]bool {
	ids := map[string]bool{}
	for _, im := range r.ledger.Images() {
		ids[im.ID] = true
	}
	return ids
}
