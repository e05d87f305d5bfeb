package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// Images are named by the run, and EC2 refuses a name it does not take (3 to
// 128 characters of a small set) only at CreateImage or CopyImage: by then the
// run has launched, updated and stopped a builder. So every ImageName that the
// parameters and globals alone decide is checked when the run starts, before
// the sweep and the first step, and a name that depends on step outputs (or
// on variables a step may update) right before its step calls EC2.

// checkImageNames checks, at run start, the ImageName of every main step that
// makes an image and whose name is known without running any step.
func (r *runner) checkImageNames(ctx context.Context) error {
	for i := range r.doc.MainSteps {
		step := &r.doc.MainSteps[i]
		raw, ok := imageNameInput(step)
		if !ok || !knownAtStart(raw) {
			continue
		}
		sc := &scope{ctx: ctx, r: r, params: r.params}
		v, err := document.Resolve(raw, sc)
		if err != nil {
			continue // reported by the step when it resolves its inputs
		}
		if err := checkResolvedImageName(v); err != nil {
			return &StepError{Step: step.Name, Action: step.Action, Status: StatusSkipped,
				Err: fmt.Errorf("%w; checked when the run started, before anything was created", err)}
		}
	}
	return nil
}

// checkStepImageName checks the resolved ImageName input of a step that makes
// an image, before its action runs.
func checkStepImageName(step *document.Step, in map[string]any) error {
	if _, ok := imageNameInput(step); !ok {
		return nil
	}
	if err := checkResolvedImageName(in["ImageName"]); err != nil {
		return fmt.Errorf("%w; checked before calling EC2", err)
	}
	return nil
}

func imageNameInput(step *document.Step) (any, bool) {
	if !slices.Contains(document.ImageNameActions, step.Action) {
		return nil, false
	}
	raw, ok := step.Inputs["ImageName"]
	return raw, ok && raw != nil
}

// knownAtStart reports whether a value's templates name only parameters,
// globals and the execution id.
func knownAtStart(v any) bool {
	refs, err := document.RefsIn(v)
	if err != nil {
		return false
	}
	for _, ref := range refs {
		switch {
		case ref.Kind == document.RefStepOutput, ref.IsVariable():
			return false
		case ref.Kind == document.RefParameter && slices.Contains(document.PseudoParameters, ref.Name):
			return false
		}
	}
	return true
}

func checkResolvedImageName(v any) error {
	s, err := document.Coerce(v, document.TypeString)
	if err != nil {
		return fmt.Errorf("ImageName: %w", err)
	}
	return document.CheckImageName(s.(string))
}
