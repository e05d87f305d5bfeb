package provider

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

func TestClientSetupSharedAndBounded(t *testing.T) {
	t.Run("concurrent callers share one setup", func(t *testing.T) {
		var calls atomic.Int32
		release := make(chan struct{})
		d := newProviderData(awsx.Config{}, nil)
		d.newClients = func(ctx context.Context, _ awsx.Config) (*awsx.Clients, error) {
			calls.Add(1)
			<-release
			return &awsx.Clients{AccountID: "123456789012"}, nil
		}
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if c, diags := d.Clients(context.Background()); diags.HasError() || c == nil {
					t.Errorf("Clients: %v", diags)
				}
			}()
		}
		time.Sleep(50 * time.Millisecond)
		close(release)
		wg.Wait()
		if n := calls.Load(); n != 1 {
			t.Errorf("%d setups for 5 concurrent callers, want 1", n)
		}
	})

	t.Run("a caller's deadline ends its wait, with the bound named", func(t *testing.T) {
		d := newProviderData(awsx.Config{}, nil)
		d.newClients = func(ctx context.Context, _ awsx.Config) (*awsx.Clients, error) {
			<-ctx.Done()
			return nil, &awsx.EndpointError{Service: "STS", Operation: "GetCallerIdentity", Endpoint: "http://127.0.0.1:9", Err: ctx.Err()}
		}
		ctx, cancel := withLimit(context.Background(), "timeouts.create", 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, diags := d.Clients(ctx)
		if time.Since(start) > 5*time.Second || !diags.HasError() {
			t.Fatalf("after %s: %v", time.Since(start), diags)
		}
		summary, detail := diags[0].Summary(), diags[0].Detail()
		if summary != "AWS Did Not Answer in Time" || !strings.Contains(detail, "within timeouts.create (100ms)") ||
			!strings.Contains(detail, "http://127.0.0.1:9") || !strings.Contains(detail, "raise timeouts.create") {
			t.Errorf("%s: %s", summary, detail)
		}

		// A caller with more time tries again: the failure was the deadline's.
		d.newClients = func(context.Context, awsx.Config) (*awsx.Clients, error) { return &awsx.Clients{}, nil }
		if _, diags := d.Clients(context.Background()); diags.HasError() {
			t.Errorf("second caller got the first one's deadline: %v", diags)
		}
	})

	t.Run("a failure that would repeat is kept", func(t *testing.T) {
		var calls atomic.Int32
		d := newProviderData(awsx.Config{}, nil)
		d.newClients = func(context.Context, awsx.Config) (*awsx.Clients, error) {
			calls.Add(1)
			return nil, &awsx.CredentialsError{Problem: awsx.CredentialsRejected, Code: "InvalidClientTokenId",
				Msg: "static credentials from the provider's access_key (AKIA…MPLE) were rejected by STS GetCallerIdentity"}
		}
		for range 3 {
			_, diags := d.Clients(context.Background())
			if !diags.HasError() || diags[0].Summary() != "AWS Credentials Rejected" {
				t.Fatalf("diags %v", diags)
			}
		}
		if calls.Load() != 1 {
			t.Errorf("%d setups, want 1", calls.Load())
		}
	})
}

func TestSetupErrorText(t *testing.T) {
	for _, tc := range []struct {
		err     error
		summary string
		detail  string
	}{
		{&awsx.CredentialsError{Problem: awsx.CredentialsNotFound, Msg: "no AWS credentials found in: ..."}, "No AWS Credentials Found", "AWS_ACCESS_KEY_ID"},
		{&awsx.CredentialsError{Problem: awsx.CredentialsRejected, Msg: "x were rejected"}, "AWS Credentials Rejected", "aws sts get-caller-identity"},
		{&awsx.CredentialsError{Problem: awsx.RoleNotAssumed, Msg: "role could not be assumed"}, "Cannot Assume Role", "trust policy"},
		{&awsx.EndpointError{Service: "STS", Operation: "GetCallerIdentity", Endpoint: "https://sts.example", Err: errors.New("timeout")},
			"AWS Did Not Answer", "gives up after 1m0s"},
		{errors.New("no AWS region"), "AWS Configuration Error", "no AWS region"},
	} {
		summary, detail := setupErrorText(context.Background(), tc.err)
		if summary != tc.summary || !strings.Contains(detail, tc.detail) || !strings.Contains(detail, tc.err.Error()) {
			t.Errorf("%v:\n got %s: %s\nwant %s: ...%s...", tc.err, summary, detail, tc.summary, tc.detail)
		}
	}
}

func TestCheckDestroyableRefusesAnotherAccountsImage(t *testing.T) {
	cloud := simcloud.NewInstant()
	cloud.AddImage(simcloud.Image{ID: "ami-theirs", Owner: "801119661308"})
	cloud.AddImage(simcloud.Image{ID: "ami-ours"})
	c := cloud.Clients(awsx.DefaultPolicy())
	diags := checkDestroyable(context.Background(), c, "ami-theirs")
	if !diags.HasError() || diags[0].Summary() != "Image Owned by Another Account" ||
		!strings.Contains(diags[0].Detail(), "Refusing to destroy image ami-theirs: it is owned by account 801119661308, "+
			"and the provider's credentials are in account 123456789012") {
		t.Errorf("another account's image: %v", diags)
	}
	for _, id := range []string{"ami-ours", "ami-gone"} {
		if diags := checkDestroyable(context.Background(), c, id); diags.HasError() {
			t.Errorf("%s refused: %v", id, diags)
		}
	}
}

func TestExplainRunError(t *testing.T) {
	roleErr := &engine.RoleError{Role: "arn:aws:iam::123456789012:role/r", Code: "AccessDenied", Err: errors.New("AccessDenied: no")}
	if got := explainRunError(context.Background(), roleErr).Error(); !strings.Contains(got, "use_document_assume_role = false") ||
		!strings.Contains(got, "Nothing was created") {
		t.Errorf("role error: %s", got)
	}
	runErr := errors.New(`run cancelled before step "launch": context deadline exceeded`)
	expired, cancel := withLimit(context.Background(), "timeouts.create", time.Nanosecond)
	defer cancel()
	<-expired.Done()
	if got := explainRunError(expired, runErr).Error(); !strings.Contains(got, "did not finish within timeouts.create (1ns)") ||
		!strings.Contains(got, "raise timeouts.create") {
		t.Errorf("deadline: %s", got)
	}
	// Ctrl-C is not a timeout.
	interrupted, stop := context.WithCancel(context.Background())
	stop()
	limited, cancel2 := withLimit(interrupted, "timeouts.create", time.Hour)
	defer cancel2()
	if got := explainRunError(limited, runErr); got != runErr {
		t.Errorf("interrupt: %v", got)
	}
}
