package actions

import (
	"context"
	"fmt"
	"strings"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// assertAwsResourceProperty is aws:assertAwsResourceProperty: one call; the
// step fails unless the selected property has a desired value.
type assertAwsResourceProperty struct{}

func init() { register("aws:assertAwsResourceProperty", assertAwsResourceProperty{}) }

func (assertAwsResourceProperty) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	sel, desired, err := propertyInputs(in)
	if err != nil {
		return Result{}, err
	}
	got, secrets, err := property(ctx, env, in, sel)
	if err != nil {
		return Result{Secrets: secrets}, err
	}
	if !isDesired(got, desired) {
		return Result{Secrets: secrets}, fmt.Errorf("%s is %s, not one of %s", sel, show(got), strings.Join(desired, ", "))
	}
	return Result{Outputs: map[string]any{}, Secrets: secrets}, nil
}
