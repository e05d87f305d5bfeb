package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/smithy-go"
	"github.com/google/uuid"

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

// asDocumentRole resolves the document's assumeRole and, when it names a role
// and o.AssumeRole is set, makes o.Clients the role's, before the run starts
// anything that uses them. The session covers the run's deadline and its
// cleanup; the SDK renews it where the role allows less. o.ExecutionID is
// fixed here, as the session is named after it.
func asDocumentRole(ctx context.Context, doc *document.Document, params map[string]string, o *Options) error {
	if o.ExecutionID == "" {
		o.ExecutionID = uuid.NewString()
	}
	if o.AssumeRole == nil || doc == nil || strings.TrimSpace(doc.AssumeRole) == "" {
		return nil
	}
	// A runner of its own resolves the parameters the role may be made of.
	r := newRunner(doc, *o)
	values, err := r.resolveParameters(ctx, params)
	if err != nil {
		return err
	}
	v, err := document.Resolve(doc.AssumeRole, &scope{ctx: ctx, r: r, params: values, inDefaults: true})
	if err == nil {
		v, err = document.Coerce(v, document.InputType("String"))
	}
	if err != nil {
		return &RoleError{Role: doc.AssumeRole, Err: fmt.Errorf("resolving assumeRole: %w", err)}
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
	if c := o.Clients; c != nil && c.AccountID != "" && a.AccountID != c.AccountID {
		return &RoleError{Role: role, Err: fmt.Errorf("the role is in account %s, the provider's credentials in account %s; "+
			"images are read and destroyed with the provider's credentials, so the role must be in the same account", a.AccountID, c.AccountID)}
	}
	var d time.Duration
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl) + r.o.CleanupTimeout
	}
	session := "amibake-" + o.ExecutionID
	if len(session) > 64 {
		session = session[:64]
	}
	c, err := o.AssumeRole(ctx, awsx.RoleSession{RoleARN: role, SessionName: session, Duration: d})
	if err != nil {
		var inner *awsx.RoleError
		if errors.As(err, &inner) {
			err = inner.Err
		}
		return &RoleError{Role: role, Code: awsx.ErrorCode(err), Err: err}
	}
	o.Clients = c
	r.emit(Event{Kind: EventLog, Fields: map[string]any{
		"message": "running as the document's assumeRole", "role": role, "session": session}})
	return nil
}
