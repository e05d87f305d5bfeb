package provider

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-log/tflogtest"
)

// checkRecovered asserts a recovered panic: one error diagnostic that names the
// method and asks for a report, and the stack in the provider log.
func checkRecovered(t *testing.T, diags diag.Diagnostics, log *bytes.Buffer, method, value string) {
	t.Helper()
	if diags.ErrorsCount() != 1 {
		t.Fatalf("want 1 error diagnostic, got %v", diags)
	}
	d := diags.Errors()[0]
	for _, want := range []string{method, value, "Please report it", "TF_LOG"} {
		if !strings.Contains(d.Summary()+" "+d.Detail(), want) {
			t.Errorf("diagnostic does not say %q:\n%s\n%s", want, d.Summary(), d.Detail())
		}
	}
	entries, err := tflogtest.MultilineJSONDecode(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e["@level"] == "error" && strings.Contains(e["@message"].(string), method) {
			if stack, _ := e["stack"].(string); !strings.Contains(stack, "runtime/debug.Stack") && !strings.Contains(stack, "goroutine") {
				t.Errorf("log entry has no stack: %v", e)
			}
			return
		}
	}
	t.Errorf("no error log entry for the panic in %s: %v", method, entries)
}

func TestRecoverPanic(t *testing.T) {
	var log bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &log)
	var diags diag.Diagnostics
	func() {
		defer recoverPanic(ctx, "amibake_image create", &diags)
		panic("boom")
	}()
	checkRecovered(t, diags, &log, "amibake_image create", "boom")

	// No panic, no diagnostic.
	var quiet diag.Diagnostics
	func() { defer recoverPanic(ctx, "x", &quiet) }()
	if quiet.HasError() {
		t.Errorf("diagnostics without a panic: %v", quiet)
	}
}

// nullState is a state of the resource's schema with every attribute null but id.
func nullState(t *testing.T, r resource.Resource) tfsdk.State {
	t.Helper()
	ctx := context.Background()
	var sr resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sr)
	typ := sr.Schema.Type().TerraformType(ctx).(tftypes.Object)
	vals := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		vals[name] = tftypes.NewValue(at, nil)
	}
	vals["id"] = tftypes.NewValue(tftypes.String, "ami-0123456789abcdef0")
	return tfsdk.State{Schema: sr.Schema, Raw: tftypes.NewValue(typ, vals)}
}

// TestResourceMethodPanicIsRecovered forces a real panic in amibake_image's Read
// and Delete: a resource that was never configured has no provider data, so
// its first AWS call dereferences nil.
func TestResourceMethodPanicIsRecovered(t *testing.T) {
	var log bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &log)
	r := &imageResource{}
	state := nullState(t, r)

	readResp := &resource.ReadResponse{State: state}
	r.Read(ctx, resource.ReadRequest{State: state}, readResp)
	checkRecovered(t, readResp.Diagnostics, &log, "amibake_image read", "nil pointer")

	log.Reset()
	delResp := &resource.DeleteResponse{State: state}
	r.Delete(ctx, resource.DeleteRequest{State: state}, delResp)
	checkRecovered(t, delResp.Diagnostics, &log, "amibake_image delete", "nil pointer")
}
