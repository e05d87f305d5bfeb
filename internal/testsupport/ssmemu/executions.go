package ssmemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
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

// Execution and step statuses: the AutomationExecutionStatus enumeration.
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_AutomationExecution.html
// The emulator produces Pending, InProgress, Waiting, Success, TimedOut,
// Cancelling, Cancelled and Failed; Pending → InProgress → Success, Failed
// or TimedOut, and Cancelling → Cancelled after a stop.
const (
	StatusPending    = "Pending"
	StatusInProgress = "InProgress"
	StatusWaiting    = "Waiting"
	StatusSuccess    = "Success"
	StatusTimedOut   = "TimedOut"
	StatusCancelling = "Cancelling"
	StatusCancelled  = "Cancelled"
	StatusFailed     = "Failed"
)

var allStatuses = []string{
	"Pending", "InProgress", "Waiting", "Success", "TimedOut", "Cancelling", "Cancelled", "Failed",
	"PendingApproval", "Approved", "Rejected", "Scheduled", "RunbookInProgress",
	"PendingChangeCalendarOverride", "ChangeCalendarOverrideApproved", "ChangeCalendarOverrideRejected",
	"CompletedWithSuccess", "CompletedWithFailure", "Exited",
}

func finished(status string) bool {
	switch status {
	case StatusSuccess, StatusTimedOut, StatusCancelled, StatusFailed:
		return true
	}
	return false
}

// noOutputYet is what GetAutomationExecution shows for a declared output
// whose step has not succeeded. The API reference is silent on outputs
// without a value; this is the text AWS answers in practice, kept so that a
// client reading Outputs before Success sees a placeholder rather than
// nothing, as it would on AWS.
const noOutputYet = "No output available yet because the step is not successfully executed"

// execution is one automation execution. Every field is guarded by the
// emulator's mutex.
type execution struct {
	id         string
	seq        int64
	requestKey string // the start request without its ClientToken
	token      string

	docName, docVersion string
	doc                 *document.Document
	engineParams        map[string]string
	params              map[string][]string // as GetAutomationExecution shows them
	tags                []tag

	status         string
	queued         bool // waiting for a concurrency slot
	created        time.Time
	started, ended time.Time
	currentStep    string
	currentAction  string
	failureMessage string
	steps          []*stepExecution
	outputs        map[string]any // "step.Output" → value, as steps succeed

	ctx           context.Context
	cancel        context.CancelFunc
	stopRequested bool
	waiting       *approvalWait
}

type stepExecution struct {
	id             string
	step           *document.Step
	status         string
	started, ended time.Time
	inputs         map[string]string
	outputs        map[string][]string
	failureMessage string
}

var (
	// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StartAutomationExecution.html
	// ClientToken: "enforces the UUID format"; DocumentVersion:
	// ([$]LATEST|[$]DEFAULT|^[1-9][0-9]*$); DocumentName: ^[a-zA-Z0-9_\-.:/]{3,128}$.
	clientTokenPattern     = regexp.MustCompile(`^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$`)
	documentVersionPattern = regexp.MustCompile(`^([$]LATEST|[$]DEFAULT|[1-9][0-9]*)$`)
	documentNamePattern    = regexp.MustCompile(`^[a-zA-Z0-9_\-.:/]{3,128}$`)
)

// start is StartAutomationExecution.
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StartAutomationExecution.html
func (e *Emulator) start(ctx context.Context, in *startInput) (any, error) {
	if !documentNamePattern.MatchString(in.DocumentName) {
		return nil, errorf(codeValidation, "1 validation error detected: Value '%s' at 'documentName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.:/]{3,128}$", in.DocumentName)
	}
	if in.DocumentVersion != "" && !documentVersionPattern.MatchString(in.DocumentVersion) {
		return nil, errorf(codeValidation, "1 validation error detected: Value '%s' at 'documentVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: ([$]LATEST|[$]DEFAULT|^[1-9][0-9]*$)", in.DocumentVersion)
	}
	if in.ClientToken != "" && !clientTokenPattern.MatchString(in.ClientToken) {
		return nil, errorf(codeValidation, "1 validation error detected: Value '%s' at 'clientToken' failed to satisfy constraint: Member must satisfy the UUID format", in.ClientToken)
	}
	// Rate control (Targets, TargetMaps), multi-account and Region runs
	// (TargetLocations) and Interactive mode are not emulated: refused
	// rather than run as something else.
	switch {
	case in.Mode != "" && in.Mode != "Auto":
		if in.Mode != "Interactive" {
			return nil, errorf(codeValidation, "1 validation error detected: Value '%s' at 'mode' failed to satisfy constraint: Member must satisfy enum value set: [Auto, Interactive]", in.Mode)
		}
		return nil, errorf(codeInvalidAutomationExecutionParams, "this emulator runs executions in Auto mode only, not Interactive")
	case len(in.Targets) > 0 || len(in.TargetMaps) > 0 || in.TargetParameterName != "":
		return nil, errorf(codeInvalidAutomationExecutionParams, "this emulator does not run rate-control executions (Targets, TargetMaps, TargetParameterName)")
	case len(in.TargetLocations) > 0 || in.TargetLocationsURL != "":
		return nil, errorf(codeInvalidAutomationExecutionParams, "this emulator does not run executions in other accounts or Regions (TargetLocations)")
	}
	key := requestKey(in)
	token := strings.ToLower(in.ClientToken)
	// ClientToken: "User-provided idempotency token. The token must be
	// unique, is case insensitive, enforces the UUID format, and can't be
	// reused." The same request again with its token gets the execution the
	// token made; another request with it gets IdempotentParameterMismatch
	// ("an idempotent operation is retried and the parameters don't match
	// the original call to the API with the same idempotency token"). How long
	// AWS remembers a token is not published: here, as long as the execution
	// is kept (HistoryRetention).
	if id, err := e.byToken(token, key); id != "" || err != nil {
		return startOutput{AutomationExecutionID: id}, err
	}

	gd, err := e.clients.SSM.GetDocument(ctx, documentRequest(in))
	if err != nil {
		return nil, e.documentError(ctx, in, err)
	}
	if gd.DocumentType != ssmtypes.DocumentTypeAutomation {
		return nil, errorf(codeAutomationDefinitionNotFound, "Document %s is of type %s, not Automation", in.DocumentName, gd.DocumentType)
	}
	doc, err := document.ParseText(aws.ToString(gd.Content))
	if err != nil {
		return nil, errorf(codeAutomationDefinitionNotFound, "Document %s version %s cannot be run: %v", in.DocumentName, aws.ToString(gd.DocumentVersion), err)
	}
	withApprovalTimeouts(doc)
	engineParams, shown, err := parameters(doc, in.Parameters)
	if err != nil {
		return nil, err
	}

	now := e.cfg.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prune(now)
	if e.closed {
		return nil, &apiError{Status: 500, Code: codeInternalServerError, Message: "the emulator is shutting down"}
	}
	// A start with the same token may have gone ahead while the document
	// was read.
	if id, err := e.byTokenLocked(token, key); id != "" || err != nil {
		return startOutput{AutomationExecutionID: id}, err
	}
	// Past the concurrency quota an execution waits as Pending; past the
	// queue quota the start is refused (General Reference, "Concurrently
	// running automations" and "Automation queue"; API reference:
	// AutomationExecutionLimitExceededException, "The number of
	// simultaneously running Automation executions exceeded the allowable
	// limit").
	queued := e.running >= e.cfg.MaxConcurrent
	if queued && len(e.queue) >= e.cfg.MaxQueued {
		return nil, errorf(codeAutomationExecutionLimitExceeded,
			"The number of simultaneously running Automation executions exceeded the allowable limit: %d running, %d queued",
			e.running, len(e.queue))
	}
	e.seq++
	x := &execution{
		id:           uuid.NewString(),
		seq:          e.seq,
		requestKey:   key,
		token:        token,
		docName:      aws.ToString(gd.Name),
		docVersion:   aws.ToString(gd.DocumentVersion),
		doc:          doc,
		engineParams: engineParams,
		params:       shown,
		tags:         slices.Clone(in.Tags),
		status:       StatusPending,
		created:      now,
		outputs:      map[string]any{},
	}
	if x.docName == "" {
		x.docName = in.DocumentName
	}
	e.executions[x.id] = x
	if token != "" {
		e.tokens[token] = x.id
	}
	if queued {
		x.queued = true
		e.queue = append(e.queue, x)
		e.logf("execution %s of %s queued (%d running)", x.id, x.docName, e.running)
	} else {
		e.launchLocked(x)
	}
	return startOutput{AutomationExecutionID: x.id}, nil
}

func (e *Emulator) byToken(token, key string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.byTokenLocked(token, key)
}

func (e *Emulator) byTokenLocked(token, key string) (string, error) {
	if token == "" {
		return "", nil
	}
	id, ok := e.tokens[token]
	if !ok {
		return "", nil
	}
	if x := e.executions[id]; x != nil && x.requestKey != key {
		return "", errorf(codeIdempotentParameterMismatch,
			"the ClientToken was used by execution %s, started with other parameters", id)
	}
	return id, nil
}

// requestKey is the request in a canonical form, without its ClientToken:
// two starts are the same request when their keys are equal.
func requestKey(in *startInput) string {
	c := *in
	c.ClientToken = ""
	b, _ := json.Marshal(c) // maps are written with sorted keys
	return string(b)
}

func documentRequest(in *startInput) *ssm.GetDocumentInput {
	req := &ssm.GetDocumentInput{Name: aws.String(in.DocumentName)}
	// $DEFAULT is what GetDocument reads without a version.
	if v := in.DocumentVersion; v != "" && v != "$DEFAULT" {
		req.DocumentVersion = aws.String(v)
	}
	return req
}

// documentError turns moto's GetDocument failure into the start's error:
// AutomationDefinitionNotFoundException ("An Automation runbook with the
// specified name couldn't be found") or
// AutomationDefinitionVersionNotFoundException ("An Automation runbook with
// the specified name and version couldn't be found").
// moto answers InvalidDocument for a missing version of a document that
// exists, so a versioned miss is asked again without the version.
func (e *Emulator) documentError(ctx context.Context, in *startInput, err error) error {
	code := awsx.ErrorCode(err)
	if code == "InvalidDocument" && in.DocumentVersion != "" {
		if _, err := e.clients.SSM.GetDocument(ctx, &ssm.GetDocumentInput{Name: aws.String(in.DocumentName)}); err == nil {
			code = "InvalidDocumentVersion"
		}
	}
	switch code {
	case "InvalidDocument":
		return errorf(codeAutomationDefinitionNotFound, "Document %s does not exist", in.DocumentName)
	case "InvalidDocumentVersion":
		return errorf(codeAutomationDefinitionVersionNotFound, "Document %s has no version %s", in.DocumentName, in.DocumentVersion)
	}
	return &apiError{Status: 500, Code: codeInternalServerError, Message: fmt.Sprintf("reading document %s from moto: %v", in.DocumentName, err)}
}

// approveTimeout is aws:approve's default timeout: "The default timeout for
// this action is 7 days (604800 seconds)".
// https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html
const approveTimeout = 604800

func withApprovalTimeouts(doc *document.Document) {
	for i := range doc.MainSteps {
		s := &doc.MainSteps[i]
		if s.Action == "aws:approve" && s.TimeoutSeconds == nil {
			t := int64(approveTimeout)
			s.TimeoutSeconds = &t
		}
	}
}

// parameters converts the start's Parameters (map of string lists) to the
// engine's text values and checks them against the document, as
// StartAutomationExecution does before it starts anything:
// InvalidAutomationExecutionParametersException, "The supplied parameters for
// invoking the specified Automation runbook are incorrect. For example, they
// may not match the set of parameters permitted for the specified Automation
// document." It also returns the parameters as GetAutomationExecution shows
// them: those given, and the defaults of the others.
func parameters(doc *document.Document, given map[string][]string) (map[string]string, map[string][]string, error) {
	types := map[string]string{}
	for _, p := range doc.Parameters {
		types[p.Name] = p.Type
	}
	text := map[string]string{}
	var problems []string
	for _, name := range sortedKeys(given) {
		values := given[name]
		switch types[name] {
		case "StringList":
			b, _ := json.Marshal(values)
			text[name] = string(b)
		default:
			// Unknown names are reported by ParameterValues below.
			if len(values) != 1 {
				problems = append(problems, fmt.Sprintf("parameter %q takes one value, %d were given", name, len(values)))
				continue
			}
			text[name] = values[0]
		}
	}
	if _, ps := document.ParameterValues(doc, text); len(ps) > 0 {
		for _, p := range ps {
			problems = append(problems, p.Error())
		}
	}
	if len(problems) > 0 {
		return nil, nil, errorf(codeInvalidAutomationExecutionParams, "%s", strings.Join(problems, "; "))
	}
	shown := map[string][]string{}
	for name, values := range given {
		shown[name] = slices.Clone(values)
	}
	for _, p := range doc.Parameters {
		if _, ok := shown[p.Name]; !ok && p.HasDefault {
			shown[p.Name] = stringValues(p.Default)
		}
	}
	return text, shown, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stringValues renders a value as the API's list of strings: a list's
// elements, a scalar as one string, anything else as one JSON text.
func stringValues(v any) []string {
	switch t := v.(type) {
	case nil:
		return []string{}
	case string:
		return []string{t}
	case []string:
		return slices.Clone(t)
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			out = append(out, scalarText(e))
		}
		return out
	}
	return []string{scalarText(v)}
}

func scalarText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case int:
		return strconv.Itoa(t)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// launchLocked gives x a concurrency slot and runs it.
func (e *Emulator) launchLocked(x *execution) {
	e.running++
	x.queued = false
	x.ctx, x.cancel = context.WithCancel(e.base)
	e.wg.Add(1)
	go e.run(x)
}

// run runs x with the engine, in the emulator's process: it goes on
// whatever happens to the client that started it.
func (e *Emulator) run(x *execution) {
	defer e.wg.Done()
	ctx := x.ctx
	var capped context.CancelFunc = func() {}
	if strings.TrimSpace(x.doc.AssumeRole) == "" {
		// General Reference: "Maximum duration an automation execution can
		// run in the context of a user: 12 hours".
		ctx, capped = context.WithTimeout(ctx, e.cfg.UserContextMaxDuration)
	}
	defer capped()

	e.mu.Lock()
	if x.status == StatusPending {
		x.status = StatusInProgress
	}
	x.started = e.cfg.Now()
	doc, params := x.doc, x.engineParams
	e.mu.Unlock()
	e.logf("execution %s of %s started", x.id, x.docName)

	opts := engine.Options{
		Clients:     e.clients,
		ExecutionID: x.id,
		// SSM Automation leaves what a failed or cancelled run made (the
		// builder instance of AWS-UpdateLinuxAmi keeps running when a step
		// aborts); so does the emulator.
		NoCleanup:      true,
		CleanupTimeout: e.cfg.CleanupTimeout,
		Now:            e.cfg.Now,
		OnEvent:        func(ev engine.Event) { e.onEvent(x, ev) },
		Lookup:         e.lookup(x),
	}
	if !e.cfg.IgnoreAssumeRole {
		opts.AssumeRole = e.clients.AssumeRole
	}
	res, err := engine.Run(ctx, doc, params, opts)
	e.finish(x, ctx, res, err)
}

// finish records how x ended and gives its slot to the first queued
// execution ("When an automation completes (or reaches a terminal state),
// the first automation in the queue is started", General Reference).
func (e *Emulator) finish(x *execution, ctx context.Context, res *engine.Result, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Now()
	status := StatusSuccess
	var se *engine.StepError
	switch {
	case err == nil:
	case x.stopRequested || (e.base.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded)):
		status = StatusCancelled
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		status = StatusTimedOut
	case errors.As(err, &se) && se.Status == engine.StatusTimedOut:
		status = StatusTimedOut
	default:
		status = StatusFailed
	}
	switch {
	case status == StatusTimedOut && errors.Is(ctx.Err(), context.DeadlineExceeded):
		x.failureMessage = fmt.Sprintf("the execution ran for %s, the limit of an execution without an assume role (%s)",
			e.cfg.UserContextMaxDuration, err)
	case status == StatusFailed || status == StatusTimedOut:
		x.failureMessage = err.Error()
	}
	if res != nil {
		x.mergeSteps(res.Steps)
		for k, v := range res.Outputs {
			x.outputs[k] = v
		}
	}
	for _, s := range x.steps {
		switch {
		case !finished(s.status):
			// A step the end of the run left without an outcome.
			s.status, s.ended = status, now
		case status == StatusTimedOut && s.status == StatusCancelled:
			// The engine saw its context end; it was the execution's time
			// limit, so the step timed out with it.
			s.status = StatusTimedOut
		}
	}
	x.status, x.ended, x.waiting = status, now, nil
	e.logf("execution %s of %s ended %s%s", x.id, x.docName, status, suffix(x.failureMessage))
	e.running--
	if e.closed {
		return
	}
	if len(e.queue) > 0 {
		next := e.queue[0]
		e.queue = e.queue[1:]
		e.launchLocked(next)
	}
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

// mergeSteps replaces the live step records with the engine's final ones,
// keeping the ids and inputs the live records got.
func (x *execution) mergeSteps(final []engine.StepResult) {
	for i, r := range final {
		var s *stepExecution
		if i < len(x.steps) && x.steps[i].step != nil && x.steps[i].step.Name == r.Name {
			s = x.steps[i]
		} else {
			s = &stepExecution{id: uuid.NewString(), step: x.docStep(r.Name)}
			if i < len(x.steps) {
				x.steps[i] = s
			} else {
				x.steps = append(x.steps, s)
			}
		}
		s.status = r.Status
		if r.Status == engine.StatusSkipped {
			s.status = StatusFailed
		}
		s.started, s.ended = r.StartedAt, r.FinishedAt
		s.failureMessage = r.Message
		if r.Status == engine.StatusSuccess {
			s.outputs = outputValues(r.Outputs)
		}
	}
}

func (x *execution) docStep(name string) *document.Step {
	for i := range x.doc.MainSteps {
		if x.doc.MainSteps[i].Name == name {
			return &x.doc.MainSteps[i]
		}
	}
	return &document.Step{Name: name}
}

func outputValues(m map[string]any) map[string][]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = stringValues(v)
	}
	return out
}

// onEvent follows the engine's progress: a step starts InProgress and ends
// with the engine's status (Success, Failed, TimedOut, Cancelled: the same
// words as AutomationExecutionStatus).
func (e *Emulator) onEvent(x *execution, ev engine.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Now()
	switch ev.Kind {
	case engine.EventStepStart:
		x.steps = append(x.steps, &stepExecution{
			id: uuid.NewString(), step: x.docStep(ev.Step), status: StatusInProgress, started: now,
		})
		x.currentStep, x.currentAction = ev.Step, ev.Action
	case engine.EventStepEnd:
		s := x.liveStep(ev.Step)
		if s == nil {
			return
		}
		s.ended = now
		if st, ok := ev.Fields["status"].(string); ok {
			s.status = st
		}
		if msg, ok := ev.Fields["error"].(string); ok {
			s.failureMessage = msg
		}
		e.logf("execution %s: step %s (%s) %s%s", x.id, ev.Step, ev.Action, s.status, suffix(s.failureMessage))
	}
}

// liveStep is the running execution of the named step, if any.
func (x *execution) liveStep(name string) *stepExecution {
	for i := len(x.steps) - 1; i >= 0; i-- {
		s := x.steps[i]
		if s.step != nil && s.step.Name == name && s.ended.IsZero() {
			return s
		}
	}
	return nil
}

// lookup finds the action of a step: the engine's, wrapped to record the
// step's inputs and outputs as they happen, and the emulator's own
// aws:approve, which waits for SendAutomationSignal.
func (e *Emulator) lookup(x *execution) func(string) (actions.Action, bool) {
	return func(name string) (actions.Action, bool) {
		if name == "aws:approve" {
			return approve{e: e, x: x}, true
		}
		a, ok := actions.Lookup(name)
		if !ok {
			return nil, false
		}
		return recorded{a: a, e: e, x: x}, true
	}
}

type recorded struct {
	a actions.Action
	e *Emulator
	x *execution
}

func (r recorded) Run(ctx context.Context, env *actions.Env, step *document.Step, in map[string]any) (actions.Result, error) {
	r.e.recordInputs(r.x, step.Name, in)
	res, err := r.a.Run(ctx, env, step, in)
	if err == nil {
		r.e.recordOutputs(r.x, step.Name, res.Outputs)
	}
	return res, err
}

// recordInputs keeps a step's resolved inputs, each as JSON text, as
// StepExecution.Inputs shows them.
func (e *Emulator) recordInputs(x *execution, step string, in map[string]any) {
	inputs := make(map[string]string, len(in))
	for k, v := range in {
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(strconv.Quote(fmt.Sprint(v)))
		}
		inputs[k] = string(b)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := x.liveStep(step); s != nil {
		s.inputs = inputs
	}
}

func (e *Emulator) recordOutputs(x *execution, step string, outputs map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := x.liveStep(step); s != nil {
		s.outputs = outputValues(outputs)
	}
	for k, v := range outputs {
		x.outputs[step+"."+k] = v
	}
}

// stop is StopAutomationExecution.
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StopAutomationExecution.html
// Type Cancel (the default) moves a running execution to Cancelling and
// cancels the step at work; it ends Cancelled. A queued (Pending) execution
// that never ran is Cancelled at once. On an execution that is no longer
// running the answer is InvalidAutomationStatusUpdateException ("The
// specified update status operation isn't valid"); the emulator counts
// Cancelling as no longer running, so a second stop gets it too (AWS does not
// say; the stricter answer). The reference does not say what Type Complete
// does to an Auto-mode execution: the emulator treats it as Cancel.
func (e *Emulator) stop(_ context.Context, in *stopInput) (any, error) {
	switch in.Type {
	case "", "Cancel", "Complete":
	default:
		return nil, errorf(codeValidation, "1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [Complete, Cancel]", in.Type)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	x, err := e.findLocked(in.AutomationExecutionID)
	if err != nil {
		return nil, err
	}
	switch {
	case x.queued:
		e.queue = slices.DeleteFunc(e.queue, func(q *execution) bool { return q == x })
		x.queued = false
		x.status, x.ended = StatusCancelled, e.cfg.Now()
	case x.status == StatusPending || x.status == StatusInProgress || x.status == StatusWaiting:
		x.status = StatusCancelling
		x.stopRequested = true
		x.cancel()
	default:
		return nil, errorf(codeInvalidAutomationStatusUpdate,
			"The execution %s is %s: only a Pending, InProgress or Waiting execution can be stopped", x.id, x.status)
	}
	e.logf("execution %s: stop requested", x.id)
	return struct{}{}, nil
}

func (e *Emulator) findLocked(id string) (*execution, error) {
	e.prune(e.cfg.Now())
	x, ok := e.executions[id]
	if !ok {
		// AutomationExecutionNotFoundException: "There is no automation
		// execution information for the requested automation execution ID."
		return nil, errorf(codeAutomationExecutionNotFound, "There is no automation execution information for the requested automation execution ID %s", id)
	}
	return x, nil
}

// prune forgets finished executions older than the history retention, and
// their client tokens.
func (e *Emulator) prune(now time.Time) {
	for id, x := range e.executions {
		if finished(x.status) && !x.ended.IsZero() && now.Sub(x.ended) > e.cfg.HistoryRetention {
			delete(e.executions, id)
			if x.token != "" && e.tokens[x.token] == id {
				delete(e.tokens, x.token)
			}
		}
	}
}
