// Package engine runs an SSM Automation document (schemaVersion 0.3) locally: the
// step loop with jumps, retries and timeouts, template resolution, progress events,
// and the ledger-driven cleanup that leaves nothing behind when a run ends. It knows
// nothing of Terraform; AWS calls are made only by the actions it dispatches to
// and, for the images it made, by package ami.
package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// Step statuses as reported in StepResult.Status and StepError.Status.
const (
	StatusSuccess   = "Success"
	StatusFailed    = "Failed"
	StatusTimedOut  = "TimedOut"
	StatusCancelled = "Cancelled"
	StatusSkipped   = "Skipped"
)

// Tag keys the engine puts on everything a run creates.
const (
	TagExecutionID = "amibake:execution-id"
	TagManaged     = "amibake:managed"
	TagBakeKey     = "amibake:bake-key"
)

const (
	defaultMaxStepExecutions = document.MaxStepExecutions
	defaultCleanupTimeout    = 10 * time.Minute
	defaultLeaseDuration     = 10 * time.Minute
)

// Options configures one run.
type Options struct {
	Clients *awsx.Clients
	// ExecutionID is {{automation:EXECUTION_ID}}; a new UUID v4 when empty.
	ExecutionID string
	// Tags (the provider's default_tags) go on everything the run creates, under the
	// engine's own amibake:* tags.
	Tags map[string]string
	// BakeKey identifies the recipe and parameters; when set, resources are tagged
	// with it and, while the run starts, what runs with the same key that died
	// left behind is swept: only what they provably made and whose lease has
	// expired (see actions.Sweep).
	BakeKey string
	// LeaseDuration is how long the run vouches for what it created without
	// renewing; it renews every third of it while it lives. A run that dies
	// leaves resources whose lease expires after at most this long, and only
	// then may a sweep remove them. 10 minutes when zero.
	LeaseDuration time.Duration
	// KeepImageIDs are never removed, by the sweep in particular: images already
	// recorded in state that carry the same bake key.
	KeepImageIDs         []string
	KeepBuilderInstances bool
	// NoCleanup leaves everything the run created where the run left it,
	// whatever the outcome, as SSM Automation's own engine does: no builder
	// is terminated and no image deregistered when the run ends. Result still
	// lists what the run created. For callers that stand in for SSM
	// Automation; a bake must not set it.
	NoCleanup bool
	// MaxStepExecutions bounds the total number of step executions, so that a
	// document whose jumps loop forever stops; document.MaxStepExecutions (100)
	// when zero.
	MaxStepExecutions int
	// CleanupTimeout is the deadline of the cleanup that runs when the run ends; it
	// does not depend on ctx, which may be cancelled by then. 10 minutes when zero.
	CleanupTimeout time.Duration
	// Now is the clock for globals and step timestamps; time.Now when nil.
	Now func() time.Time
	// OnEvent receives progress events. Calls are serialised by the engine.
	OnEvent func(Event)
	// Lookup finds the implementation of an action; actions.Lookup when nil.
	Lookup func(string) (actions.Action, bool)
	// ImageOutput ("step.Output") names the output that holds the baked image.
	// When set, a run that ends without it fails, so that cleanup removes what
	// it made: a step continued past (onFailure Continue) can leave a run with
	// nothing to show.
	ImageOutput string
	// Secrets are values that must not appear in events or step messages
	// (sensitive parameter values). SecureString parameters read for {{ssm:}}
	// defaults are added to them as they are resolved.
	Secrets []string
	// SensitiveParameters names the parameters whose given values are
	// secrets: a problem with one names the rule it breaks, not the value.
	SensitiveParameters []string
	// Files returns the document's attachments (its top-level files), for
	// aws:executeScript; each is checked against the checksum the document
	// gives for it. Nil when the caller has none.
	Files actions.Attachments
	// AssumeRole makes the run act as the document's assumeRole, as SSM
	// Automation does. When it is set and the document's assumeRole resolves
	// to a role, it is called once, before anything is created, and the
	// clients it returns make every call of the run: steps, sweep and
	// cleanup. A role that cannot be assumed fails the run with a *RoleError.
	// Nil runs with Clients whatever the document says.
	AssumeRole func(ctx context.Context, s awsx.RoleSession) (*awsx.Clients, error)
}

// Result is what a run produced. Run returns it even when it fails, so that the
// caller can report the steps and record what was left behind.
type Result struct {
	ExecutionID string
	// Steps has one entry per step execution, in execution order (a step reached
	// twice by a jump appears twice).
	Steps []StepResult
	// Outputs maps "step.Output" to the value of every output of every successful
	// step; a later execution of the same step overwrites an earlier one.
	Outputs map[string]any
	// Instances are all instances the run launched, whether or not they were
	// terminated since.
	Instances []string
	// Images are the images the run created that still exist after cleanup: on
	// success the product and its copies; on failure only those cleanup could not
	// remove (they are in Leftovers too).
	Images []ami.Record
	// Leftovers are ids that cleanup should have removed and could not.
	Leftovers []string
	// Secrets are the values to hide wherever the caller shows what the run
	// did: Options.Secrets, the SecureString parameters the run read, and
	// the secrets in the responses of APIs that return them (actions'
	// Result.Secrets, e.g. a decrypted SSM parameter or a secret access key).
	// Outputs and errors are not redacted; Steps messages and events are.
	Secrets []string
	// Kept are the builder instances left in place because of
	// KeepBuilderInstances, with the state they were last seen in. They are
	// marked kept: no sweep removes them.
	Kept []KeptInstance
}

// KeptInstance is a builder left in place on purpose.
type KeptInstance struct {
	ID    string
	State string // as last described; "" when it could not be read
}

// StepResult is the outcome of one step execution.
type StepResult struct {
	Name, Action string
	Status       string
	Attempts     int
	StartedAt    time.Time
	FinishedAt   time.Time
	Message      string
	Outputs      map[string]any
}

// retryBackoff is the pause before attempt n+1 of a step; a variable so that
// tests do not wait.
var retryBackoff = func(attempt int) time.Duration {
	d := 500 * time.Millisecond << (attempt - 1)
	if d <= 0 || d > 5*time.Second {
		d = 5 * time.Second
	}
	return d
}

// Run executes doc with the given parameter values. It always returns a non-nil
// Result. The error is a *ParameterError when the values do not fit the document,
// a *RoleError when the run cannot act as the document's assumeRole (nothing is
// created then), a *StepError when a step ends the run, and wraps a
// *CleanupError when cleanup left something behind.
func Run(ctx context.Context, doc *document.Document, params map[string]string, o Options) (*Result, error) {
	if err := asDocumentRole(ctx, doc, params, &o); err != nil {
		return &Result{ExecutionID: o.ExecutionID, Outputs: map[string]any{}}, err
	}
	r := newRunner(doc, o)
	res := &Result{ExecutionID: r.executionID, Outputs: r.outputs}
	stopLease := r.holdLease(ctx)

	runErr := r.protect(func() error { return r.execute(ctx, params) })
	r.sweeping.Wait()
	if runErr == nil {
		runErr = r.checkImageOutput()
	}
	if runErr == nil {
		runErr = r.checkImageAlive(ctx)
	}
	res.Steps = r.steps

	cleanupErr := r.cleanup(ctx, runErr != nil)
	if runErr == nil {
		r.markCompleted(ctx)
	}
	if r.o.KeepBuilderInstances {
		res.Kept = r.keepBuilders(ctx)
	}
	stopLease()
	var products []string
	if runErr == nil {
		for _, im := range r.ledger.Images() {
			if !r.discard[im.ID] {
				products = append(products, im.ID)
			}
		}
	}
	r.releaseLease(ctx, products, res.Kept)
	r.fillLedger(res)
	res.Secrets = r.redactor.Secrets()
	if cleanupErr != nil {
		res.Leftovers = cleanupErr.Leftovers
	}

	switch {
	case runErr != nil && cleanupErr != nil:
		return res, fmt.Errorf("%w; %w", runErr, cleanupErr)
	case runErr != nil:
		return res, runErr
	case cleanupErr != nil:
		return res, cleanupErr
	}
	return res, nil
}

type runner struct {
	doc         *document.Document
	o           Options
	lookup      func(string) (actions.Action, bool)
	now         func() time.Time
	executionID string
	tags        map[string]string
	ledger      *actions.Ledger
	// tagMu guards tags, whose lease value the lease keeper renews.
	tagMu sync.Mutex

	params     map[string]any
	outputs    map[string]any
	steps      []StepResult
	executions int
	// sweeping is the sweep running alongside the first steps.
	sweeping sync.WaitGroup
	ssmCache map[string]string
	// discard holds images no successful step produced (made by a failed
	// attempt, or found by tag): never products, always removed.
	discard map[string]bool
	// stepErrs is the error of each step's last execution, when it failed.
	stepErrs map[string]error

	// redactor holds the run's secrets: Options.Secrets, SecureString
	// parameters read for {{ssm:}} defaults, and what actions report as
	// secret (see actions.Result.Secrets).
	redactor *Redactor

	eventMu sync.Mutex

	// vars are the runbook variables: the document's top-level variables,
	// changed by aws:updateVariable.
	vars map[string]any
	// files serves the document's attachments.
	files actions.Attachments
	// parent is the run that started this one with aws:executeAutomation;
	// nil for the run itself. A secondary run shares the ledger, tags,
	// secrets and bound on step executions of the run at the top, and its
	// steps are reported there under stepPrefix.
	parent     *runner
	stepPrefix string
}

// top is the run at the top of a chain of secondary automations.
func (r *runner) top() *runner {
	for r.parent != nil {
		r = r.parent
	}
	return r
}

func newRunner(doc *document.Document, o Options) *runner {
	if o.MaxStepExecutions <= 0 {
		o.MaxStepExecutions = defaultMaxStepExecutions
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = defaultCleanupTimeout
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = defaultLeaseDuration
	}
	r := &runner{
		doc:         doc,
		o:           o,
		lookup:      o.Lookup,
		now:         o.Now,
		executionID: o.ExecutionID,
		ledger:      actions.NewLedger(),
		outputs:     map[string]any{},
		ssmCache:    map[string]string{},
		discard:     map[string]bool{},
		stepErrs:    map[string]error{},
		redactor:    NewRedactor(o.Secrets...),
	}
	if r.lookup == nil {
		r.lookup = actions.Lookup
	}
	if doc != nil {
		r.files = actions.CheckedAttachments(o.Files, doc.Files)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.executionID == "" {
		r.executionID = uuid.NewString()
	}
	r.tags = maps.Clone(o.Tags)
	if r.tags == nil {
		r.tags = map[string]string{}
	}
	r.tags[TagExecutionID] = r.executionID
	r.tags[TagManaged] = "true"
	if o.BakeKey != "" {
		r.tags[TagBakeKey] = o.BakeKey
	}
	return r
}

// protect turns a panic in the engine itself into an error, so that cleanup still
// runs; panics inside actions are recovered closer to the action.
func (r *runner) protect(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error in the engine: %v\n%s", p, debug.Stack())
		}
	}()
	return f()
}

func (r *runner) execute(ctx context.Context, given map[string]string) error {
	if r.doc == nil {
		return fmt.Errorf("no document to run")
	}
	params, err := r.resolveParameters(ctx, given)
	if err != nil {
		return err
	}
	r.params = params
	if err := r.initVariables(ctx); err != nil {
		return err
	}
	if err := r.checkImageNames(ctx); err != nil {
		return err
	}
	if r.o.BakeKey != "" {
		// The sweep never touches this run's own resources nor any other
		// live run's, so the first steps need not wait for it.
		r.sweeping.Add(1)
		go func() {
			defer r.sweeping.Done()
			r.sweep(ctx)
		}()
	}
	if len(r.doc.MainSteps) == 0 {
		return fmt.Errorf("the document has no steps")
	}
	return r.runFrom(ctx, 0)
}

// env is what an action sees; step is nil for cleanup and sweep.
func (r *runner) env(step *document.Step) *actions.Env {
	l := &eventLogger{r: r}
	top := r.top()
	env := &actions.Env{
		Clients:     r.o.Clients,
		Ledger:      r.ledger,
		ExecutionID: top.executionID,
		Log:         l,
		Files:       r.files,
	}
	if step != nil {
		l.step, l.action = r.stepPrefix+step.Name, step.Action
		env.Run = &stepControl{r: r, step: step}
	}
	top.tagMu.Lock()
	env.Tags = maps.Clone(top.tags)
	top.tagMu.Unlock()
	return env
}

func (r *runner) globals() document.GlobalContext {
	g := document.GlobalContext{Now: r.now()}
	if c := r.o.Clients; c != nil {
		g.Region, g.AccountID, g.Partition = c.Region, c.AccountID, c.Partition
	}
	return g
}

// checkImageOutput fails a run that ended without the image it was for, naming
// the step that should have made it.
func (r *runner) checkImageOutput() error {
	name := r.o.ImageOutput
	if name == "" || present(r.outputs[name]) {
		return nil
	}
	stepName, output, _ := strings.Cut(name, ".")
	action := ""
	for _, s := range r.doc.MainSteps {
		if s.Name == stepName {
			action = s.Action
		}
	}
	var last *StepResult
	for i := range r.steps {
		if r.steps[i].Name == stepName {
			last = &r.steps[i]
		}
	}
	switch {
	case last == nil:
		return &StepError{Step: stepName, Action: action, Status: StatusSkipped,
			Err: fmt.Errorf("the run ended without running it, so there is no image (%s)", name)}
	case last.Status != StatusSuccess:
		err := r.stepErrs[stepName]
		if err == nil {
			err = errors.New(last.Message)
		}
		return &StepError{Step: stepName, Action: action, Status: last.Status,
			Err: fmt.Errorf("%w (the run went on past it, but without it there is no image)", err)}
	}
	return &StepError{Step: stepName, Action: action, Status: StatusFailed,
		Err: fmt.Errorf("its output %s, the image, is empty", output)}
}

func present(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		return t != ""
	case []any:
		return len(t) > 0 && present(t[0])
	}
	return true
}

// addSecret adds a value to hide from events and step messages.
func (r *runner) addSecret(v ...string) { r.redactor.Add(v...) }

// redact hides the run's secrets in s.
func (r *runner) redact(s string) string { return r.redactor.Redact(s) }

// redactValue hides the run's secrets in the strings inside v.
func (r *runner) redactValue(v any) any { return r.redactor.RedactValue(v) }
