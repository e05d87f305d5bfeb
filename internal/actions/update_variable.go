package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// updateVariable is aws:updateVariable: a new value for a runbook variable,
// written Name: variable:NAME.
type updateVariable struct{}

func init() { register("aws:updateVariable", updateVariable{}) }

func (updateVariable) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	if env == nil || env.Run == nil {
		return Result{}, errors.New("aws:updateVariable runs only inside a run")
	}
	raw, err := required(in, "Name")
	if err != nil {
		return Result{}, err
	}
	name, ok := strings.CutPrefix(strings.TrimSpace(raw), "variable:")
	if !ok || name == "" {
		return Result{}, fmt.Errorf("input Name must be written variable:NAME, not %q", raw)
	}
	value, ok := in["Value"]
	if !ok {
		return Result{}, errors.New("input Value is required")
	}
	if err := env.Run.SetVariable(name, value); err != nil {
		return Result{}, err
	}
	return Result{Outputs: map[string]any{}}, nil
}
