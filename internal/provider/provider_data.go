package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// providerData is what Configure hands to resources. AWS clients are made on first
// use, so documents can be planned and validated without AWS credentials.
type providerData struct {
	cfg         awsx.Config
	defaultTags map[string]string
	// leaseDuration is the bakes' lease (engine.Options.LeaseDuration); zero
	// keeps the engine's default.
	leaseDuration time.Duration

	once    sync.Once
	clients *awsx.Clients
	err     error
}

func newProviderData(cfg awsx.Config, tags map[string]string) *providerData {
	return &providerData{cfg: cfg, defaultTags: tags}
}

// Clients returns the AWS client bundle, resolving credentials, region and account once.
func (d *providerData) Clients(ctx context.Context) (*awsx.Clients, diag.Diagnostics) {
	var diags diag.Diagnostics
	d.once.Do(func() {
		d.clients, d.err = awsx.New(ctx, d.cfg)
	})
	if d.err != nil {
		diags.AddError("AWS Configuration Error",
			d.err.Error()+"\n\nConfigure credentials and a region in the provider block, the AWS_* environment "+
				"variables or a shared config profile, as for the hashicorp/aws provider.")
	}
	return d.clients, diags
}

// providerDataFrom converts the opaque ProviderData of a Configure request.
func providerDataFrom(v any) (*providerData, diag.Diagnostics) {
	var diags diag.Diagnostics
	if v == nil {
		return nil, diags
	}
	d, ok := v.(*providerData)
	if !ok {
		diags.AddError("Unexpected Provider Data",
			fmt.Sprintf("Expected *providerData, got %T. Please report this issue to the provider developers.", v))
	}
	return d, diags
}

func isReservedTag(k string) bool { return strings.HasPrefix(k, "amibake:") }

func upperSnake(s string) string { return strings.ToUpper(s) }

// durationValidator accepts Go durations such as "1h" or "45m".
type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return "value must be a duration such as 1h or 45m"
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if d, err := time.ParseDuration(req.ConfigValue.ValueString()); err != nil || d <= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Duration",
			fmt.Sprintf("%s is not a positive duration; write it like \"1h\" or \"45m\".", document.QuoteValue(req.ConfigValue.ValueString())))
	}
}
