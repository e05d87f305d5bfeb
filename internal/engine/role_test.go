package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// roleDoc is a two-step document whose assumeRole is the AutomationAssumeRole
// parameter, empty by default, as in AWS's own runbooks.
func roleDoc() *document.Document {
	d := doc(step("a", "aws:sleep"), step("b", "aws:sleep"))
	d.AssumeRole = "{{ AutomationAssumeRole }}"
	d.Parameters = []document.Parameter{{Name: "AutomationAssumeRole", Type: "String", Default: "", HasDefault: true}}
	return d
}

// assumer records the sessions asked for and answers with role or err.
type assumer struct {
	sessions []awsx.RoleSession
	role     *awsx.Clients
	err      error
}

func (a *assumer) assume(_ context.Context, s awsx.RoleSession) (*awsx.Clients, error) {
	a.sessions = append(a.sessions, s)
	return a.role, a.err
}

func TestRunAsDocumentRole(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/builder"
	base := &awsx.Clients{Region: "us-east-1", AccountID: "123456789012"}
	assumed := &awsx.Clients{Region: "us-east-1", AccountID: "123456789012"}

	t.Run("empty assumeRole keeps the provider's clients", func(t *testing.T) {
		s, a := &script{}, &assumer{role: assumed}
		o := options(s, nil)
		o.Clients, o.AssumeRole = base, a.assume
		if _, err := Run(context.Background(), roleDoc(), nil, o); err != nil {
			t.Fatal(err)
		}
		if len(a.sessions) != 0 || s.calls[0].env.Clients != base {
			t.Errorf("assumed %v; steps ran with %p, want the provider's %p", a.sessions, s.calls[0].env.Clients, base)
		}
	})

	t.Run("the resolved role runs every step", func(t *testing.T) {
		s, a := &script{}, &assumer{role: assumed}
		ev := &events{}
		o := options(s, ev)
		o.Clients, o.AssumeRole = base, a.assume
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
		defer cancel()
		if _, err := Run(ctx, roleDoc(), map[string]string{"AutomationAssumeRole": role}, o); err != nil {
			t.Fatal(err)
		}
		if len(a.sessions) != 1 {
			t.Fatalf("assumed %d times, want once", len(a.sessions))
		}
		got := a.sessions[0]
		if got.RoleARN != role || got.SessionName != "amibake-"+o.ExecutionID {
			t.Errorf("session %+v", got)
		}
		// The run's deadline and its cleanup.
		if got.Duration < 2*time.Hour || got.Duration > 2*time.Hour+defaultCleanupTimeout {
			t.Errorf("session duration %s does not cover the 2 h deadline and cleanup", got.Duration)
		}
		for _, c := range s.calls {
			if c.env.Clients != assumed {
				t.Errorf("step %s ran with the provider's clients", c.step)
			}
		}
		logs := ev.of(EventLog)
		if len(logs) != 1 || logs[0].Fields["role"] != role {
			t.Errorf("log events %+v", logs)
		}
	})

	t.Run("a role that cannot be assumed fails before any step", func(t *testing.T) {
		s := &script{}
		denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform sts:AssumeRole"}
		a := &assumer{err: &awsx.RoleError{RoleARN: role, Code: "AccessDenied", Err: denied}}
		o := options(s, nil)
		o.Clients, o.AssumeRole = base, a.assume
		_, err := Run(context.Background(), roleDoc(), map[string]string{"AutomationAssumeRole": role}, o)
		var re *RoleError
		if !errors.As(err, &re) || re.Role != role || re.Code != "AccessDenied" || awsx.ErrorCode(err) != "AccessDenied" {
			t.Fatalf("want a RoleError with AccessDenied, got %T %v", err, err)
		}
		want := "cannot run as the document's assumeRole " + role + ": STS AssumeRole answered AccessDenied: not authorized to perform sts:AssumeRole"
		if err.Error() != want {
			t.Errorf("error:\n got %s\nwant %s", err, want)
		}
		if len(s.calls) != 0 {
			t.Errorf("steps ran: %v", s.ran())
		}
	})

	for name, tc := range map[string]struct{ role, want string }{
		"not an ARN":    {"the role ARN you created", "is not an IAM role ARN"},
		"not a role":    {"arn:aws:iam::123456789012:user/baker", "is not an IAM role ARN"},
		"other account": {"arn:aws:iam::999999999999:role/builder", "the role is in account 999999999999, the provider's credentials in account 123456789012"},
	} {
		t.Run(name, func(t *testing.T) {
			s, a := &script{}, &assumer{role: assumed}
			o := options(s, nil)
			o.Clients, o.AssumeRole = base, a.assume
			d := roleDoc()
			d.AssumeRole = tc.role
			_, err := Run(context.Background(), d, nil, o)
			var re *RoleError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.role) {
				t.Fatalf("want a RoleError naming %s with %q, got %v", tc.role, tc.want, err)
			}
			if len(a.sessions) != 0 || len(s.calls) != 0 {
				t.Errorf("assumed %v, ran %v", a.sessions, s.ran())
			}
		})
	}

	t.Run("without the hook the document's role is not used", func(t *testing.T) {
		s := &script{}
		o := options(s, nil)
		o.Clients = base
		if _, err := Run(context.Background(), roleDoc(), map[string]string{"AutomationAssumeRole": role}, o); err != nil {
			t.Fatal(err)
		}
		if s.calls[0].env.Clients != base {
			t.Error("steps did not run with Options.Clients")
		}
	})
}
