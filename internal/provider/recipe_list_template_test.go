package provider

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// Two things JSON writes that an HCL list attribute cannot take as written: a
// whole list as one template where a list belongs ("InstanceIds":
// "{{ launch.InstanceIds }}") and a scalar Run Command parameter
// ("UpdateLevel": "Important"). The guide and the actions reference give the
// HCL for them: the template as the one element of a list, and a one-element
// list. This test holds that this HCL is the same document as the JSON, that
// the one-element list splices the whole list when the bake resolves it, and
// that the bare string is refused by Terraform's own type conversion.
func TestRecipeHCLWholeListTemplate(t *testing.T) {
	const asJSON = `{
  "schemaVersion": "0.3",
  "mainSteps": [
    {"name": "launch", "action": "aws:runInstances",
     "inputs": {"ImageId": "ami-12c6146b", "InstanceType": "t3.micro", "MinInstanceCount": 2, "MaxInstanceCount": 2}},
    {"name": "patch", "action": "aws:runCommand",
     "inputs": {"DocumentName": "AWS-InstallWindowsUpdates", "InstanceIds": "{{ launch.InstanceIds }}",
                "Parameters": {"Action": "Install", "UpdateLevel": "Important"}}},
    {"name": "stop", "action": "aws:changeInstanceState",
     "inputs": {"InstanceIds": "{{ launch.InstanceIds }}", "DesiredState": "stopped"}}
  ]
}`
	const asHCL = `
step {
  name = "launch"
  run_instances {
    image_id           = "ami-12c6146b"
    instance_type      = "t3.micro"
    min_instance_count = 2
    max_instance_count = 2
  }
}

step {
  name = "patch"
  run_command {
    document_name = "AWS-InstallWindowsUpdates"
    instance_ids  = ["{{ launch.InstanceIds }}"]
    parameters    = { Action = ["Install"], UpdateLevel = ["Important"] }
  }
}

step {
  name = "stop"
  change_instance_state {
    instance_ids  = ["{{ launch.InstanceIds }}"]
    desired_state = "stopped"
  }
}
`
	fromJSON, err := document.ParseText(asJSON)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fromJSON.CanonicalJSON()
	if err != nil {
		t.Fatal(err)
	}
	fromHCL, unknown, diags := readRecipeHCL(t, asHCL).toDocument(context.Background())
	if diags.HasError() || unknown {
		t.Fatalf("unknown %v, diagnostics %v", unknown, diags)
	}
	if problems := document.Errors(recipeProblems(fromHCL)); len(problems) > 0 {
		t.Fatalf("the documented HCL does not validate: %v", problems)
	}
	got, err := fromHCL.CanonicalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("the documented HCL is another document.\nHCL renders:\n%s\nJSON renders:\n%s", got, want)
	}

	// At run time the one element stands for every instance launched.
	scope := stepOutputs{"launch.InstanceIds": []any{"i-1", "i-2"}}
	for _, step := range fromHCL.MainSteps[1:] {
		resolved, err := document.Resolve(step.Inputs["InstanceIds"], scope)
		if err != nil {
			t.Fatalf("step %s: %v", step.Name, err)
		}
		if !reflect.DeepEqual(resolved, []any{"i-1", "i-2"}) {
			t.Errorf("step %s: InstanceIds resolve to %#v, want both instances", step.Name, resolved)
		}
	}

	// The bare string never reaches the provider: Terraform converts the
	// value to the attribute's type first, and a string is no list.
	stepType := recipeBlocks()["step"].Type().(types.ListType).ElemType.(types.ObjectType)
	block := stepType.AttrTypes["run_command"]
	if l, ok := block.(types.ListType); ok {
		block = l.ElemType
	}
	listType := block.(types.ObjectType).AttrTypes["instance_ids"]
	expr, parseDiags := hclsyntax.ParseExpression([]byte(`"{{ launch.InstanceIds }}"`), "recipe.tf", hcl.InitialPos)
	if parseDiags.HasErrors() {
		t.Fatal(parseDiags)
	}
	v, _ := expr.Value(nil)
	if !listType.Equal(types.ListType{ElemType: types.StringType}) {
		t.Fatalf("instance_ids is %s, not a list of strings", listType)
	}
	if _, err := convert.Convert(v, cty.List(cty.String)); err == nil || !strings.Contains(err.Error(), "list of string required") {
		t.Errorf("a bare string converts to a list of strings (err %v); the guide says it does not", err)
	}
}

// stepOutputs is a template scope of step outputs only.
type stepOutputs map[string]any

func (s stepOutputs) Lookup(ref document.Ref) (any, error) {
	v, ok := s[ref.Step+"."+ref.Output]
	if !ok {
		return nil, fmt.Errorf("no value for %s", ref.Raw)
	}
	return v, nil
}
