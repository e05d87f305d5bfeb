package provider

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// nullOf is the null value of a Terraform type.
func nullOf(t *testing.T, typ attr.Type) attr.Value {
	t.Helper()
	ctx := context.Background()
	v, err := typ.ValueFromTerraform(ctx, tftypes.NewValue(typ.TerraformType(ctx), nil))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// objectOf builds an object of type typ from the given attributes, the others null.
func objectOf(t *testing.T, typ attr.Type, set map[string]attr.Value) types.Object {
	t.Helper()
	ot := typ.(types.ObjectType)
	attrs := map[string]attr.Value{}
	for name, at := range ot.AttrTypes {
		attrs[name] = nullOf(t, at)
		if v, ok := set[name]; ok {
			attrs[name] = v
		}
	}
	obj, diags := types.ObjectValue(ot.AttrTypes, attrs)
	if diags.HasError() {
		t.Fatal(diags)
	}
	return obj
}

// sampleInput is a value for an input of type typ in HCL and in the document.
func sampleInput(typ document.InputType) (attr.Value, any) {
	str := func(s string) attr.Value { return types.StringValue(s) }
	switch typ {
	case document.TypeInteger:
		return str("3"), int64(3)
	case document.TypeBoolean:
		return str("true"), true
	case document.TypeStringList:
		return types.ListValueMust(types.StringType, []attr.Value{str("a")}), []any{"a"}
	case document.TypeStringMap:
		return types.MapValueMust(types.StringType, map[string]attr.Value{"k": str("v")}), map[string]any{"k": "v"}
	case document.TypeMapList:
		tag := types.MapValueMust(types.StringType, map[string]attr.Value{"Key": str("k")})
		return types.ListValueMust(types.MapType{ElemType: types.StringType}, []attr.Value{tag}), []any{map[string]any{"Key": "k"}}
	case document.TypeStringListMap:
		l := types.ListValueMust(types.StringType, []attr.Value{str("v")})
		return types.MapValueMust(types.ListType{ElemType: types.StringType}, map[string]attr.Value{"k": l}), map[string]any{"k": []any{"v"}}
	case document.TypeJSON:
		return str(`{"a":1}`), map[string]any{"a": int64(1)}
	default:
		return str("x"), "x"
	}
}

// TestRecipeModelActionBlocks writes a step with each action block of the
// catalogue, every input set, and checks that the document step has the
// action and every input under its SSM name.
func TestRecipeModelActionBlocks(t *testing.T) {
	ctx := context.Background()
	stepType := recipeBlocks()["step"].Type().(types.ListType).ElemType
	for _, spec := range blockActions() {
		t.Run(spec.Block, func(t *testing.T) {
			blockType := stepType.(types.ObjectType).AttrTypes[spec.Block]
			if blockType == nil {
				t.Fatalf("the step block has no %s block", spec.Block)
			}
			set := map[string]attr.Value{}
			want := map[string]any{}
			for _, in := range spec.Inputs {
				set[document.SnakeCase(in.Name)], want[in.Name] = sampleInput(in.Type)
			}
			if spec.OpenInputs {
				set[apiInputsAttribute], want["Extra"] = types.StringValue(`{"Extra":"y"}`), "y"
			}
			step := objectOf(t, stepType, map[string]attr.Value{
				"name":     types.StringValue("s"),
				spec.Block: objectOf(t, blockType, set),
			})
			r := nullRecipe()
			r.Step = types.ListValueMust(stepType, []attr.Value{step})
			doc, unknown, diags := r.toDocument(ctx)
			if diags.HasError() || unknown {
				t.Fatalf("unknown %v, diagnostics %v", unknown, diags)
			}
			got := doc.MainSteps[0]
			if got.Name != "s" || got.Action != spec.Name || !reflect.DeepEqual(got.Inputs, want) {
				t.Errorf("step = %s %s %#v\nwant inputs %#v", got.Name, got.Action, got.Inputs, want)
			}
		})
	}
}

func TestRecipeModelParameters(t *testing.T) {
	ctx := context.Background()
	paramType := recipeBlocks()["parameter"].Type().(types.ListType).ElemType
	param := func(name, typ, def string) attr.Value {
		return objectOf(t, paramType, map[string]attr.Value{
			"name": types.StringValue(name), "type": types.StringValue(typ), "default": types.StringValue(def),
			"allowed_values": types.ListValueMust(types.StringType, []attr.Value{types.StringValue(def)}),
			"max_chars":      types.Int64Value(9),
		})
	}
	stepType := recipeBlocks()["step"].Type().(types.ListType).ElemType
	r := nullRecipe()
	r.Description = types.StringValue("d")
	r.Outputs = types.ListValueMust(types.StringType, []attr.Value{types.StringValue("s.Output")})
	r.Parameter = types.ListValueMust(paramType, []attr.Value{
		param("Count", "Integer", "5"),
		param("On", "Boolean", "true"),
		param("Ids", "StringList", `["a","b"]`),
		param("When", "String", "{{global:DATE_TIME}}"),
	})
	r.Step = types.ListValueMust(stepType, []attr.Value{objectOf(t, stepType, map[string]attr.Value{
		"name": types.StringValue("s"), "action": types.StringValue("aws:pause"), "max_attempts": types.Int64Value(2),
	})})
	doc, unknown, diags := r.toDocument(ctx)
	if diags.HasError() || unknown {
		t.Fatalf("unknown %v, diagnostics %v", unknown, diags)
	}
	nine := int64(9)
	want := []document.Parameter{
		{Name: "Count", Type: "Integer", Default: int64(5), HasDefault: true, AllowedValues: []string{"5"}, MaxChars: &nine},
		{Name: "On", Type: "Boolean", Default: true, HasDefault: true, AllowedValues: []string{"true"}, MaxChars: &nine},
		{Name: "Ids", Type: "StringList", Default: []any{"a", "b"}, HasDefault: true, AllowedValues: []string{`["a","b"]`}, MaxChars: &nine},
		{Name: "When", Type: "String", Default: "{{global:DATE_TIME}}", HasDefault: true, AllowedValues: []string{"{{global:DATE_TIME}}"}, MaxChars: &nine},
	}
	if !reflect.DeepEqual(doc.Parameters, want) {
		t.Errorf("parameters = %#v\nwant %#v", doc.Parameters, want)
	}
	if doc.Description != "d" || !reflect.DeepEqual(doc.Outputs, []string{"s.Output"}) ||
		doc.MainSteps[0].Action != "aws:pause" || *doc.MainSteps[0].MaxAttempts != 2 {
		t.Errorf("document = %+v", doc)
	}

	// A value not known yet leaves the document unbuilt, without diagnostics.
	r.Description = types.StringUnknown()
	if doc, unknown, diags := r.toDocument(ctx); doc != nil || !unknown || diags.HasError() {
		t.Errorf("with an unknown value: doc %v, unknown %v, diagnostics %v", doc, unknown, diags)
	}
}

// Integer and boolean inputs are strings in the schema: literals become
// numbers and booleans, templates stay, and a literal of the wrong kind is a
// plan-time error at the attribute, naming the step.
func TestRecipeModelTypedLiterals(t *testing.T) {
	ctx := context.Background()
	stepType := recipeBlocks()["step"].Type().(types.ListType).ElemType
	blockType := stepType.(types.ObjectType).AttrTypes["create_image"]
	image := func(noReboot string) *document.Document {
		r := nullRecipe()
		r.Step = types.ListValueMust(stepType, []attr.Value{objectOf(t, stepType, map[string]attr.Value{
			"name": types.StringValue("image"),
			"create_image": objectOf(t, blockType, map[string]attr.Value{
				"instance_id": types.StringValue("i-1"),
				"image_name":  types.StringValue("typed"),
				"no_reboot":   types.StringValue(noReboot),
			}),
		})})
		doc, unknown, diags := r.toDocument(ctx)
		if diags.HasError() || unknown {
			t.Fatalf("unknown %v, diagnostics %v", unknown, diags)
		}
		return doc
	}
	for text, want := range map[string]any{"true": true, "False": false, "{{ NoReboot }}": "{{ NoReboot }}"} {
		if got := image(text).MainSteps[0].Inputs["NoReboot"]; got != want {
			t.Errorf("no_reboot = %q: input %#v, want %#v", text, got, want)
		}
	}
	doc := image("maybe")
	var diags diag.Diagnostics
	addProblems(&diags, doc, document.Validate(doc), nil)
	if diags.ErrorsCount() != 1 {
		t.Fatalf("no_reboot = \"maybe\": want one error, got %v", diags)
	}
	d := diags.Errors()[0].(diag.DiagnosticWithPath)
	if want := path.Root("step").AtListIndex(0).AtName("create_image").AtName("no_reboot"); !d.Path().Equal(want) ||
		!strings.Contains(d.Detail(), `step "image"`) || !strings.Contains(d.Detail(), "true or false") {
		t.Errorf("error at %s: %s", d.Path(), d.Detail())
	}
}
