package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
	"github.com/amibake/terraform-provider-amibake/internal/ssmexec"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

// simSSM is SSM Automation in the simulated cloud, in its scaled time: the
// automation API the SSM executor calls, answered in process, with the
// published quotas (concurrent executions, queue) and request rates
// (answering ThrottlingException past them). Executions run the engine
// against the simulated EC2 and SSM, leaving what they made as SSM does.
// It serves the benchmark only; the acceptance tests use the real emulator
// (internal/testsupport/ssmemu) against moto.
type simSSM struct {
	cloud   *simcloud.Cloud
	clients *awsx.Clients

	mu         sync.Mutex
	docs       map[string]string
	executions map[string]*simExecution
	order      []string // execution ids by start
	running    int
	queue      []*simExecution
	tokens     map[string]string
	buckets    map[string]*simBucket
	calls      map[string][]time.Time // real times of each operation's calls
	throttled  int
	maxRunning int
}

type simExecution struct {
	id, doc  string
	parsed   *document.Document
	params   map[string]string
	shown    map[string][]string
	tags     map[string]string
	status   ssmtypes.AutomationExecutionStatus
	step     string
	action   string
	failure  string
	steps    []ssmtypes.StepExecution
	outputs  map[string][]string
	started  time.Time // real
	finished time.Time // real
}

// simMaxConcurrent and simMaxQueued are the General Reference's "Concurrently
// running automations" and "Automation queue".
const (
	simMaxConcurrent = 100
	simMaxQueued     = 5000
)

func newSimSSM(cloud *simcloud.Cloud, clients *awsx.Clients) *simSSM {
	s := &simSSM{cloud: cloud, clients: clients, docs: map[string]string{}, executions: map[string]*simExecution{},
		tokens: map[string]string{}, buckets: map[string]*simBucket{}, calls: map[string][]time.Time{}}
	for op, rate := range ssmexec.PublishedRates {
		s.buckets[op] = &simBucket{rate: rate * cloud.Scale(), burst: max(rate, 1), tokens: max(rate, 1)}
	}
	return s
}

// simBucket is a token bucket in real time whose rate is the published one
// scaled; its burst is one second's worth (at least one call), as the
// emulator assumes.
type simBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *simBucket) take(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

type simError struct{ code, msg string }

func (e *simError) Error() string                 { return e.code + ": " + e.msg }
func (e *simError) ErrorCode() string             { return e.code }
func (e *simError) ErrorMessage() string          { return e.msg }
func (e *simError) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }

// enter counts a call and applies the operation's rate; the latency of a
// call is the simulated cloud's.
func (s *simSSM) enter(ctx context.Context, op string) error {
	now := time.Now()
	s.mu.Lock()
	s.calls[op] = append(s.calls[op], now)
	b := s.buckets[op]
	ok := b == nil || b.take(now)
	if !ok {
		s.throttled++
	}
	s.mu.Unlock()
	t := time.NewTimer(s.cloud.Real(100 * time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	if !ok {
		return &simError{"ThrottlingException", "Rate exceeded"}
	}
	return nil
}

// peakRate is the most calls of op in any window of one simulated second.
func (s *simSSM) peakRate(op string) int {
	s.mu.Lock()
	ts := slices.Clone(s.calls[op])
	s.mu.Unlock()
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	window := s.cloud.Real(time.Second)
	peak, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= window {
			j++
		}
		peak = max(peak, i-j+1)
	}
	return peak
}

func (s *simSSM) CreateDocument(ctx context.Context, in *ssm.CreateDocumentInput, _ ...func(*ssm.Options)) (*ssm.CreateDocumentOutput, error) {
	if err := s.enter(ctx, "CreateDocument"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := aws.ToString(in.Name)
	if _, ok := s.docs[name]; ok {
		return nil, &simError{"DocumentAlreadyExists", "exists"}
	}
	s.docs[name] = aws.ToString(in.Content)
	return &ssm.CreateDocumentOutput{}, nil
}

func (s *simSSM) GetDocument(ctx context.Context, in *ssm.GetDocumentInput, _ ...func(*ssm.Options)) (*ssm.GetDocumentOutput, error) {
	if err := s.enter(ctx, "GetDocument"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.docs[aws.ToString(in.Name)]
	if !ok {
		return nil, &simError{"InvalidDocument", "no such document"}
	}
	return &ssm.GetDocumentOutput{Name: in.Name, Content: aws.String(c), DocumentType: ssmtypes.DocumentTypeAutomation}, nil
}

func (s *simSSM) DeleteDocument(ctx context.Context, in *ssm.DeleteDocumentInput, _ ...func(*ssm.Options)) (*ssm.DeleteDocumentOutput, error) {
	if err := s.enter(ctx, "DeleteDocument"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.docs, aws.ToString(in.Name))
	return &ssm.DeleteDocumentOutput{}, nil
}

func (s *simSSM) StartAutomationExecution(ctx context.Context, in *ssm.StartAutomationExecutionInput, _ ...func(*ssm.Options)) (*ssm.StartAutomationExecutionOutput, error) {
	if err := s.enter(ctx, "StartAutomationExecution"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.tokens[aws.ToString(in.ClientToken)]; ok {
		return &ssm.StartAutomationExecutionOutput{AutomationExecutionId: aws.String(id)}, nil
	}
	content, ok := s.docs[aws.ToString(in.DocumentName)]
	if !ok {
		return nil, &simError{"AutomationDefinitionNotFoundException", "no such document"}
	}
	doc, err := document.ParseText(content)
	if err != nil {
		return nil, &simError{"InvalidDocumentContent", err.Error()}
	}
	if s.running >= simMaxConcurrent && len(s.queue) >= simMaxQueued {
		return nil, &simError{"AutomationExecutionLimitExceededException", "full"}
	}
	x := &simExecution{id: uuid.NewString(), doc: aws.ToString(in.DocumentName), parsed: doc, params: map[string]string{},
		shown: in.Parameters, tags: map[string]string{}, status: ssmtypes.AutomationExecutionStatusPending, outputs: map[string][]string{}}
	for k, v := range in.Parameters {
		if len(v) == 1 {
			x.params[k] = v[0]
		} else {
			b, _ := json.Marshal(v)
			x.params[k] = string(b)
		}
	}
	for _, t := range in.Tags {
		x.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	s.executions[x.id] = x
	s.order = append(s.order, x.id)
	s.tokens[aws.ToString(in.ClientToken)] = x.id
	if s.running < simMaxConcurrent {
		s.launchLocked(x)
	} else {
		s.queue = append(s.queue, x)
	}
	return &ssm.StartAutomationExecutionOutput{AutomationExecutionId: aws.String(x.id)}, nil
}

func (s *simSSM) launchLocked(x *simExecution) {
	s.running++
	s.maxRunning = max(s.maxRunning, s.running)
	x.status = ssmtypes.AutomationExecutionStatusInprogress
	x.started = time.Now()
	go s.run(x)
}

func (s *simSSM) run(x *simExecution) {
	res, err := engine.Run(context.Background(), x.parsed, x.params, engine.Options{
		Clients: s.clients, ExecutionID: x.id, NoCleanup: true,
		OnEvent: func(e engine.Event) {
			if e.Kind == engine.EventStepStart {
				s.mu.Lock()
				x.step, x.action = e.Step, e.Action
				s.mu.Unlock()
			}
		},
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	x.finished = time.Now()
	x.status = ssmtypes.AutomationExecutionStatusSuccess
	if err != nil {
		x.status, x.failure = ssmtypes.AutomationExecutionStatusFailed, err.Error()
	}
	for _, r := range res.Steps {
		se := ssmtypes.StepExecution{StepName: aws.String(r.Name), Action: aws.String(r.Action),
			StepStatus: ssmtypes.AutomationExecutionStatus(r.Status), FailureMessage: aws.String(r.Message),
			ExecutionStartTime: aws.Time(r.StartedAt), ExecutionEndTime: aws.Time(r.FinishedAt), Outputs: map[string][]string{}}
		for k, v := range r.Outputs {
			se.Outputs[k] = simStrings(v)
		}
		x.steps = append(x.steps, se)
	}
	for _, o := range x.parsed.Outputs {
		if v, ok := res.Outputs[o]; ok {
			x.outputs[o] = simStrings(v)
		}
	}
	s.running--
	if len(s.queue) > 0 {
		next := s.queue[0]
		s.queue = s.queue[1:]
		s.launchLocked(next)
	}
}

func simStrings(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, len(t))
		for i, e := range t {
			out[i] = fmt.Sprint(e)
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

func (s *simSSM) get(id string) (*simExecution, error) {
	x, ok := s.executions[id]
	if !ok {
		return nil, &simError{"AutomationExecutionNotFoundException", id}
	}
	return x, nil
}

func (s *simSSM) GetAutomationExecution(ctx context.Context, in *ssm.GetAutomationExecutionInput, _ ...func(*ssm.Options)) (*ssm.GetAutomationExecutionOutput, error) {
	if err := s.enter(ctx, "GetAutomationExecution"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x, err := s.get(aws.ToString(in.AutomationExecutionId))
	if err != nil {
		return nil, err
	}
	return &ssm.GetAutomationExecutionOutput{AutomationExecution: &ssmtypes.AutomationExecution{
		AutomationExecutionId: aws.String(x.id), AutomationExecutionStatus: x.status, DocumentName: aws.String(x.doc),
		Parameters: x.shown, CurrentStepName: aws.String(x.step), CurrentAction: aws.String(x.action),
		FailureMessage: aws.String(x.failure), StepExecutions: slices.Clone(x.steps), Outputs: x.outputs,
	}}, nil
}

func (s *simSSM) DescribeAutomationExecutions(ctx context.Context, in *ssm.DescribeAutomationExecutionsInput, _ ...func(*ssm.Options)) (*ssm.DescribeAutomationExecutionsOutput, error) {
	if err := s.enter(ctx, "DescribeAutomationExecutions"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &ssm.DescribeAutomationExecutionsOutput{}
	for _, id := range s.order {
		x := s.executions[id]
		match := true
		for _, f := range in.Filters {
			switch f.Key {
			case ssmtypes.AutomationExecutionFilterKeyExecutionId:
				match = match && slices.Contains(f.Values, x.id)
			case ssmtypes.AutomationExecutionFilterKeyTagKey:
				match = match && slices.ContainsFunc(f.Values, func(k string) bool { _, ok := x.tags[k]; return ok })
			case ssmtypes.AutomationExecutionFilterKeyDocumentNamePrefix:
				match = match && slices.ContainsFunc(f.Values, func(p string) bool { return strings.HasPrefix(x.doc, p) })
			case ssmtypes.AutomationExecutionFilterKeyExecutionStatus:
				match = match && slices.Contains(f.Values, string(x.status))
			default:
				return nil, &simError{"InvalidFilterKey", string(f.Key)}
			}
		}
		if match {
			out.AutomationExecutionMetadataList = append(out.AutomationExecutionMetadataList, ssmtypes.AutomationExecutionMetadata{
				AutomationExecutionId: aws.String(x.id), AutomationExecutionStatus: x.status, DocumentName: aws.String(x.doc),
				CurrentStepName: aws.String(x.step), CurrentAction: aws.String(x.action), FailureMessage: aws.String(x.failure),
			})
		}
	}
	return out, nil
}

func (s *simSSM) DescribeAutomationStepExecutions(ctx context.Context, in *ssm.DescribeAutomationStepExecutionsInput, _ ...func(*ssm.Options)) (*ssm.DescribeAutomationStepExecutionsOutput, error) {
	if err := s.enter(ctx, "DescribeAutomationStepExecutions"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x, err := s.get(aws.ToString(in.AutomationExecutionId))
	if err != nil {
		return nil, err
	}
	return &ssm.DescribeAutomationStepExecutionsOutput{StepExecutions: slices.Clone(x.steps)}, nil
}

func (s *simSSM) StopAutomationExecution(ctx context.Context, _ *ssm.StopAutomationExecutionInput, _ ...func(*ssm.Options)) (*ssm.StopAutomationExecutionOutput, error) {
	if err := s.enter(ctx, "StopAutomationExecution"); err != nil {
		return nil, err
	}
	return nil, errors.New("the benchmark does not stop executions")
}

func (s *simSSM) AddTagsToResource(ctx context.Context, in *ssm.AddTagsToResourceInput, _ ...func(*ssm.Options)) (*ssm.AddTagsToResourceOutput, error) {
	if err := s.enter(ctx, "AddTagsToResource"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x, err := s.get(aws.ToString(in.ResourceId))
	if err != nil {
		return nil, err
	}
	for _, t := range in.Tags {
		x.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return &ssm.AddTagsToResourceOutput{}, nil
}

func (s *simSSM) ListTagsForResource(ctx context.Context, in *ssm.ListTagsForResourceInput, _ ...func(*ssm.Options)) (*ssm.ListTagsForResourceOutput, error) {
	if err := s.enter(ctx, "ListTagsForResource"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x, err := s.get(aws.ToString(in.ResourceId))
	if err != nil {
		return nil, err
	}
	out := &ssm.ListTagsForResourceOutput{}
	for k, v := range x.tags {
		out.TagList = append(out.TagList, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out, nil
}

var _ ssmexec.API = (*simSSM)(nil)
