package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/smithy-go"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// RoleError is a run that could not act as the document's assumeRole; nothing
// was created. Code is the AWS error code when STS answered.
type RoleError struct {
	Role string
	Code string
	Err  error
}

func (e *RoleError) Error() string {
	var ae smithy.APIError
	if errors.As(e.Err, &ae) {
		return fmt.Sprintf("cannot run as the document's assumeRole %s: STS AssumeRole answered %s: %s", e.Role, ae.ErrorCode(), ae.ErrorMessage())
	}
	return fmt.Sprintf("cannot run as the document's assumeRole %s: %s", e.Role, errorText(e.Err))
}

func (e *RoleError) Unwrap() error { return e.Err }

// becomeDocumentRole resolves the document's assumeRole and, when it names a
// role, switches the run's clients to it. The session covers the run's
// deadline and cleanup; the SDK renews it if the role allows less.
func (r *runner) becomeDocumentRole(ctx context.Context) error {
	if r.o.AssumeRole == nil || strings.TrimSpace(r.doc.AssumeRole) == "" {
		return nil
	}
	v, err := document.Resolve(r.doc.AssumeRole, &scope{ctx: ctx, r: r, params: r.params, inDefaults: true})
	if err == nil {
		v, err = document.Coerce(v, document.InputType("String"))
	}
	if err != nil {
		return &RoleError{Role: r.doc.AssumeRole, Err: fmt.Errorf("resolving assumeRole: %w", err)}
	}
	role, _ := v.(string)
	role = strings.TrimSpace(role)
	if role == "" {
		return nil
	}
	a, err := awsx.ParseRoleARN(role)
	if err != nil {
		return &RoleError{Role: role, Err: err}
	}
	if c := r.o.Clients; c != nil && c.AccountID != "" && a.AccountID != c.AccountID {
		return &RoleError{Role: role, Err: fmt.Errorf("the role is in account %s, the provider's credentials in account %s; "+
			"images are read and destroyed with the provider's credentials, so the role must be in the same account", a.AccountID, c.AccountID)}
	}
	var d time.Duration
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl) + r.o.CleanupTimeout
	}
	session := "amibake-" + r.executionID
	if len(session) > 64 {
		session = session[:64]
	}
	c, err := r.o.AssumeRole(ctx, awsx.RoleSession{RoleARN: role, SessionName: session, Duration: d})
	if err != nil {
		var inner *awsx.RoleError
		if errors.As(err, &inner) {
			err = inner.Err
		}
		return &RoleError{Role: role, Code: awsx.ErrorCode(err), Err: err}
	}
	r.o.Clients = c
	r.emit(Event{Kind: EventLog, Fields: map[string]any{
		"message": "running as the document's assumeRole", "role": role, "session": session}})
	return nil
}
