package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
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
	// useDocumentRole runs bakes as the document's assumeRole.
	useDocumentRole bool
	// executor is where bakes run unless a resource says otherwise ("local"
	// when empty).
	executor string
	// newClients is awsx.New; tests replace it.
	newClients func(context.Context, awsx.Config) (*awsx.Clients, error)

	mu      sync.Mutex
	clients *awsx.Clients
	// failed is a setup failure that another try would repeat (credentials,
	// configuration, an endpoint that timed out on its own bounds).
	failed error
	// pending is the setup under way, which other callers wait for.
	pending *clientSetup
}

type clientSetup struct {
	done    chan struct{}
	clients *awsx.Clients
	err     error
	// retry: the setup ended because its caller's deadline passed, which
	// says nothing about what a caller with more time would get.
	retry bool
}

func newProviderData(cfg awsx.Config, tags map[string]string) *providerData {
	return &providerData{cfg: cfg, defaultTags: tags, useDocumentRole: true, newClients: awsx.New}
}

// Clients returns the AWS client bundle, resolving credentials, region and
// account once. The setup is bounded by ctx: callers bound ctx with withLimit,
// whose name the errors then give. Concurrent callers share one setup.
func (d *providerData) Clients(ctx context.Context) (*awsx.Clients, diag.Diagnostics) {
	var diags diag.Diagnostics
	c, err := d.setup(ctx)
	if err != nil {
		summary, detail := setupErrorText(ctx, err)
		diags.AddError(summary, detail)
	}
	return c, diags
}

func (d *providerData) setup(ctx context.Context) (*awsx.Clients, error) {
	for {
		d.mu.Lock()
		if d.clients != nil || d.failed != nil {
			c, err := d.clients, d.failed
			d.mu.Unlock()
			return c, err
		}
		s := d.pending
		if s == nil {
			s = &clientSetup{done: make(chan struct{})}
			d.pending = s
			d.mu.Unlock()
			c, err := d.newClients(ctx, d.cfg)
			d.mu.Lock()
			s.clients, s.err, s.retry = c, err, err != nil && ctx.Err() != nil
			switch {
			case err == nil:
				d.clients = c
			case !s.retry:
				d.failed = err
			}
			d.pending = nil
			close(s.done)
			d.mu.Unlock()
			return c, err
		}
		d.mu.Unlock()
		select {
		case <-s.done:
			if s.err == nil || !s.retry || ctx.Err() != nil {
				return s.clients, s.err
			}
			// The setup ran out of its caller's time; try with ours.
		case <-ctx.Done():
			return nil, &setupWaitError{err: ctx.Err()}
		}
	}
}

// knownRegion is the Region bakes run in as far as it is known without
// setting up clients: the provider's region, the clients' when they are set
// up, else the AWS_REGION and AWS_DEFAULT_REGION variables; "" when only a
// profile would tell.
func (d *providerData) knownRegion() string {
	if d == nil {
		return ""
	}
	if d.cfg.Region != "" {
		return d.cfg.Region
	}
	d.mu.Lock()
	c := d.clients
	d.mu.Unlock()
	if c != nil {
		return c.Region
	}
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// setupWaitError: the caller's bound passed while another caller's setup
// was still under way.
type setupWaitError struct{ err error }

func (e *setupWaitError) Error() string {
	return "the AWS client setup (credentials, then STS GetCallerIdentity) started by another operation had not finished: " + e.err.Error()
}

func (e *setupWaitError) Unwrap() error { return e.err }

// limitKey holds, in a context, the bound its deadline comes from.
type limitKey struct{}

type limit struct {
	name string // "timeouts.create", or what the bound is for ("refresh")
	d    time.Duration
}

func (l limit) String() string {
	if l.attribute() {
		return fmt.Sprintf("%s (%s)", l.name, l.d)
	}
	return fmt.Sprintf("the %s bound of a %s", l.d, l.name)
}

// attribute: the bound is a timeouts attribute the user can raise.
func (l limit) attribute() bool { return strings.HasPrefix(l.name, "timeouts.") }

// withLimit bounds ctx by d and names the bound for the errors of what runs
// under it: a timeouts attribute ("timeouts.create") or an operation ("refresh").
func withLimit(ctx context.Context, name string, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithValue(ctx, limitKey{}, limit{name, d}), d)
}

// limitOf is the bound of ctx set with withLimit.
func limitOf(ctx context.Context) (limit, bool) {
	l, ok := ctx.Value(limitKey{}).(limit)
	return l, ok
}

// Bounds of the operations that have no timeouts attribute of their own.
const (
	readTimeout   = 5 * time.Minute
	updateTimeout = 10 * time.Minute
)

// setupErrorText is the diagnostic for a failed client setup: what failed,
// and what to do about it.
func setupErrorText(ctx context.Context, err error) (summary, detail string) {
	var ce *awsx.CredentialsError
	var ee *awsx.EndpointError
	var we *setupWaitError
	switch {
	case errors.As(err, &ce) && ce.Problem == awsx.CredentialsNotFound:
		return "No AWS Credentials Found", err.Error() + "\n\nSet access_key and secret_key in the provider block, " +
			"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in the shared files; on EC2 or in a container, attach a role."
	case errors.As(err, &ce) && ce.Problem == awsx.CredentialsRejected:
		return "AWS Credentials Rejected", err.Error() + "\n\nCheck that the access key is active and that the secret " +
			"and session token belong to it (`aws sts get-caller-identity` with the same settings shows the same error), " +
			"or remove them so that the next source of credentials is used."
	case errors.As(err, &ce) && ce.Problem == awsx.RoleNotAssumed:
		return "Cannot Assume Role", err.Error() + "\n\nAllow these credentials sts:AssumeRole on the role, and let the " +
			"role's trust policy name them (and external_id, when it asks for one)."
	case errors.As(err, &ee) || errors.As(err, &we) || awsx.IsNoAnswer(err):
		what := "Check the endpoint (the provider's endpoints block, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>) and the network path to it"
		if l, ok := limitOf(ctx); ok && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			if l.attribute() {
				what += ", or raise " + l.name
			}
			return "AWS Did Not Answer in Time", fmt.Sprintf("Setting up the AWS clients did not finish within %s: %s\n\n%s.",
				l, err, what)
		}
		return "AWS Did Not Answer", fmt.Sprintf("Setting up the AWS clients failed: %s\n\n%s; every request gives up "+
			"after %s without response headers, and is retried.", err, what, awsx.DefaultResponseHeaderTimeout)
	}
	return "AWS Configuration Error", err.Error() + "\n\nConfigure credentials and a region in the provider block, the AWS_* " +
		"environment variables or a shared config profile, as for the hashicorp/aws provider."
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
