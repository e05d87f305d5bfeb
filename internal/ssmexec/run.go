package ssmexec

import (
	"context"
	"errors"
	"fmt"
	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/google/uuid"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

// Options configures one SSM bake.
type Options struct {
	Clients *awsx.Clients
	// BakeKey identifies the recipe and parameters. The execution is tagged
	// with it; a bake with the same key finds an execution that a runner
	// which died left behind, and takes it over once that runner's lease
	// has expired.
	BakeKey string
	// Tags (the provider's default_tags) go on the execution, its document,
	// the builders it launches and the image it bakes.
	Tags map[string]string
	// RoleARN is the role SSM Automation runs the execution as; empty keeps
	// the document's assumeRole.
	RoleARN string
	// LeaseDuration is how long the runner vouches for its execution
	// without renewing (10 minutes when zero).
	LeaseDuration        time.Duration
	KeepBuilderInstances bool
	// ImageOutput ("step.Output") names the output that holds the image.
	ImageOutput string
	// CleanupTimeout bounds the stop, the wait for it, and the cleanup
	// after the bake's context has ended (10 minutes when zero).
	CleanupTimeout time.Duration
	// SensitiveParameters are refused: SSM shows every parameter value in
	// the execution's history.
	SensitiveParameters []string
	// OnEvent receives progress events, in the local engine's kinds.
	OnEvent func(engine.Event)
	// Follower is shared by the bakes of the process; FollowerFor the
	// clients' SSM client when nil.
	Follower *Follower
	Now      func() time.Time
}

const (
	defaultLease   = 10 * time.Minute
	defaultCleanup = 10 * time.Minute
)

// ErrSensitive refuses sensitive parameters under SSM.
var ErrSensitive = errors.New("sensitive parameter values would be stored in the SSM Automation execution's history, " +
	"readable by anyone allowed ssm:GetAutomationExecution; pass a {{ssm:/path}} reference to a SecureString parameter instead, " +
	"which SSM resolves server-side")

// Run bakes doc on SSM Automation with the given parameter values and
// returns what the execution did, in the local engine's terms. It always
// returns a non-nil Result; the error is an *engine.StepError naming the
// step when the execution did not succeed, and wraps an *engine.CleanupError
// when something it left could not be removed.
func Run(ctx context.Context, doc *document.Document, params map[string]string, o Options) (*engine.Result, error) {
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = defaultLease
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = defaultCleanup
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	res := &engine.Result{Outputs: map[string]any{}}
	if len(o.SensitiveParameters) > 0 {
		return res, fmt.Errorf("sensitive_parameters %s: %w", strings.Join(o.SensitiveParameters, ", "), ErrSensitive)
	}
	if doc == nil {
		return res, errors.New("no document to run")
	}
	api, err := apiOf(o.Clients)
	if err != nil {
		return res, err
	}
	f := o.Follower
	if f == nil {
		f = FollowerFor(api)
	}
	pub, err := Prepare(doc, PrepareOptions{Tags: o.Tags, RoleARN: o.RoleARN})
	if err != nil {
		return res, err
	}
	values, err := Parameters(pub.Doc, params)
	if err != nil {
		return res, err
	}
	b := &bake{f: f, o: o, pub: pub, values: values, runner: uuid.NewString(), res: res}
	return b.run(ctx)
}

// bake is one Run.
type bake struct {
	f      *Follower
	o      Options
	pub    *Published
	values map[string][]string
	runner string
	res    *engine.Result
	// acquired: this bake counts among the process's users of the document.
	acquired bool
}

func (b *bake) emit(e engine.Event) {
	if b.o.OnEvent == nil {
		return
	}
	if e.Fields == nil {
		e.Fields = map[string]any{}
	}
	b.o.OnEvent(e)
}

func (b *bake) log(msg string, fields map[string]any) {
	if fields == nil {
		fields = map[string]any{}
	}
	fields["message"] = msg
	b.emit(engine.Event{Kind: engine.EventLog, Fields: fields})
}

// fresh is a context for the work that must be done after ctx has ended:
// stopping the execution, waiting for it, cleaning up.
func (b *bake) fresh(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), b.o.CleanupTimeout)
}

func (b *bake) run(ctx context.Context) (*engine.Result, error) {
	id, err := b.resume(ctx)
	if err != nil {
		return b.res, err
	}
	// The document goes when no bake uses it any more, whatever happens here.
	defer func() {
		if !b.acquired && id == "" {
			return
		}
		cctx, cancel := b.fresh(ctx)
		defer cancel()
		if err := b.f.retire(cctx, b.pub.Name, b.acquired); err != nil {
			b.log("could not delete the published document; a later bake removes it", map[string]any{"document": b.pub.Name, "error": err.Error()})
		}
	}()
	if id == "" {
		if id, err = b.start(ctx); err != nil {
			return b.res, err
		}
	}
	b.res.ExecutionID = id
	stopLease := b.f.holdLease(ctx, id, b.runner, b.o.LeaseDuration, func(err error) {
		b.log("could not renew the lease on the execution; retrying at the next renewal", map[string]any{"execution_id": id, "error": err.Error()})
	})
	defer stopLease()
	cleanupErr, runErr := b.finish(ctx, id)
	stopLease()
	b.settle(ctx, id, runErr, cleanupErr)
	switch {
	case runErr != nil && cleanupErr != nil:
		return b.res, fmt.Errorf("%w; %w", runErr, cleanupErr)
	case runErr != nil:
		return b.res, runErr
	case cleanupErr != nil:
		return b.res, cleanupErr
	}
	return b.res, nil
}

// finish follows the execution to its end (stopping it if ctx ends first),
// records what it did, and removes what it left.
func (b *bake) finish(ctx context.Context, id string) (cleanupErr *engine.CleanupError, runErr error) {
	st, err := b.f.follow(ctx, id, b.onChange)
	interrupted := false
	cctx, cancel := b.fresh(ctx)
	defer cancel()
	switch {
	case err != nil && ctx.Err() != nil:
		interrupted = true
		st = b.stop(cctx, id)
	case err != nil:
		return nil, fmt.Errorf("following SSM Automation execution %s: %w", id, err)
	}
	x, gerr := b.f.get(cctx, id)
	if gerr != nil {
		runErr = fmt.Errorf("reading SSM Automation execution %s: %w", id, gerr)
		if x == nil {
			x = &ssmtypes.AutomationExecution{AutomationExecutionId: aws.String(id), AutomationExecutionStatus: st.Status,
				CurrentStepName: aws.String(st.CurrentStep), FailureMessage: aws.String(st.FailureMessage)}
		}
	}
	if x.AutomationExecutionStatus == "" {
		x.AutomationExecutionStatus = st.Status
	}
	b.fill(x)
	if runErr == nil {
		runErr = b.outcome(ctx, x, interrupted)
	}
	if runErr == nil {
		runErr = b.checkImage(cctx)
	}
	// Cleanup has its own deadline: a stop that took long must not eat it.
	clean, cancelClean := b.fresh(ctx)
	defer cancelClean()
	return b.cleanup(clean, x, runErr != nil), runErr
}

// stop cancels the execution and waits until it has ended.
func (b *bake) stop(ctx context.Context, id string) status {
	b.log("stopping the SSM Automation execution", map[string]any{"execution_id": id})
	if err := b.f.stop(ctx, id); err != nil {
		b.log("StopAutomationExecution failed; waiting for the execution to end on its own", map[string]any{"execution_id": id, "error": err.Error()})
	}
	st, err := b.f.follow(ctx, id, b.onChange)
	if err != nil {
		b.log("the stopped execution did not end in time; cleaning up what it has made so far", map[string]any{"execution_id": id, "error": err.Error()})
	}
	return st
}

// onChange turns what the follower sees into progress events: a step that
// starts, and the statuses a user should know of (queued for a slot,
// waiting for an approval or a signal).
func (b *bake) onChange(s status) {
	if s.CurrentStep != "" {
		b.emit(engine.Event{Kind: engine.EventStepStart, Step: s.CurrentStep, Action: s.CurrentAction,
			Fields: map[string]any{"execution_id": s.ID, "status": string(s.Status)}})
	}
	switch s.Status {
	case ssmtypes.AutomationExecutionStatusPending:
		b.log("SSM Automation execution queued: the account's concurrent executions are all running", map[string]any{"execution_id": s.ID})
	case ssmtypes.AutomationExecutionStatusWaiting:
		b.log("SSM Automation execution waiting (for a signal, an approval or a rate-control slot)", map[string]any{"execution_id": s.ID, "step": s.CurrentStep})
	case ssmtypes.AutomationExecutionStatusPendingApproval:
		b.log("SSM Automation execution pending approval: approve it in the SSM console or with SendAutomationSignal", map[string]any{"execution_id": s.ID, "step": s.CurrentStep})
	case ssmtypes.AutomationExecutionStatusCancelling:
		b.log("SSM Automation execution cancelling", map[string]any{"execution_id": s.ID})
	}
}

// start publishes the document and starts the execution.
func (b *bake) start(ctx context.Context) (string, error) {
	acquire(b.f.api, b.pub.Name)
	b.acquired = true
	docTags := map[string]string{}
	for k, v := range b.o.Tags {
		docTags[k] = v
	}
	docTags["amibake:managed"] = "true"
	in := &ssm.StartAutomationExecutionInput{
		DocumentName: aws.String(b.pub.Name),
		Parameters:   b.values,
		ClientToken:  aws.String(uuid.NewString()),
		Tags:         ssmTags(executionTags(b.o, b.runner, b.o.Now().Add(b.o.LeaseDuration))),
	}
	for attempt := 0; ; attempt++ {
		if err := b.f.publish(ctx, b.pub, docTags, attempt > 0); err != nil {
			return "", err
		}
		b.log("starting SSM Automation execution", map[string]any{"document": b.pub.Name})
		id, err := b.f.start(ctx, in, func(err error) {
			b.log("the account's automation queue is full (AutomationExecutionLimitExceededException); the start waits for a slot", map[string]any{"error": err.Error()})
		})
		switch {
		case err == nil:
			b.log("started SSM Automation execution", map[string]any{"execution_id": id, "document": b.pub.Name})
			return id, nil
		case awsx.ErrorCode(err) == codeDefinitionNotFound && attempt < 2:
			// Deleted by another bake's retire between publish and start.
			continue
		case ctx.Err() != nil:
			// The start may have gone through without its answer: find
			// the execution by this runner's tag and undo it.
			b.abandon(ctx)
			return "", fmt.Errorf("StartAutomationExecution: %w", err)
		}
		return "", fmt.Errorf("StartAutomationExecution of %s: %w", b.pub.Name, err)
	}
}

// abandon stops and cleans up any execution this runner started whose
// start it did not hear the answer of.
func (b *bake) abandon(ctx context.Context) {
	if b.o.BakeKey == "" {
		return
	}
	cctx, cancel := b.fresh(ctx)
	defer cancel()
	cands, err := b.f.listBake(cctx, b.o.BakeKey)
	if err != nil {
		b.log("could not look for an execution whose start was interrupted", map[string]any{"error": err.Error()})
		return
	}
	for _, m := range cands {
		id := aws.ToString(m.AutomationExecutionId)
		tags, err := b.f.tagsOf(cctx, id)
		if err != nil || tags[TagRunner] != b.runner {
			continue
		}
		b.res.ExecutionID = id
		st := b.stop(cctx, id)
		x, err := b.f.get(cctx, id)
		if err != nil {
			x = &ssmtypes.AutomationExecution{AutomationExecutionId: aws.String(id), AutomationExecutionStatus: st.Status}
		}
		b.fill(x)
		cerr := b.cleanup(cctx, x, true)
		b.settle(cctx, id, errors.New("interrupted"), cerr)
	}
}

// settle writes the runner's last word on the execution into its lease:
// recorded (its image is in state), cleaned (it failed and nothing it made is
// left), or expired now (something is left, for the next bake of the key).
func (b *bake) settle(ctx context.Context, id string, runErr error, cleanupErr *engine.CleanupError) {
	v := leaseRecorded
	switch {
	case runErr != nil && cleanupErr == nil:
		v = leaseCleaned
	case cleanupErr != nil:
		v = actions.LeaseValue(b.o.Now())
	}
	cctx, cancel := b.fresh(ctx)
	defer cancel()
	if err := b.f.setTags(cctx, id, map[string]string{actions.TagLease: v, TagRunner: b.runner}); err != nil {
		b.log("could not mark the execution as done; a later bake of the same key checks it again", map[string]any{"execution_id": id, "error": err.Error()})
	}
}

// outcome is the error of an execution that did not succeed: the failed
// step, named, with SSM's failure message.
func (b *bake) outcome(ctx context.Context, x *ssmtypes.AutomationExecution, interrupted bool) error {
	st := x.AutomationExecutionStatus
	if succeeded(st) && !interrupted {
		return nil
	}
	id := aws.ToString(x.AutomationExecutionId)
	se := &engine.StepError{Step: aws.ToString(x.CurrentStepName), Status: engine.StatusFailed}
	msg := aws.ToString(x.FailureMessage)
	for i := len(x.StepExecutions) - 1; i >= 0; i-- {
		s := x.StepExecutions[i]
		if ss := stepStatus(s.StepStatus); ss != engine.StatusSuccess && ss != "" {
			se.Step, se.Action, se.Status = aws.ToString(s.StepName), aws.ToString(s.Action), ss
			if m := aws.ToString(s.FailureMessage); m != "" {
				msg = m
			}
			break
		}
	}
	if se.Action == "" {
		for _, s := range b.pub.Doc.MainSteps {
			if s.Name == se.Step {
				se.Action = s.Action
			}
		}
	}
	switch st {
	case ssmtypes.AutomationExecutionStatusTimedout:
		se.Status = engine.StatusTimedOut
	case ssmtypes.AutomationExecutionStatusCancelled, ssmtypes.AutomationExecutionStatusCancelling:
		se.Status = engine.StatusCancelled
	}
	if msg == "" {
		msg = "no failure message"
	}
	if interrupted {
		se.Status = engine.StatusCancelled
		se.Err = fmt.Errorf("%w; SSM Automation execution %s was stopped and ended %s", ctx.Err(), id, st)
		return se
	}
	se.Err = fmt.Errorf("%s (SSM Automation execution %s ended %s)", msg, id, st)
	if se.Step == "" {
		return fmt.Errorf("SSM Automation execution %s ended %s: %s", id, st, msg)
	}
	return se
}

// checkImage fails a successful execution that has no live image to show:
// its image output is empty, or the image is gone or not available.
func (b *bake) checkImage(ctx context.Context) error {
	name := b.o.ImageOutput
	if name == "" {
		return nil
	}
	stepName, _, _ := strings.Cut(name, ".")
	action := ""
	for _, s := range b.pub.Doc.MainSteps {
		if s.Name == stepName {
			action = s.Action
		}
	}
	id := firstString(b.res.Outputs[name])
	if id == "" {
		return &engine.StepError{Step: stepName, Action: action, Status: engine.StatusFailed,
			Err: fmt.Errorf("the execution succeeded without the image output %s (the step failed and the recipe went on past it, or did not run)", name)}
	}
	img, err := ami.FindByID(ctx, b.o.Clients, id)
	switch {
	case err != nil && !ami.IsNotFound(err):
		return fmt.Errorf("checking the baked image %s: %w", id, err)
	case err != nil:
		return fmt.Errorf("the baked image %s no longer exists when the bake ends: it was deregistered outside this bake", id)
	case !ami.Usable(img):
		return fmt.Errorf("the baked image %s is %s when the bake ends, not available; it is not recorded", id, img.State)
	}
	return nil
}

func firstString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		if len(t) > 0 {
			s, _ := t[0].(string)
			return s
		}
	}
	return ""
}
