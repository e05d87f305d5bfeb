package actions

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// waitForAwsResourceProperty is aws:waitForAwsResourceProperty: call the API on
// the shared poll schedule until the selected property has a desired value.
type waitForAwsResourceProperty struct{}

func init() { register("aws:waitForAwsResourceProperty", waitForAwsResourceProperty{}) }

func (waitForAwsResourceProperty) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	sel, desired, err := propertyInputs(in)
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	grace := 12 * env.Clients.Policy.Max
	var last, secrets []string
	err = awsx.Poll(ctx, env.Clients.Policy, func(ctx context.Context) (bool, error) {
		got, more, err := property(ctx, env, in, sel)
		for _, v := range more {
			if !slices.Contains(secrets, v) {
				secrets = append(secrets, v)
			}
		}
		if err != nil {
			// Waiting on something just created: it may not be visible yet.
			if awsx.IsNotFound(err) && time.Since(start) < grace {
				return false, nil
			}
			return false, err
		}
		last = got
		return isDesired(got, desired), nil
	})
	if err != nil {
		if last != nil {
			return Result{Secrets: secrets}, fmt.Errorf("%s is %s, waiting for one of %s: %w", sel, show(last), strings.Join(desired, ", "), err)
		}
		return Result{Secrets: secrets}, err
	}
	return Result{Outputs: map[string]any{}, Secrets: secrets}, nil
}

func propertyInputs(in map[string]any) (string, []string, error) {
	sel, err := required(in, "PropertySelector")
	if err != nil {
		return "", nil, err
	}
	desired := strList(in, "DesiredValues")
	if len(desired) == 0 {
		return "", nil, fmt.Errorf("input DesiredValues is required")
	}
	return sel, desired, nil
}

// property calls the API and returns the selected values as strings (a
// selected list contributes its elements).
func property(ctx context.Context, env *Env, in map[string]any, sel string) (values, secrets []string, err error) {
	doc, secrets, err := callAPI(ctx, env, in)
	if err != nil {
		return nil, nil, err
	}
	nodes, err := selectNodes(doc, sel)
	if err != nil {
		return nil, secrets, err
	}
	var out []string
	for _, n := range nodes {
		if l, ok := n.([]any); ok {
			for _, e := range l {
				s, _ := scalarString(e)
				out = append(out, s)
			}
			continue
		}
		s, _ := scalarString(n)
		out = append(out, s)
	}
	return out, secrets, nil
}

// isDesired: something was selected and every selected value is desired.
func isDesired(got, desired []string) bool {
	if len(got) == 0 {
		return false
	}
	for _, g := range got {
		if !slices.Contains(desired, g) {
			return false
		}
	}
	return true
}

func show(v []string) string {
	switch len(v) {
	case 0:
		return "not present"
	case 1:
		return fmt.Sprintf("%q", v[0])
	}
	return fmt.Sprintf("%q", v)
}
