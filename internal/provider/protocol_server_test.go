package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// An amibake_image state as Terraform stores it, written by an older version
// of the provider: the second step has no `output` list, `parameter` is null
// and one attribute no longer exists.
const oldImageStateJSON = `{
  "id": "ami-1", "image_id": "ami-1", "region": "us-east-1",
  "tags": {"team": "bakers"}, "snapshot_ids": ["snap-1"],
  "parameter": null,
  "step": [
    {"name": "launch", "output": [], "run_instances": {"image_id": "ami-12c6146b", "instance_type": "t3.micro"}},
    {"name": "image", "create_image": {"instance_id": "{{ launch.InstanceIds }}", "image_name": "img-{{ automation:EXECUTION_ID }}"}}
  ],
  "attribute_of_an_old_version": "x"
}`

func imageSchema(t *testing.T, server tfprotov6.ProviderServer) *tfprotov6.Schema {
	t.Helper()
	resp, err := server.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	schema := resp.ResourceSchemas[imageTypeName]
	if schema == nil {
		t.Fatalf("no schema for %s", imageTypeName)
	}
	return schema
}

func TestUpgradeResourceStateShortcutMatchesFramework(t *testing.T) {
	ctx := context.Background()
	framework := providerserver.NewProtocol6(New("test")())()
	ours := NewProtocol6(New("test")())()
	schema := imageSchema(t, framework)
	typ := schema.ValueType()

	upgrade := func(server tfprotov6.ProviderServer) tftypes.Value {
		t.Helper()
		resp, err := server.UpgradeResourceState(ctx, &tfprotov6.UpgradeResourceStateRequest{
			TypeName: imageTypeName, Version: schema.Version,
			RawState: &tfprotov6.RawState{JSON: []byte(oldImageStateJSON)},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range resp.Diagnostics {
			t.Errorf("diagnostic: %s: %s", d.Summary, d.Detail)
		}
		v, err := resp.UpgradedState.Unmarshal(typ)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	want, got := upgrade(framework), upgrade(ours)
	if !got.Equal(want) {
		diffs, _ := got.Diff(want)
		t.Fatalf("upgraded state differs from the framework's: %v", diffs)
	}
	// What the shortcut must have normalised, as the framework does.
	for _, p := range []*tftypes.AttributePath{
		tftypes.NewAttributePath().WithAttributeName("parameter"),
		tftypes.NewAttributePath().WithAttributeName("step").WithElementKeyInt(1).WithAttributeName("output"),
	} {
		v, _, err := tftypes.WalkAttributePath(got, p)
		if err != nil {
			t.Fatal(err)
		}
		if v.(tftypes.Value).IsNull() {
			t.Errorf("%s: null list block, want no elements", p)
		}
	}

	// A state of another schema version is the framework's to upgrade.
	resp, err := ours.UpgradeResourceState(ctx, &tfprotov6.UpgradeResourceStateRequest{
		TypeName: imageTypeName, Version: schema.Version + 1,
		RawState: &tfprotov6.RawState{JSON: []byte(oldImageStateJSON)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Diagnostics) == 0 {
		t.Error("a state of an unknown schema version was upgraded without a diagnostic")
	}
}

// readRecorder stands for the framework's ReadResource: it keeps the state it
// is given and answers with reply applied to it.
type readRecorder struct {
	tfprotov6.ProviderServer
	typ   tftypes.Type
	got   tftypes.Value
	reply func(map[string]tftypes.Value) map[string]tftypes.Value
}

func (r *readRecorder) ReadResource(_ context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	v, err := req.CurrentState.Unmarshal(r.typ)
	if err != nil {
		return nil, err
	}
	r.got = v
	var attrs map[string]tftypes.Value
	if err := v.As(&attrs); err != nil {
		return nil, err
	}
	copied := make(map[string]tftypes.Value, len(attrs))
	for k, v := range attrs {
		copied[k] = v
	}
	newAttrs := r.reply(copied)
	newState := tftypes.NewValue(r.typ, nil)
	if newAttrs != nil {
		newState = tftypes.NewValue(r.typ, newAttrs)
	}
	dv, err := tfprotov6.NewDynamicValue(r.typ, newState)
	return &tfprotov6.ReadResourceResponse{NewState: &dv, Private: req.Private}, err
}

func TestReadResourceHandsReadTheStateWithoutItsRecipe(t *testing.T) {
	ctx := context.Background()
	framework := providerserver.NewProtocol6(New("test")())()
	schema := imageSchema(t, framework)
	typ := schema.ValueType()
	prior := upgradedState(t, framework, schema)
	var priorAttrs map[string]tftypes.Value
	if err := prior.As(&priorAttrs); err != nil {
		t.Fatal(err)
	}
	dv, err := tfprotov6.NewDynamicValue(typ, prior)
	if err != nil {
		t.Fatal(err)
	}
	newTags := tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, map[string]tftypes.Value{"team": tftypes.NewValue(tftypes.String, "ovens")})
	recorder := &readRecorder{ProviderServer: framework, typ: typ, reply: func(attrs map[string]tftypes.Value) map[string]tftypes.Value {
		attrs["tags"] = newTags
		return attrs
	}}
	server := &protocolServer{ProviderServer: recorder}
	resp, err := server.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: imageTypeName, CurrentState: &dv, Private: []byte(`{"k":"dg=="}`)})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Private) != `{"k":"dg=="}` {
		t.Errorf("private state %q was not passed through", resp.Private)
	}

	// Read saw everything as it was but the recipe.
	var seen map[string]tftypes.Value
	if err := recorder.got.As(&seen); err != nil {
		t.Fatal(err)
	}
	recipe := recipeOnlyNames()
	for _, name := range []string{"step", "parameter", "document", "description"} {
		if _, ok := recipe[name]; !ok {
			t.Errorf("%s is not dropped from what Read is given", name)
		}
	}
	for _, a := range refreshedAttributes(&imageResourceModel{}) {
		if _, ok := recipe[a.name]; ok {
			t.Errorf("%s, which Read refreshes, is dropped from what Read is given", a.name)
		}
	}
	for name, v := range seen {
		if _, ok := recipe[name]; !ok {
			if !v.Equal(priorAttrs[name]) {
				t.Errorf("Read got %s = %v, want %v", name, v, priorAttrs[name])
			}
			continue
		}
		var elems []tftypes.Value
		if !v.IsNull() && (v.As(&elems) != nil || len(elems) > 0) {
			t.Errorf("Read got the recipe attribute %s = %v, want it empty", name, v)
		}
	}

	// The new state is Read's answer with the recipe put back.
	got, err := resp.NewState.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	var gotAttrs map[string]tftypes.Value
	if err := got.As(&gotAttrs); err != nil {
		t.Fatal(err)
	}
	for name, want := range priorAttrs {
		if name == "tags" {
			want = newTags
		}
		if !gotAttrs[name].Equal(want) {
			t.Errorf("new state %s = %v, want %v", name, gotAttrs[name], want)
		}
	}

	// A resource that Read removes stays removed.
	recorder.reply = func(map[string]tftypes.Value) map[string]tftypes.Value { return nil }
	resp, err = server.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: imageTypeName, CurrentState: &dv})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := resp.NewState.Unmarshal(typ); err != nil || !got.IsNull() {
		t.Errorf("removed resource: new state %v (%v), want null", got, err)
	}
}

// upgradedState is oldImageStateJSON as the framework upgrades it.
func upgradedState(t *testing.T, server tfprotov6.ProviderServer, schema *tfprotov6.Schema) tftypes.Value {
	t.Helper()
	resp, err := server.UpgradeResourceState(context.Background(), &tfprotov6.UpgradeResourceStateRequest{
		TypeName: imageTypeName, Version: schema.Version,
		RawState: &tfprotov6.RawState{JSON: []byte(oldImageStateJSON)},
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := resp.UpgradedState.Unmarshal(schema.ValueType())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNormaliseBlockNullsWriteOnlyAttributes(t *testing.T) {
	block := &tfprotov6.SchemaBlock{
		Attributes: []*tfprotov6.SchemaAttribute{
			{Name: "kept", Type: tftypes.String, Optional: true},
			{Name: "secret_wo", Type: tftypes.String, Optional: true, WriteOnly: true},
		},
		BlockTypes: []*tfprotov6.SchemaNestedBlock{{
			TypeName: "inner", Nesting: tfprotov6.SchemaNestedBlockNestingModeSingle,
			Block: &tfprotov6.SchemaBlock{Attributes: []*tfprotov6.SchemaAttribute{
				{Name: "token_wo", Type: tftypes.String, Optional: true, WriteOnly: true},
			}},
		}},
	}
	typ := block.ValueType()
	innerType := typ.(tftypes.Object).AttributeTypes["inner"]
	v := tftypes.NewValue(typ, map[string]tftypes.Value{
		"kept":      tftypes.NewValue(tftypes.String, "a"),
		"secret_wo": tftypes.NewValue(tftypes.String, "s"),
		"inner":     tftypes.NewValue(innerType, map[string]tftypes.Value{"token_wo": tftypes.NewValue(tftypes.String, "t")}),
	})
	got, err := normaliseBlock(block, v)
	if err != nil {
		t.Fatal(err)
	}
	want := tftypes.NewValue(typ, map[string]tftypes.Value{
		"kept":      tftypes.NewValue(tftypes.String, "a"),
		"secret_wo": tftypes.NewValue(tftypes.String, nil),
		"inner":     tftypes.NewValue(innerType, map[string]tftypes.Value{"token_wo": tftypes.NewValue(tftypes.String, nil)}),
	})
	if !got.Equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
