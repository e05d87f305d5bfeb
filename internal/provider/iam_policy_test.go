package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// callRecorder notes the IAM action of every AWS call the provider makes.
type callRecorder struct {
	mu    sync.Mutex
	calls map[string]bool
}

func (r *callRecorder) option() func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("amibake.RecordCall",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				service := strings.ToLower(strings.ReplaceAll(awsmiddleware.GetServiceID(ctx), " ", ""))
				r.mu.Lock()
				r.calls[service+":"+awsmiddleware.GetOperationName(ctx)] = true
				r.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

func (r *callRecorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.calls))
	for c := range r.calls {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// policyActions reads the Allow actions of the documented policy.
func policyActions(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "iam", "bake-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pol struct {
		Statement []struct {
			Effect string
			Action any
		}
	}
	if err := json.Unmarshal(raw, &pol); err != nil {
		t.Fatalf("examples/iam/bake-policy.json: %v", err)
	}
	var out []string
	for _, st := range pol.Statement {
		switch a := st.Action.(type) {
		case string:
			out = append(out, a)
		case []any:
			for _, x := range a {
				out = append(out, fmt.Sprint(x))
			}
		}
	}
	return out
}

// TestAccImage_documentedPolicyCoversTheBake records every AWS call of the
// six-step pipeline (plan, apply, refresh, tag update and destroy) and checks
// that the documented policy allows each; the README and the registry docs
// show the same file.
func TestAccImage_documentedPolicyCoversTheBake(t *testing.T) {
	rec := &callRecorder{calls: map[string]bool{}}
	p := NewWithOptions("test", Options{APIOptions: []func(*middleware.Stack) error{rec.option()}})
	factories := map[string]func() (tfprotov6.ProviderServer, error){"amibake": NewProtocol6WithError(p())}
	var executions []string
	cfg := sixStepConfig
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t); ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             checkImagesDestroyed(t, &executions),
		Steps: []resource.TestStep{
			{Config: cfg(`{ team = "a" }`), Check: rememberExecution("amibake_image.patch", &executions)},
			{Config: cfg(`{ owner = "b" }`)},
		},
	})
	allowed := policyActions(t)
	calls := rec.list()
	if len(calls) < 10 {
		t.Fatalf("recorded only %v: the recorder is not in the clients", calls)
	}
	for _, c := range calls {
		if !slices.Contains(allowed, c) {
			t.Errorf("the bake called %s, which examples/iam/bake-policy.json does not allow", c)
		}
	}
	t.Logf("calls made: %s", strings.Join(calls, ", "))

	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := os.ReadFile(filepath.Join("..", "..", "examples", "iam", "bake-policy.json"))
	if !strings.Contains(string(readme), "```json\n"+string(pol)+"```") {
		t.Error("README.md does not show examples/iam/bake-policy.json as it is")
	}
}
