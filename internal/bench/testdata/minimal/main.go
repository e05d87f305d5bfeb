// Command minimal is the smallest terraform-plugin-framework provider the
// refresh benchmark compares amibake_image with: one resource with one string
// attribute, whose Read only reads its state. It is built by the benchmark from
// the framework version in go.mod, so both providers pay the same framework
// and plugin protocol costs.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func main() {
	err := providerserver.Serve(context.Background(), func() provider.Provider { return minimalProvider{} },
		providerserver.ServeOpts{Address: "registry.terraform.io/amibake/minimal"})
	if err != nil {
		log.Fatal(err)
	}
}

type minimalProvider struct{}

func (minimalProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "minimal"
}

func (minimalProvider) Schema(context.Context, provider.SchemaRequest, *provider.SchemaResponse) {}

func (minimalProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (minimalProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return valueResource{} }}
}

func (minimalProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }

// valueResource is minimal_value: one string, kept as given.
type valueResource struct{}

type valueModel struct {
	Value types.String `tfsdk:"value"`
}

func (valueResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_value"
}

func (valueResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{Attributes: map[string]schema.Attribute{
		"value": schema.StringAttribute{Required: true},
	}}
}

func (valueResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m valueModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (valueResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m valueModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
}

func (valueResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m valueModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (valueResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}
