// Package ssmemu emulates the SSM Automation execution API, which neither
// moto nor LocalStack implements, in front of a moto_server.
//
// The emulator is an HTTP handler that speaks the SSM AWS JSON 1.1 protocol.
// It answers StartAutomationExecution, GetAutomationExecution,
// DescribeAutomationExecutions, DescribeAutomationStepExecutions,
// StopAutomationExecution and SendAutomationSignal itself, and the tag
// operations when their ResourceType is Automation; every other request, of
// SSM or of any other service, goes to moto unchanged (body and signature
// headers as sent). Documents are moto's: CreateDocument, UpdateDocument,
// GetDocument and friends are forwarded, and an execution reads its document
// with GetDocument when it starts.
//
// Each execution runs in the emulator's process with the project's engine
// (engine.Run), whose AWS clients point at moto, so its EC2 effects are real
// in moto and it outlives whoever started it. The API behaviour follows the
// AWS Systems Manager API reference; each rule cites the page it follows,
// and says so where AWS is silent and the emulator chose.
//
// It also fills EC2 gaps of moto that image distribution needs (ec2.go):
// image deprecation and deregistration protection, kept per Region and
// image and shown in DescribeImages, the encryption of copies, and
// CreateVolumePermission changes of snapshots.
package ssmemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// Config configures an Emulator. Zero values take AWS's published defaults.
type Config struct {
	// MotoEndpoint is the moto_server's base URL, e.g. http://127.0.0.1:5000.
	MotoEndpoint string
	// Region is the region the executions' AWS clients use; us-east-1 when
	// empty.
	Region string
	// AccessKey and SecretKey sign the executions' calls to moto; "test"
	// when empty.
	AccessKey, SecretKey string

	// MaxConcurrent is how many executions run at once (100 when zero).
	MaxConcurrent int
	// MaxQueued is how many more wait as Pending (5,000 when zero, none when
	// negative). A start past both answers
	// AutomationExecutionLimitExceededException.
	MaxQueued int
	// Rates are the transactions per second allowed per operation, by name;
	// operations not named take DefaultRates. A rate of zero or less turns
	// throttling off for that operation; NoThrottle turns it off for all.
	Rates      map[string]float64
	NoThrottle bool
	// StepExecutionsInGet is how many step executions GetAutomationExecution
	// returns before it sets StepExecutionsTruncated (50 when zero). AWS does
	// not publish its number.
	StepExecutionsInGet int
	// HistoryRetention is how long a finished execution stays visible (30
	// days when zero).
	HistoryRetention time.Duration
	// UserContextMaxDuration bounds an execution whose document has no
	// assumeRole; it then ends TimedOut (12 hours when zero).
	UserContextMaxDuration time.Duration
	// IgnoreAssumeRole runs every execution with the emulator's own
	// credentials. By default a document's assumeRole is assumed through
	// moto's STS, as SSM Automation does; moto enforces no IAM policy, so
	// against moto this proves only that the role resolves and can be
	// assumed.
	IgnoreAssumeRole bool
	// CleanupTimeout bounds the engine's work after a cancelled step (its
	// onCancel steps); 10 minutes when zero.
	CleanupTimeout time.Duration
	// Logf, when set, receives one line per execution event.
	Logf func(format string, args ...any)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Emulator is the SSM Automation emulator. It is an http.Handler.
type Emulator struct {
	cfg     Config
	moto    *url.URL
	proxy   *httputil.ReverseProxy
	clients *awsx.Clients
	buckets map[string]*bucket
	ops     map[string]func(context.Context, []byte) (any, error)

	// motoEC2 is the emulator's own EC2 client of moto; each call takes the
	// caller's Region and account (ec2Caller.motoOptions).
	motoEC2  *ec2.Client
	motoKMS  *kms.Client
	ec2Ops   map[string]ec2Handler
	ec2State ec2Images

	// base is cancelled by Close: it ends every execution still running.
	base    context.Context
	stopAll context.CancelFunc
	wg      sync.WaitGroup

	mu         sync.Mutex
	executions map[string]*execution
	seq        int64
	running    int
	queue      []*execution
	tokens     map[string]string // lower-case ClientToken → execution id
	closed     bool
}

// New makes an emulator in front of the moto_server at cfg.MotoEndpoint. It
// makes the AWS clients the executions use (asking moto's STS who they are),
// so moto must be up.
func New(ctx context.Context, cfg Config) (*Emulator, error) {
	if cfg.MotoEndpoint == "" {
		return nil, errors.New("ssmemu: MotoEndpoint is required")
	}
	u, err := url.Parse(cfg.MotoEndpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("ssmemu: MotoEndpoint %q is not a URL", cfg.MotoEndpoint)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccessKey == "" {
		cfg.AccessKey, cfg.SecretKey = "test", "test"
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	switch {
	case cfg.MaxQueued == 0:
		cfg.MaxQueued = DefaultMaxQueued
	case cfg.MaxQueued < 0:
		cfg.MaxQueued = 0
	}
	if cfg.StepExecutionsInGet <= 0 {
		cfg.StepExecutionsInGet = 50
	}
	if cfg.HistoryRetention <= 0 {
		cfg.HistoryRetention = DefaultHistoryRetention
	}
	if cfg.UserContextMaxDuration <= 0 {
		cfg.UserContextMaxDuration = DefaultUserContextMaxDuration
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	endpoint := strings.TrimRight(cfg.MotoEndpoint, "/")
	clients, err := awsx.New(ctx, awsx.Config{
		Region:    cfg.Region,
		AccessKey: cfg.AccessKey,
		SecretKey: cfg.SecretKey,
		Endpoints: awsx.Endpoints{EC2: endpoint, SSM: endpoint, Lambda: endpoint, STS: endpoint, IAM: endpoint},
	})
	if err != nil {
		return nil, fmt.Errorf("ssmemu: AWS clients for moto at %s: %w", endpoint, err)
	}

	e := &Emulator{
		cfg:        cfg,
		moto:       u,
		clients:    clients,
		buckets:    map[string]*bucket{},
		executions: map[string]*execution{},
		tokens:     map[string]string{},
		motoEC2: ec2.NewFromConfig(aws.Config{
			Region:      cfg.Region,
			Credentials: credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		}, func(o *ec2.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		motoKMS: kms.NewFromConfig(aws.Config{
			Region:      cfg.Region,
			Credentials: credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		}, func(o *kms.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		ec2State: ec2Images{images: map[regionalID]*imageState{}, snapshots: map[regionalID]string{}},
	}
	e.ec2Ops = e.ec2Handlers()
	e.base, e.stopAll = context.WithCancel(context.Background())
	e.proxy = httputil.NewSingleHostReverseProxy(u)
	// The Director keeps the request's Host header, so the signature made
	// for the emulator's address still matches what was signed.
	e.proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		writeError(w, &apiError{Status: http.StatusBadGateway, Code: codeInternalServerError,
			Message: fmt.Sprintf("the emulator could not reach moto at %s: %v", endpoint, err)})
	}
	if !cfg.NoThrottle {
		for op, rate := range DefaultRates {
			if r, ok := cfg.Rates[op]; ok {
				rate = r
			}
			if rate > 0 {
				e.buckets[op] = newBucket(rate)
			}
		}
	}
	e.ops = map[string]func(context.Context, []byte) (any, error){
		"StartAutomationExecution":         decode(e.start),
		"GetAutomationExecution":           decode(e.get),
		"DescribeAutomationExecutions":     decode(e.describe),
		"DescribeAutomationStepExecutions": decode(e.describeSteps),
		"StopAutomationExecution":          decode(e.stop),
		"SendAutomationSignal":             decode(e.signal),
	}
	return e, nil
}

// Close ends every execution still running (they end Cancelled) and waits
// for them. The handler answers InternalServerError to new starts afterwards.
func (e *Emulator) Close() {
	e.mu.Lock()
	e.closed = true
	for _, x := range e.queue {
		x.queued = false
		x.status, x.ended = StatusCancelled, e.cfg.Now()
	}
	e.queue = nil
	e.mu.Unlock()
	e.stopAll()
	e.wg.Wait()
}

// decode adapts a typed operation to the handler table.
func decode[In any](f func(context.Context, *In) (any, error)) func(context.Context, []byte) (any, error) {
	return func(ctx context.Context, body []byte) (any, error) {
		in := new(In)
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, in); err != nil {
				return nil, errorf(codeSerialization, "the request body is not the operation's JSON: %v", err)
			}
		}
		return f(ctx, in)
	}
}

// maxBody bounds a request body the emulator reads; AWS refuses large
// bodies too, and a document is at most 64 KB.
const maxBody = 4 << 20

func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e.serveEC2(w, r) {
		return
	}
	op, isSSM := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if r.Method != http.MethodPost || !isSSM {
		e.proxy.ServeHTTP(w, r)
		return
	}
	handler, ours := e.ops[op]
	tagOp := op == "AddTagsToResource" || op == "RemoveTagsFromResource" || op == "ListTagsForResource"
	if !ours && !tagOp {
		e.proxy.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	r.Body.Close()
	if err != nil {
		writeError(w, errorf(codeSerialization, "reading the request: %v", err))
		return
	}
	if len(body) > maxBody {
		writeError(w, errorf(codeValidation, "the request body is over %d bytes", maxBody))
		return
	}
	if tagOp {
		var in tagsInput
		if json.Unmarshal(body, &in) != nil || in.ResourceType != "Automation" {
			// Tags of documents, parameters and the rest are moto's.
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			e.proxy.ServeHTTP(w, r)
			return
		}
		handler = e.tagHandler(op)
	}
	if b := e.buckets[op]; b != nil && !b.take(e.cfg.Now()) {
		writeError(w, errorf(codeThrottling, "Rate exceeded"))
		return
	}
	ctx := context.WithValue(r.Context(), approverKey{}, accessKeyOf(r.Header.Get("Authorization")))
	out, err := handler(ctx, body)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{Status: http.StatusInternalServerError, Code: codeInternalServerError, Message: err.Error()}
		}
		writeError(w, ae)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) logf(format string, args ...any) {
	if e.cfg.Logf != nil {
		e.cfg.Logf(format, args...)
	}
}
