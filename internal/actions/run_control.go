package actions

import (
	"context"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// RunControl is what the actions that steer the run itself (aws:updateVariable,
// aws:loop, aws:executeAutomation) ask of the engine that runs them. Env.Run
// is nil outside a run; those actions fail then.
type RunControl interface {
	// SetVariable gives the runbook variable name (declared in the document's
	// top-level variables) a new value, converted to the variable's type.
	SetVariable(name string, value any) error
	// Resolve resolves the templates in v against the run as it is now:
	// parameters, variables and every output produced so far.
	Resolve(ctx context.Context, v any) (any, error)
	// RunNested publishes outputs as the current step's own, then runs steps
	// once, as part of the run: they count against its bound on step
	// executions, their outputs become the run's, and their jumps stay among
	// them. The error is the failure that ended them.
	RunNested(ctx context.Context, outputs map[string]any, steps []document.Step) error
	// RunAutomation runs doc as a secondary automation within this run: same
	// clients, same ledger and cleanup, same bound on step executions.
	RunAutomation(ctx context.Context, doc *document.Document, params map[string]string, files Attachments) (AutomationResult, error)
}

// AutomationResult is what a secondary automation produced. The engine
// returns it even when the automation failed.
type AutomationResult struct {
	ExecutionID string
	Status      string
	// Outputs are the values of the document's declared outputs, in order.
	Outputs []any
}
