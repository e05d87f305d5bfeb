package provider

import (
	"context"
	"fmt"
	"reflect"

	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

// expectUnchanged is a plan check: the planned values of the resource's
// attributes are known and equal to their values in state, so the plan does
// not show them.
func expectUnchanged(address string, attrs ...string) plancheck.PlanCheck {
	return unchangedCheck{address: address, attrs: attrs}
}

type unchangedCheck struct {
	address string
	attrs   []string
}

func (c unchangedCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != c.address {
			continue
		}
		before, _ := rc.Change.Before.(map[string]any)
		after, _ := rc.Change.After.(map[string]any)
		unknown, _ := rc.Change.AfterUnknown.(map[string]any)
		for _, a := range c.attrs {
			if u, ok := unknown[a]; ok && u != false {
				resp.Error = fmt.Errorf("%s.%s is planned as (known after apply), want its state value %v", c.address, a, before[a])
				return
			}
			if !reflect.DeepEqual(before[a], after[a]) {
				resp.Error = fmt.Errorf("%s.%s changes from %v to %v, want it unchanged", c.address, a, before[a], after[a])
				return
			}
		}
		return
	}
	resp.Error = fmt.Errorf("no planned change for %s", c.address)
}
