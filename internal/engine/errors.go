package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// ErrTooManySteps is wrapped by the error of a run stopped by MaxStepExecutions.
var ErrTooManySteps = errors.New("too many step executions")

// StepError is the failure of one step that ended the run (or, for a critical step
// that was continued past, made it fail at the end).
type StepError struct {
	Step   string
	Action string
	Status string // Failed, TimedOut or Cancelled
	Err    error
}

func (e *StepError) Error() string {
	verb := "failed"
	switch e.Status {
	case StatusTimedOut:
		verb = "timed out"
	case StatusCancelled:
		verb = "was cancelled"
	case StatusSkipped:
		verb = "did not run"
	}
	return fmt.Sprintf("step %q (%s) %s: %s", e.Step, e.Action, verb, errorText(e.Err))
}

func (e *StepError) Unwrap() error { return e.Err }

// ParameterError lists the parameter values that do not fit the document.
type ParameterError struct {
	Problems []document.Problem
}

func (e *ParameterError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return "invalid parameters: " + strings.Join(msgs, "; ")
}

// CleanupError reports what cleanup could not remove; those resources need
// attention by hand (they carry the amibake:execution-id tag).
type CleanupError struct {
	Leftovers []string // ids
	Failures  []ami.Failure
	Err       error
}

func newCleanupError(rep actions.CleanupReport, err error) *CleanupError {
	return &CleanupError{Leftovers: failureIDs(rep.Failures), Failures: rep.Failures, Err: err}
}

func (e *CleanupError) Error() string {
	if len(e.Failures) == 0 {
		return "cleanup failed: " + errorText(e.Err)
	}
	msgs := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		where := ""
		if f.Region != "" {
			where = " in " + f.Region
		}
		msgs[i] = fmt.Sprintf("%s %s%s (%s)", f.Kind, f.ID, where, errorText(f.Err))
	}
	return "cleanup could not remove " + strings.Join(msgs, ", ")
}

func (e *CleanupError) Unwrap() error { return e.Err }

// errorText shortens the SDK's "operation error EC2: RunInstances, https response
// error StatusCode: 400, RequestID: …, api error Code: message" to "Code: message",
// keeping whatever context the action wrapped around it.
func errorText(err error) string {
	if err == nil {
		return "unknown error"
	}
	text := err.Error()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return text
	}
	short := apiErr.ErrorCode() + ": " + apiErr.ErrorMessage()
	var opErr *smithy.OperationError
	if errors.As(err, &opErr) && strings.Contains(text, opErr.Error()) {
		return strings.Replace(text, opErr.Error(), short, 1)
	}
	if s := apiErr.Error(); strings.Contains(text, s) {
		return strings.Replace(text, s, short, 1)
	}
	return text
}
