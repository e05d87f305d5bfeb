package engine

import (
	"context"
	"reflect"
	"testing"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
)

// NoCleanup leaves a failed run's builder where it is, as SSM Automation
// does, and still reports it.
func TestRunNoCleanupLeavesWhatTheRunMade(t *testing.T) {
	called := false
	withCleanup(t, func(context.Context, *actions.Env, actions.CleanupOptions) (actions.CleanupReport, error) {
		called = true
		return actions.CleanupReport{}, nil
	})
	s := &script{behaviour: map[string]fakeAction{"launch": recordInstance("i-1"), "update": fails("boom")}}
	o := options(s, nil)
	o.NoCleanup = true
	res, err := Run(context.Background(), doc(step("launch", "aws:runInstances"), step("update", "aws:runCommand")), nil, o)
	if err == nil {
		t.Fatal("the run succeeded")
	}
	if called {
		t.Error("cleanup ran")
	}
	if !reflect.DeepEqual(res.Instances, []string{"i-1"}) || len(res.Leftovers) != 0 {
		t.Errorf("Instances = %v, Leftovers = %v", res.Instances, res.Leftovers)
	}
}
