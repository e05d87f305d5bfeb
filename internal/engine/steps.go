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

// runFrom runs steps starting at index i until the document ends, a step aborts
// the run, or ctx is cancelled.
func (r *runner) runFrom(ctx context.Context, i int) error {
	steps := r.doc.MainSteps
	// A critical step that failed but was continued past still fails the run, once
	// the remaining steps have had their chance (SSM's isCritical).
	var criticalErr error
	for i != end && i < len(steps) {
		step := &steps[i]
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("run cancelled before step %q: %w", step.Name, err)
		}
		r.executions++
		if r.executions > r.o.MaxStepExecutions {
			return fmt.Errorf("%w: run stopped after %d step executions, before step %q; the document's jumps (nextStep, onFailure, branch) appear to loop",
				ErrTooManySteps, r.o.MaxStepExecutions, step.Name)
		}

		out := r.execStep(ctx, step)
		if out.fatal {
			return out.err
		}
		switch out.status {
		case StatusSuccess:
			next, err := r.successor(i, out.result.NextStep)
			if err != nil {
				return err
			}
			i = next
		case StatusCancelled:
			return r.onCancel(ctx, step, out.err)
		default:
			onFailure := step.OnFailure
			switch {
			case onFailure == "Continue":
				next, err := r.successor(i, "")
				if err != nil {
					return err
				}
				i = next
			case strings.HasPrefix(onFailure, "step:"):
				next, err := r.index(strings.TrimPrefix(onFailure, "step:"), step.Name, "onFailure")
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
func (r *runner) successor(i int, branch string) (int, error) {
	step := &r.doc.MainSteps[i]
	switch {
	case branch != "":
		return r.index(branch, step.Name, "the branch")
	case step.IsEnd != nil && *step.IsEnd:
		return end, nil
	case step.NextStep != "":
		return r.index(step.NextStep, step.Name, "nextStep")
	}
	return i + 1, nil
}

func (r *runner) index(target, from, via string) (int, error) {
	for i := range r.doc.MainSteps {
		if r.doc.MainSteps[i].Name == target {
			return i, nil
		}
	}
	return end, fmt.Errorf("step %q: %s names step %q, which the document does not have", from, via, target)
}

// onCancel runs the step that onCancel names, if any. The run's context is done by
// then, so it runs on a detached one with the cleanup deadline; the run still ends
// as cancelled.
func (r *runner) onCancel(ctx context.Context, step *document.Step, cancelErr error) error {
	target, ok := strings.CutPrefix(step.OnCancel, "step:")
	if !ok {
		return cancelErr
	}
	i, err := r.index(target, step.Name, "onCancel")
	if err != nil {
		return fmt.Errorf("%w; %w", cancelErr, err)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.CleanupTimeout)
	defer cancel()
	if err := r.runFrom(cctx, i); err != nil {
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
	sr := StepResult{Name: step.Name, Action: step.Action, StartedAt: started}
	r.emit(Event{Kind: EventStepStart, Step: step.Name, Action: step.Action})

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
	r.steps = append(r.steps, sr)
	r.emit(Event{Kind: EventStepEnd, Step: step.Name, Action: step.Action, Attempt: sr.Attempts,
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
