package provider

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

func stringMapValue(kv ...string) types.Map {
	if len(kv) == 0 {
		return types.MapNull(types.StringType)
	}
	elems := map[string]attr.Value{}
	for i := 0; i+1 < len(kv); i += 2 {
		elems[kv[i]] = types.StringValue(kv[i+1])
	}
	return types.MapValueMust(types.StringType, elems)
}

func secretsModel(params, sensitive, writeOnly types.Map) imageResourceModel {
	return imageResourceModel{Parameters: params, SensitiveParameters: sensitive, SensitiveParametersWO: writeOnly}
}

// The values of sensitive_parameters_wo join the bake's parameter values as
// secrets, as those of sensitive_parameters do; a parameter given twice is an
// error at the attribute that repeats it.
func TestWriteOnlyParameters(t *testing.T) {
	ctx := context.Background()
	m := secretsModel(stringMapValue("size", "t3.micro"), stringMapValue("db", "hunter2"), stringMapValue("license", "L1C"))
	var diags diag.Diagnostics
	values, known := parameterValues(ctx, m, &diags)
	if !known || diags.HasError() {
		t.Fatalf("known %v, diags %v", known, diags)
	}
	if values["size"] != "t3.micro" || values["db"] != "hunter2" || values["license"] != "L1C" || len(values) != 3 {
		t.Errorf("values = %v", values)
	}
	if got := sensitiveNames(m); !slices.Equal(got, []string{"db", "license"}) {
		t.Errorf("sensitive names = %v", got)
	}
	if got := secretValues(m); len(got) != 2 || !slices.Contains(got, "hunter2") || !slices.Contains(got, "L1C") {
		t.Errorf("secret values = %v", got)
	}
	if got, want := sensitivePath(m, "license"), path.Root("sensitive_parameters_wo").AtMapKey("license"); !got.Equal(want) {
		t.Errorf("path of license = %s, want %s", got, want)
	}
	if got, want := sensitivePath(m, "db"), path.Root("sensitive_parameters").AtMapKey("db"); !got.Equal(want) {
		t.Errorf("path of db = %s, want %s", got, want)
	}

	for _, tc := range []struct {
		name string
		m    imageResourceModel
		at   path.Path
		text string
	}{
		{"parameters and write-only", secretsModel(stringMapValue("db", "x"), stringMapValue(), stringMapValue("db", "y")),
			path.Root("sensitive_parameters_wo").AtMapKey("db"), "given in both parameters and sensitive_parameters_wo"},
		{"sensitive and write-only", secretsModel(stringMapValue(), stringMapValue("db", "x"), stringMapValue("db", "y")),
			path.Root("sensitive_parameters_wo").AtMapKey("db"), "given in both sensitive_parameters and sensitive_parameters_wo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var diags diag.Diagnostics
			parameterValues(ctx, tc.m, &diags)
			if diags.ErrorsCount() != 1 {
				t.Fatalf("diags = %v", diags)
			}
			d, ok := diags.Errors()[0].(diag.DiagnosticWithPath)
			if !ok || !d.Path().Equal(tc.at) || !strings.Contains(d.Detail(), tc.text) {
				t.Errorf("diag = %v, want at %s saying %q", diags.Errors()[0], tc.at, tc.text)
			}
		})
	}

	unknown := secretsModel(stringMapValue(), stringMapValue(), types.MapUnknown(types.StringType))
	if _, known := parameterValues(ctx, unknown, &diags); known {
		t.Error("values known while sensitive_parameters_wo is unknown")
	}
}

// A parameter keeps its bake key when it moves from sensitive_parameters to
// sensitive_parameters_wo: both count by name.
func TestBakeKeyWriteOnlyLikeSensitive(t *testing.T) {
	ctx := context.Background()
	doc := &document.Document{SchemaVersion: "0.3", MainSteps: []document.Step{{Name: "nap", Action: "aws:sleep", Inputs: map[string]any{"Duration": "PT1S"}}}}
	key := func(m imageResourceModel) string {
		t.Helper()
		var diags diag.Diagnostics
		values, _ := parameterValues(ctx, m, &diags)
		k, err := bakeKey(doc, values, sensitiveNames(m), types.MapNull(types.StringType))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	classic := key(secretsModel(stringMapValue(), stringMapValue("db", "hunter2"), stringMapValue()))
	writeOnly := key(secretsModel(stringMapValue(), stringMapValue(), stringMapValue("db", "other")))
	if classic != writeOnly {
		t.Errorf("bake keys differ: %s (sensitive_parameters), %s (sensitive_parameters_wo)", classic, writeOnly)
	}
	if plain := key(secretsModel(stringMapValue("db", "hunter2"), stringMapValue(), stringMapValue())); plain == writeOnly {
		t.Error("the key does not tell a write-only parameter from a plain one")
	}
}
