package engine

import (
	"context"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// What the provider needs from the actions, which it does not import: which
// actions run, documents by name, and the builders a bake kept.

// CanRun reports whether the engine can run the SSM action locally.
func CanRun(action string) bool {
	_, ok := actions.Lookup(action)
	return ok
}

// Supported lists the SSM actions the engine runs, sorted.
func Supported() []string {
	return actions.Supported()
}

// FetchDocument returns the content of an SSM Automation document by name.
func FetchDocument(ctx context.Context, clients *awsx.Clients, name string) (string, error) {
	return actions.FetchDocument(ctx, clients, name)
}

// TerminateKeptBuilders terminates the builders an image resource kept, once
// proven to be the run's own (see actions.TerminateBuilders).
func TerminateKeptBuilders(ctx context.Context, clients *awsx.Clients, executionID string, ids []string) (refused []string, err error) {
	return actions.TerminateBuilders(ctx, &actions.Env{Clients: clients, Ledger: actions.NewLedger(), ExecutionID: executionID}, executionID, ids)
}

// InstancesNotTerminated returns those of ids that still exist and are not
// terminated.
func InstancesNotTerminated(ctx context.Context, clients *awsx.Clients, ids []string) ([]string, error) {
	return actions.InstancesNotTerminated(ctx, &actions.Env{Clients: clients}, ids)
}
