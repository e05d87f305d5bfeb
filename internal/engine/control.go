package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// The actions that steer the run itself (aws:updateVariable, aws:loop,
// aws:executeAutomation) do so through stepControl, the actions.RunControl
// of the step being run.

type stepControl struct {
	r    *runner
	step *document.Step
}

var _ actions.RunControl = (*stepControl)(nil)

// initVariables gives each runbook variable its default, templates resolved
// and converted to the variable's type.
func (r *runner) initVariables(ctx context.Context) error {
	r.vars = make(map[string]any, len(r.doc.Variables))
	sc := &scope{ctx: ctx, r: r, params: r.params, inDefaults: true}
	budget := document.NewBudget(document.MaxInputSetBytes)
	for _, v := range r.doc.Variables {
		if !v.HasDefault {
			r.vars[v.Name] = nil
			continue
		}
		val, err := budget.Resolve(document.NormalizeValue(v.Default), sc)
		if err == nil && v.Type != "" {
			val, err = document.Coerce(val, document.InputType(document.BaseType(v.Type)))
		}
		if err != nil {
			return fmt.Errorf("default of variable %s: %w", document.QuoteValue(v.Name), err)
		}
		r.vars[v.Name] = val
	}
	return nil
}

// variable is the current value of a runbook variable.
func (r *runner) variable(name string) (any, bool) {
	if v, ok := r.vars[name]; ok {
		return v, true
	}
	if r.vars == nil {
		for _, v := range r.doc.Variables {
			if v.Name == name {
				return v.Default, true
			}
		}
	}
	return nil, false
}

func (c *stepControl) SetVariable(name string, value any) error {
	r := c.r
	for _, v := range r.doc.Variables {
		if v.Name != name {
			continue
		}
		if v.Type != "" {
			conv, err := document.Coerce(value, document.InputType(document.BaseType(v.Type)))
			if err != nil {
				return fmt.Errorf("input Value does not fit variable %s of type %s: %w", document.QuoteValue(name), v.Type, err)
			}
			value = conv
		}
		if r.vars == nil {
			r.vars = map[string]any{}
		}
		r.vars[name] = document.NormalizeValue(value)
		return nil
	}
	names := make([]string, 0, len(r.doc.Variables))
	for _, v := range r.doc.Variables {
		names = append(names, v.Name)
	}
	return fmt.Errorf("input Name: the document declares no variable %s in its variables (declared: %v)", document.QuoteValue(name), names)
}

func (c *stepControl) Resolve(ctx context.Context, v any) (any, error) {
	sc := &scope{ctx: ctx, r: c.r, params: c.r.params}
	return document.NewBudget(document.MaxInputSetBytes).Resolve(document.NormalizeValue(v), sc)
}

func (c *stepControl) RunNested(ctx context.Context, outputs map[string]any, steps []document.Step) error {
	for k, v := range outputs {
		c.r.outputs[c.step.Name+"."+k] = document.NormalizeValue(v)
	}
	return c.r.runSteps(ctx, steps, 0)
}

// RunAutomation runs doc as a secondary automation: a runner of its own for
// its parameters, variables, outputs and {{automation:EXECUTION_ID}}, sharing
// with this run the clients, ledger, tags, secrets and the bound on step
// executions. It does not clean up: what it made is this run's, and this
// run's cleanup removes it.
func (c *stepControl) RunAutomation(ctx context.Context, doc *document.Document, params map[string]string, files actions.Attachments) (actions.AutomationResult, error) {
	r := c.r
	o := r.o
	o.ImageOutput = ""
	o.SensitiveParameters = nil
	child := &runner{
		doc:         doc,
		o:           o,
		lookup:      r.lookup,
		now:         r.now,
		executionID: uuid.NewString(),
		ledger:      r.ledger,
		outputs:     map[string]any{},
		ssmCache:    map[string]string{},
		discard:     r.discard,
		stepErrs:    map[string]error{},
		redactor:    r.redactor,
		parent:      r,
		stepPrefix:  r.stepPrefix + c.step.Name + "/",
		files:       actions.CheckedAttachments(files, doc.Files),
	}
	res := actions.AutomationResult{ExecutionID: child.executionID, Status: StatusFailed}
	err := child.protect(func() error {
		p, err := child.resolveParameters(ctx, params)
		if err != nil {
			return err
		}
		child.params = p
		if err := child.initVariables(ctx); err != nil {
			return err
		}
		if err := child.checkImageNames(ctx); err != nil {
			return err
		}
		if len(doc.MainSteps) == 0 {
			return errors.New("the secondary runbook has no steps")
		}
		return child.runFrom(ctx, 0)
	})
	switch {
	case err == nil:
		res.Status = StatusSuccess
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.Status = StatusTimedOut
	case ctx.Err() != nil:
		res.Status = StatusCancelled
	}
	for _, name := range doc.Outputs {
		if v, ok := child.outputs[name]; ok {
			res.Outputs = append(res.Outputs, v)
		}
	}
	return res, err
}
