package actions

import (
	"context"
	"errors"
	"fmt"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// MaxLoopIterations is the most iterations of one aws:loop, and the most
// Iterators it takes: "The maximum number of iterations is 100" (AWS Systems
// Manager User Guide, aws:loop).
const MaxLoopIterations = 100

// loop is aws:loop: its nested steps run once per iterator (for each) or
// until LoopCondition is false (do while), at most MaxIterations times.
// During an iteration {{ loop.CurrentIteration }} (from 1) and
// {{ loop.CurrentIteratorValue }} name the iteration; after the loop they
// and the nested steps' outputs keep the last iteration's values. The
// engine hands Iterators, LoopCondition and Steps over unresolved (see
// LateInputs): they are resolved here, when their time comes.
type loop struct{}

func init() { register("aws:loop", loop{}) }

// LateInputs are, per action, the inputs the engine does not resolve before
// the step runs, because they refer to what the step itself produces.
var LateInputs = map[string][]string{
	"aws:loop": {"Iterators", "LoopCondition", "Steps"},
}

func (loop) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	if env == nil || env.Run == nil {
		return Result{}, errors.New("aws:loop runs only inside a run")
	}
	steps, err := document.LoopSteps(in["Steps"])
	if err != nil {
		return Result{}, err
	}
	maxIter := int64(MaxLoopIterations)
	if n, ok := integer(in, "MaxIterations"); ok {
		if n < 1 || n > MaxLoopIterations {
			return Result{}, fmt.Errorf("input MaxIterations must be between 1 and %d, not %d", MaxLoopIterations, n)
		}
		maxIter = n
	}
	_, forEach := in["Iterators"]
	_, doWhile := in["LoopCondition"]
	switch {
	case forEach && doWhile:
		return Result{}, errors.New("give either Iterators or LoopCondition, not both")
	case !forEach && !doWhile:
		return Result{}, errors.New("give Iterators (for each) or LoopCondition (do while)")
	}

	var items []any
	if forEach {
		if items, err = iterators(ctx, env, in); err != nil {
			return Result{}, err
		}
	}
	var outs map[string]any
	for n := int64(1); n <= maxIter; n++ {
		if forEach && n > int64(len(items)) {
			break
		}
		outs = map[string]any{"CurrentIteration": n}
		if forEach {
			outs["CurrentIteratorValue"] = items[n-1]
		}
		if err := env.Run.RunNested(ctx, outs, steps); err != nil {
			return Result{Outputs: outs}, fmt.Errorf("iteration %d: %w", n, err)
		}
		if doWhile {
			again, err := loopCondition(ctx, env, in["LoopCondition"])
			if err != nil {
				return Result{Outputs: outs}, fmt.Errorf("after iteration %d: %w", n, err)
			}
			if !again {
				break
			}
		}
	}
	if outs == nil {
		outs = map[string]any{"CurrentIteration": int64(0)}
	}
	return Result{Outputs: outs}, nil
}

// iterators resolves Iterators and converts each to IteratorDataType.
func iterators(ctx context.Context, env *Env, in map[string]any) ([]any, error) {
	v, err := env.Run.Resolve(ctx, in["Iterators"])
	if err != nil {
		return nil, fmt.Errorf("input Iterators: %w", err)
	}
	var items []any
	switch t := v.(type) {
	case []any:
		items = t
	case nil:
	default:
		items = []any{t}
	}
	if len(items) > MaxLoopIterations {
		return nil, fmt.Errorf("input Iterators has %d items; a loop takes at most %d", len(items), MaxLoopIterations)
	}
	typ := str(in, "IteratorDataType")
	if typ == "" {
		typ = "String"
	}
	want := document.InputType(typ)
	switch want {
	case document.TypeString, document.TypeInteger, document.TypeBoolean, document.TypeStringMap:
	default:
		return nil, fmt.Errorf("input IteratorDataType must be Boolean, Integer, String or StringMap, not %q", typ)
	}
	out := make([]any, len(items))
	for i, e := range items {
		c, err := document.Coerce(e, want)
		if err != nil {
			return nil, fmt.Errorf("input Iterators[%d]: %w", i, err)
		}
		out[i] = c
	}
	return out, nil
}

// loopCondition resolves the condition against the iteration just run and
// evaluates it as an aws:branch choice.
func loopCondition(ctx context.Context, env *Env, raw any) (bool, error) {
	v, err := env.Run.Resolve(ctx, raw)
	if err != nil {
		return false, fmt.Errorf("input LoopCondition: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false, fmt.Errorf("input LoopCondition must be a condition object, but it is %s", describe(v))
	}
	hit, err := evalChoice(m, "LoopCondition")
	if err != nil {
		return false, fmt.Errorf("input %w", err)
	}
	return hit, nil
}
