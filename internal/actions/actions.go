// Package actions runs SSM Automation actions against AWS, one file per action,
// and keeps the ledger of everything a run creates so that it can be removed
// again.
package actions

import (
	"context"
	"sort"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// Env is what an action may use besides its inputs.
type Env struct {
	Clients *awsx.Clients
	Ledger  *Ledger
	// Tags go on everything the run creates: at creation for instances,
	// volumes and images; on snapshots as soon as the image lists them.
	Tags        map[string]string
	ExecutionID string
	Log         Logger // may be nil
	// Run steers the run itself (variables, nested steps, secondary
	// automations); nil outside the engine.
	Run RunControl
	// Files returns the document's attachments (aws:executeScript); nil when
	// the run has none to give.
	Files Attachments
}

// Logger receives one line per AWS resource created and per notable wait.
type Logger interface {
	Info(msg string, fields map[string]any)
}

func (e *Env) info(msg string, fields map[string]any) {
	if e != nil && e.Log != nil {
		e.Log.Info(msg, fields)
	}
}

// Result is what a step produced.
type Result struct {
	Outputs map[string]any
	// NextStep is set by aws:branch to the step to run next.
	NextStep string
	// Secrets are values the step learned that must not be shown: the
	// secret fields of an API response (see document.SecretFields). The
	// engine hides them wherever it reports the run, outputs included. An
	// action that fails returns them too, since its error may quote them.
	Secrets []string
}

// Action runs one step. in holds the step's inputs, templates resolved and
// values coerced to the action's input types, keyed by SSM input name.
type Action interface {
	Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error)
}

// registry holds the runnable actions, by SSM action name. Each action's file
// registers it (register, from init), so that adding an action is its file
// and its entry in the catalogue (document.Actions), whose HCL block the
// provider then offers; TestRegistryMatchesCatalog keeps the two in step.
var registry = map[string]Action{}

// register makes an action runnable under its SSM name. It is called from
// the action's file; a name registered twice is a programming error.
func register(name string, a Action) {
	if _, dup := registry[name]; dup {
		panic("actions: " + name + " registered twice")
	}
	registry[name] = a
}

// Lookup returns the runnable action for an SSM action name ("aws:runInstances").
func Lookup(name string) (Action, bool) {
	a, ok := registry[name]
	return a, ok
}

// Supported lists the action names this package can run, sorted.
func Supported() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
