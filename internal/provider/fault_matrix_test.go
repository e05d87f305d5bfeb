package provider

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
)

// The fault matrix bakes the published "Patch and Create a New AMI" recipe
// (examples/documents/patch-ami.json: every step Continue but startInstances)
// and a variant where every step is Abort, against the emulator, once per
// (step, call it makes) x fault kind, and once per cleanup call
// (TerminateInstances, DeregisterImage, DeleteSnapshot) x fault kind. Kinds:
// a terminal AWS error (the first call of a create taking effect, its answer
// lost), a throttle storm longer than the SDK's retries, a step timeout
// (timeoutSeconds while a call hangs) and a cancelled apply (cancelled while a
// call hangs). The engine runs with SDK retries off, so every fault reaches
// the provider's own code; recordBake decides what state keeps, as Create does.
//
// Then the emulator is asked what the bake left: no builder may run (unless
// kept), no image or snapshot may exist that state does not hold; the user must
// be told which step failed; a throttled bake must succeed. When a cleanup call
// is what fails, what it left must be reported, terraform destroy must remove
// what state holds and the next apply (same bake key) the rest.

// matrixTag marks everything one case creates (a provider default tag), so the
// emulator can be asked about that case alone.
const matrixTag = "amibake-test-case"

// pipeline is the recipe's steps and the calls each makes.
var pipeline = []struct {
	step string
	ops  []string
}{
	{"startInstances", []string{"RunInstances", "DescribeInstances"}},
	{"installMissingWindowsUpdates", []string{"SendCommand", "GetCommandInvocation"}},
	{"stopInstance", []string{"StopInstances", "DescribeInstances"}},
	{"createImage", []string{"CreateImage", "DescribeImages", "CreateTags"}},
	{"createTags", []string{"CreateTags"}},
	{"terminateInstance", []string{"TerminateInstances", "DescribeInstances"}},
}

// mutating calls change the cloud; their faults let the call take effect and
// lose the answer, the case that leaks.
var mutating = map[string]bool{
	"RunInstances": true, "SendCommand": true, "StopInstances": true, "CreateImage": true,
	"CreateTags": true, "TerminateInstances": true, "DeregisterImage": true, "DeleteSnapshot": true,
}

const (
	kindTerminal = "terminal"
	kindThrottle = "throttle"
	kindTimeout  = "timeout"
	kindCancel   = "cancel"
	// kindDenied refuses every call with no effect (a policy without the
	// permission); used on cleanup calls, where kindTerminal's lost answer
	// would remove the resource anyway.
	kindDenied = "denied"
)

var faultKinds = []string{kindTerminal, kindThrottle, kindTimeout, kindCancel}

// stormLength is how many calls in a row a throttle storm refuses: more than
// the SDK's own retries absorb.
const stormLength = 6

// stallFor bounds every injected hang: calls made by shared pollers have no
// caller's context to end them.
const stallFor = 2 * time.Second

// matrixTally adds up every fault matrix case of the test binary.
var matrixTally struct {
	sync.Mutex
	faults, instances, images, snapshots, cases int
	// stacks are those left by a failed bake and reported as such.
	stacks int
}

func tally(faultsInjected int, l leaks) {
	matrixTally.Lock()
	defer matrixTally.Unlock()
	matrixTally.cases++
	matrixTally.faults += faultsInjected
	matrixTally.instances += len(l.instances)
	matrixTally.images += len(l.images)
	matrixTally.snapshots += len(l.snapshots)
}

func summaryLine() string {
	matrixTally.Lock()
	defer matrixTally.Unlock()
	return fmt.Sprintf("faults injected: %d, leaked instances: %d, untracked images: %d, untracked snapshots: %d",
		matrixTally.faults, matrixTally.instances, matrixTally.images, matrixTally.snapshots)
}

// snapshotChecks are the cases whose snapshots are checked in one scan at the end.
var snapshotChecks struct {
	sync.Mutex
	list []snapshotCheck
}

type snapshotCheck struct {
	name, marker string
	related      []string
	tracked      map[string]bool
	report       string
}

// matrixCase is one bake under one fault.
type matrixCase struct {
	name string
	// recipe is the document baked: "" for the patch pipeline, "stack" for
	// the one with a CloudFormation stack (stackDocument).
	recipe string
	// abort turns every step's onFailure into Abort.
	abort bool
	// step is the step under fault, "" for a fault in cleanup only.
	step, op, kind string
	// failAt makes the run fail at that step (a cleanup case needs a failed run).
	failAt string
	// timeoutSeconds is set on step when > 0.
	timeoutSeconds int64
	// cleanupTimeout bounds cleanup when > 0.
	cleanupTimeout time.Duration
	keepInstances  bool
	rules          func(h *caseHooks) []faults.Rule
	// wantSuccess: the bake must succeed (throttling).
	wantSuccess bool
	// wantLeftovers: cleanup itself was made to fail; what it left must be
	// reported, and removed by destroy and the next apply.
	wantLeftovers bool
}

// caseHooks let rules see which step runs and cancel the bake.
type caseHooks struct {
	current atomic.Value // string: the step running now
	cancel  context.CancelFunc
	// stall is how long an injected hang lasts: stallFor, or longer than a
	// step timeout above it, which must end the step first.
	stall time.Duration
}

func (h *caseHooks) running() string {
	s, _ := h.current.Load().(string)
	return s
}

// during holds while step runs ("" while no step does: cleanup).
func (h *caseHooks) during(step string) func(context.Context, any) bool {
	return func(context.Context, any) bool { return h.running() == step }
}

// firstN holds for the first n calls for which when holds.
func firstN(n int, when func(context.Context, any) bool) func(context.Context, any) bool {
	var seen int
	return func(ctx context.Context, in any) bool {
		if !when(ctx, in) || seen >= n {
			return false
		}
		seen++
		return true
	}
}

// kindRules are the rules for one fault kind on op while when holds.
func kindRules(h *caseHooks, kind, op string, when func(context.Context, any) bool) []faults.Rule {
	all := faults.Rule{Operation: op, From: 1, To: -1}
	switch kind {
	case kindTerminal:
		if mutating[op] {
			// The first call takes effect and its answer is lost; every
			// retry fails too.
			lost := all
			lost.Code, lost.Status, lost.LoseResponse = "InternalError", 500, true
			rest := all
			rest.Code, rest.Status = "InternalError", 500
			return []faults.Rule{lost.Only(firstN(1, when)), rest.Only(when)}
		}
		denied := all
		denied.Code, denied.Status = "UnauthorizedOperation", 403
		return []faults.Rule{denied.Only(when)}
	case kindDenied:
		denied := all
		denied.Code, denied.Status = "UnauthorizedOperation", 403
		return []faults.Rule{denied.Only(when)}
	case kindThrottle:
		storm := all
		storm.Throttle = true
		return []faults.Rule{storm.Only(firstN(stormLength, when))}
	case kindTimeout:
		stall := all
		stall.Hang, stall.HangFor, stall.LoseResponse = true, h.stall, mutating[op]
		return []faults.Rule{stall.Only(firstN(1, when))}
	case kindCancel:
		stall := all
		stall.Hang, stall.HangFor, stall.LoseResponse = true, stallFor, mutating[op]
		cancelling := firstN(1, when)
		return []faults.Rule{stall.Only(func(ctx context.Context, in any) bool {
			if !cancelling(ctx, in) {
				return false
			}
			h.cancel()
			return true
		})}
	}
	panic("unknown fault kind " + kind)
}

// matrixCases is the whole matrix.
func matrixCases() []matrixCase {
	var cases []matrixCase
	for _, abort := range []bool{false, true} {
		variant := "published"
		if abort {
			variant = "abort"
		}
		for i, ps := range pipeline {
			if i == 0 && !abort {
				continue // startInstances is Abort in both variants
			}
			for _, op := range ps.ops {
				for _, kind := range faultKinds {
					c := matrixCase{
						name:  fmt.Sprintf("%s/%s/%s/%s", variant, ps.step, op, kind),
						abort: abort, step: ps.step, op: op, kind: kind,
						wantSuccess: kind == kindThrottle,
					}
					if kind == kindTimeout {
						c.timeoutSeconds = 1
						if ps.step == "installMissingWindowsUpdates" {
							// The step first waits for the builder's SSM agent:
							// on a busy machine that wait alone has taken over a
							// second, timing the step out before the call the
							// case hangs was ever made.
							c.timeoutSeconds = 3
						}
					}
					step, op, kind := ps.step, op, kind
					c.rules = func(h *caseHooks) []faults.Rule { return kindRules(h, kind, op, h.during(step)) }
					cases = append(cases, c)
				}
			}
		}
	}
	// Cleanup calls. The run fails first: at stopInstance for instances (the
	// terminate step never runs, so only cleanup terminates), at createTags
	// for images and snapshots (the image exists by then).
	for _, cc := range []struct{ op, failAt, failOp string }{
		{"TerminateInstances", "stopInstance", "StopInstances"},
		{"DeregisterImage", "createTags", "CreateTags"},
		{"DeleteSnapshot", "createTags", "CreateTags"},
	} {
		for _, kind := range append(slices.Clone(faultKinds), kindDenied) {
			c := matrixCase{
				name:  fmt.Sprintf("cleanup/%s/%s", cc.op, kind),
				abort: true, op: cc.op, kind: kind, failAt: cc.failAt,
				wantLeftovers: kind == kindTerminal || kind == kindTimeout || kind == kindDenied,
			}
			if kind == kindTimeout {
				c.cleanupTimeout = time.Second
			}
			op, kind, failAt, failOp := cc.op, kind, cc.failAt, cc.failOp
			c.rules = func(h *caseHooks) []faults.Rule {
				fail := faults.FailCalls(failOp, 1, -1, "UnauthorizedOperation", 403).Only(h.during(failAt))
				if kind == kindCancel {
					// The apply is cancelled while cleanup runs: cleanup must
					// not notice.
					cancelling := firstN(1, h.during(""))
					return []faults.Rule{fail, faults.Rule{Operation: op, From: 1, To: -1, Hang: true, HangFor: 300 * time.Millisecond}.Only(func(ctx context.Context, in any) bool {
						if !cancelling(ctx, in) {
							return false
						}
						h.cancel()
						return true
					})}
				}
				return append([]faults.Rule{fail}, kindRules(h, kind, op, h.during(""))...)
			}
			cases = append(cases, c)
		}
	}
	// keep_builder_instances: the builder stays, the failed bake's image does not.
	cases = append(cases, matrixCase{
		name: "abort/createTags/CreateTags/terminal/keep-builder", abort: true, step: "createTags", op: "CreateTags",
		kind: kindTerminal, keepInstances: true,
		rules: func(h *caseHooks) []faults.Rule {
			return kindRules(h, kindTerminal, "CreateTags", h.during("createTags"))
		},
	})
	return cases
}

// patchDocument is examples/documents/patch-ami.json, with every onFailure
// Abort when abort is set and timeoutSeconds on one step.
func patchDocument(t *testing.T, abort bool, step string, timeoutSeconds int64) *document.Document {
	t.Helper()
	text, err := os.ReadFile(repoFile(t, "examples/documents/patch-ami.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := document.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	for i := range doc.MainSteps {
		s := &doc.MainSteps[i]
		if abort {
			s.OnFailure, s.IsCritical = "Abort", nil
		}
		if s.Name == step && timeoutSeconds > 0 {
			s.TimeoutSeconds = &timeoutSeconds
		}
	}
	return doc
}

// matrixImageOutput is the recipe's image output, as imageOutputName finds it.
const matrixImageOutput = "createImage.ImageId"

// fastPolicy keeps the matrix quick; the waits are the same code.
var fastPolicy = awsx.Policy{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, Factor: 1.5, Jitter: 0.2}

// matrixClients talks to the emulator through the injector. maxAttempts 1
// turns the SDK's retries off, so that every fault reaches the provider's own
// code.
func matrixClients(t *testing.T, inj *faults.Injector, maxAttempts int) *awsx.Clients {
	t.Helper()
	var opts []func(*middleware.Stack) error
	if inj != nil {
		opts = append(opts, inj.APIOption())
	}
	// The emulator answers with "Connection: close" and may drop a kept-alive
	// connection under load; with one attempt per call, the setup (not a case
	// under test) gets a few tries of its own.
	var c *awsx.Clients
	var err error
	for try := 0; try < 3; try++ {
		if c, err = awsx.New(context.Background(), awsx.Config{MaxRetries: maxAttempts, APIOptions: opts}); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("AWS clients for the emulator: %v", err)
	}
	c.SetPolicy(fastPolicy)
	return c
}

// leaks are what a bake left that is neither terminated nor recorded in state.
type leaks struct {
	instances, images, snapshots []string
	// related are the ids of the bake's instances and images: the snapshots
	// made from them name them in their description.
	related []string
}

func (l leaks) empty() bool { return len(l.instances)+len(l.images)+len(l.snapshots) == 0 }

func (l leaks) String() string {
	return fmt.Sprintf("live instances %v, untracked images %v, untracked snapshots %v", l.instances, l.images, l.snapshots)
}

// findLeaks asks the emulator about everything tagged matrixTag=marker. With
// snaps (the account's snapshots) it also looks for snapshots of those
// instances and images, tagged or not (a snapshot is tagged only once its
// image lists it); a scan of all snapshots is slow in the emulator, so most
// cases leave that to one scan at the end. tracked holds the ids in state.
func findLeaks(t *testing.T, c *ec2.Client, marker string, keepInstances bool, tracked map[string]bool, snaps []ec2types.Snapshot) leaks {
	t.Helper()
	ctx := context.Background()
	var l leaks
	tag := []ec2types.Filter{{Name: aws.String("tag:" + matrixTag), Values: []string{marker}}}
	insts, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: tag})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	for _, r := range insts.Reservations {
		for _, in := range r.Instances {
			id := aws.ToString(in.InstanceId)
			l.related = append(l.related, id)
			st := in.State.Name
			if st != ec2types.InstanceStateNameTerminated && st != ec2types.InstanceStateNameShuttingDown && !keepInstances {
				l.instances = append(l.instances, id)
			}
		}
	}
	imgs, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: tag})
	if err != nil {
		t.Fatalf("DescribeImages: %v", err)
	}
	for _, img := range imgs.Images {
		id := aws.ToString(img.ImageId)
		l.related = append(l.related, id)
		if !tracked[id] {
			l.images = append(l.images, id)
		}
	}
	if snaps != nil {
		l.snapshots = untrackedSnapshots(snaps, marker, l.related, tracked)
	}
	return l
}

// accountSnapshots lists every snapshot the account owns.
func accountSnapshots(t *testing.T, c *ec2.Client) []ec2types.Snapshot {
	t.Helper()
	out, err := c.DescribeSnapshots(context.Background(), &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
	if err != nil {
		t.Fatalf("DescribeSnapshots: %v", err)
	}
	if out.Snapshots == nil {
		return []ec2types.Snapshot{}
	}
	return out.Snapshots
}

// untrackedSnapshots are the snapshots of a bake (tagged with its marker, or
// made from one of its instances or images) that state does not hold.
func untrackedSnapshots(snaps []ec2types.Snapshot, marker string, related []string, tracked map[string]bool) []string {
	var out []string
	for _, s := range snaps {
		id := aws.ToString(s.SnapshotId)
		mine := tagMap(s.Tags)[matrixTag] == marker
		for _, r := range related {
			mine = mine || strings.Contains(aws.ToString(s.Description), r)
		}
		if mine && !tracked[id] {
			out = append(out, id)
		}
	}
	return out
}

// trackedIDs are the images a bake record keeps in state and their snapshots.
// A snapshot counts only if state lists it or a kept image still does: Delete
// finds nothing else.
func trackedIDs(c *ec2.Client, rec bakeRecord) map[string]bool {
	tracked := map[string]bool{}
	var ids []string
	if rec.imageID != "" {
		ids = append(ids, rec.imageID)
	}
	for _, id := range rec.copies {
		ids = append(ids, id)
	}
	for _, id := range ids {
		tracked[id] = true
		if img := describeImageWith(c, id); img != nil {
			for _, s := range ami.Snapshots(*img) {
				tracked[s] = true
			}
		}
	}
	for _, s := range rec.snapshots {
		tracked[s] = true
	}
	return tracked
}

func describeImageWith(c *ec2.Client, id string) *ec2types.Image {
	out, err := c.DescribeImages(context.Background(), &ec2.DescribeImagesInput{
		Filters: []ec2types.Filter{{Name: aws.String("image-id"), Values: []string{id}}},
	})
	if err != nil || len(out.Images) == 0 {
		return nil
	}
	return &out.Images[0]
}

// stepResult is the last execution of step in res.
func stepResult(res *engine.Result, step string) (engine.StepResult, bool) {
	if res == nil {
		return engine.StepResult{}, false
	}
	for i := len(res.Steps) - 1; i >= 0; i-- {
		if res.Steps[i].Name == step {
			return res.Steps[i], true
		}
	}
	return engine.StepResult{}, false
}

func TestAccFaultMatrix(t *testing.T) {
	testAccPreCheck(t)
	t.Parallel()
	ensureInstanceProfile(t, publishedProfile)
	runID := testRunID()
	plain := matrixClients(t, nil, 0)
	ec2c := plain.Raw["ec2"].(*ec2.Client)

	cases := append(matrixCases(), stackMatrixCases()...)
	if f := os.Getenv("AMIBAKE_MATRIX_FILTER"); f != "" {
		cases = slices.DeleteFunc(cases, func(c matrixCase) bool { return !strings.Contains(c.name, f) })
	}
	// The cleanup cases do the most (a second bake, full snapshot scans):
	// start them first so that the short ones fill in around them.
	slices.SortStableFunc(cases, func(a, b matrixCase) int {
		switch {
		case a.wantLeftovers == b.wantLeftovers:
			return 0
		case a.wantLeftovers:
			return -1
		}
		return 1
	})
	started := time.Now()
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	// The same faults through Terraform, alongside: they wait more than they work.
	for name, f := range map[string]func(*testing.T){
		"terraform/step faults":    testProviderStepFaults,
		"terraform/cleanup faults": testProviderCleanupFaults,
		"terraform/throttling":     testProviderThrottling,
	} {
		if f := os.Getenv("AMIBAKE_MATRIX_FILTER"); f != "" && !strings.Contains(name, f) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(name, f)
		}()
	}
	for _, c := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t.Run(c.name, func(t *testing.T) { runMatrixCase(t, c, fmt.Sprintf("%d-%s", runID, c.name), plain, ec2c) })
		}()
	}
	wg.Wait()
	// One scan of all snapshots for the cases that did not scan their own.
	snaps := accountSnapshots(t, ec2c)
	for _, sc := range snapshotChecks.list {
		if left := untrackedSnapshots(snaps, sc.marker, sc.related, sc.tracked); len(left) > 0 {
			t.Errorf("%s: untracked snapshots %v\n%s", sc.name, left, sc.report)
			tally(0, leaks{snapshots: left})
		}
	}
	line := summaryLine()
	t.Logf("%d cases in %s", len(cases), time.Since(started).Round(time.Second))
	t.Log(line)
	// go test ./... shows a passing package's output only with -v; a Makefile
	// can print this file instead.
	fmt.Println(line)
	if path := os.Getenv("AMIBAKE_FAULT_SUMMARY"); path != "" {
		if err := os.WriteFile(path, []byte(line+"\n"), 0o644); err != nil {
			t.Errorf("writing the summary: %v", err)
		}
	}
	matrixTally.Lock()
	defer matrixTally.Unlock()
	if matrixTally.instances+matrixTally.images+matrixTally.snapshots > 0 {
		t.Errorf("the fault matrix found leaks: %s", line)
	}
}

func runMatrixCase(t *testing.T, c matrixCase, marker string, plain *awsx.Clients, ec2c *ec2.Client) {
	began := time.Now()
	phase := func(name string) { t.Logf("%s at %s", name, time.Since(began).Round(time.Millisecond)) }
	h := &caseHooks{stall: max(stallFor, time.Duration(c.timeoutSeconds+1)*time.Second)}
	h.current.Store("")
	inj := faults.New()
	inj.Add(c.rules(h)...)
	clients := matrixClients(t, inj, 1)
	phase("clients")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h.cancel = cancel
	doc := matrixDocument(t, c)
	// Only the cleanup cases need a bake key: their next apply sweeps what the
	// failed one left. The sweep scans every snapshot, which the emulator does
	// slowly; crash recovery has its own test.
	bakeKey := ""
	if c.wantLeftovers {
		bakeKey = "matrix-" + marker
	}
	cleanupTimeout := 30 * time.Second
	if c.cleanupTimeout > 0 {
		cleanupTimeout = c.cleanupTimeout
	}
	var evMu sync.Mutex
	var events []string
	res, runErr := engine.Run(ctx, doc, map[string]string{"sourceAMIid": sourceAMI}, engine.Options{
		Clients:              clients,
		Tags:                 map[string]string{matrixTag: marker},
		BakeKey:              bakeKey,
		KeepBuilderInstances: c.keepInstances,
		CleanupTimeout:       cleanupTimeout,
		ImageOutput:          matrixImageOutput, // as Create passes it
		OnEvent: func(e engine.Event) {
			switch e.Kind {
			case engine.EventStepStart:
				h.current.Store(e.Step)
			case engine.EventStepEnd:
				h.current.Store("")
			}
			evMu.Lock()
			events = append(events, fmt.Sprintf("%s %s %s %v", time.Since(began).Round(time.Millisecond), e.Kind, e.Step, e.Fields))
			evMu.Unlock()
		},
	})
	phase("bake done")
	rec := recordBake(res, runErr, matrixImageOutput)
	injected := inj.Injected()
	report := func() string {
		evMu.Lock()
		defer evMu.Unlock()
		return fmt.Sprintf("error: %v\nfaults: %+v\nevents:\n  %s", rec.err, inj.Faults(), strings.Join(events, "\n  "))
	}
	if injected == 0 {
		t.Errorf("no fault was injected\n%s", report())
	}

	// What the provider tells the user.
	told := ""
	if rec.err != nil {
		told = rec.err.Error() + "\n" + bakeErrorDetail(rec.err, res)
	}
	if summary, detail := continuedFailures(res, nil); summary != "" {
		told += "\n" + summary + "\n" + detail
	}
	switch {
	case c.wantSuccess && rec.err != nil:
		t.Errorf("throttling must not fail a bake\n%s", report())
	case c.wantSuccess:
		for _, s := range res.Steps {
			if s.Status != engine.StatusSuccess {
				t.Errorf("step %s ended %s under throttling: %s", s.Name, s.Status, s.Message)
			}
		}
	case c.step != "":
		if !strings.Contains(told, fmt.Sprintf("%q", c.step)) && !strings.Contains(told, c.step+" ") {
			t.Errorf("nothing the user is told names step %s:\n%s\n%s", c.step, told, report())
		}
		sr, ok := stepResult(res, c.step)
		want := map[string]string{kindTimeout: engine.StatusTimedOut, kindCancel: engine.StatusCancelled, kindTerminal: engine.StatusFailed}[c.kind]
		if !ok || sr.Status != want {
			t.Errorf("step %s: status %q, want %s\n%s", c.step, sr.Status, want, report())
		}
	case c.failAt != "":
		if rec.err == nil || !strings.Contains(rec.err.Error(), fmt.Sprintf("%q", c.failAt)) {
			t.Errorf("want an error naming step %s\n%s", c.failAt, report())
		}
	}

	// Ask the emulator.
	tracked := trackedIDs(ec2c, rec)
	var snaps []ec2types.Snapshot
	if c.wantLeftovers {
		snaps = accountSnapshots(t, ec2c)
	}
	l := findLeaks(t, ec2c, marker, c.keepInstances, tracked, snaps)
	if c.recipe == "stack" {
		checkStackLeaks(t, plain, marker, rec, report)
	}
	if c.wantLeftovers {
		reported := fmt.Sprint(rec.err)
		if rec.imageID != "" {
			reported += " " + rec.imageID
		}
		for _, id := range append(append(slices.Clone(l.instances), l.images...), l.snapshots...) {
			if !strings.Contains(reported, id) {
				t.Errorf("%s was left behind and neither reported nor kept in state\n%s", id, report())
			}
		}
		if l.empty() {
			t.Logf("cleanup left nothing although its calls failed")
		}
		// terraform destroy removes what state holds: images and snapshots.
		// Instances are never in state; the next apply (same bake key)
		// terminates them.
		if rec.imageID != "" {
			if failed, _ := destroyImages(context.Background(), plain, plain.Region, rec.imageID, rec.copies, rec.snapshots, true); len(failed) > 0 {
				t.Errorf("destroy of the kept images failed: %v", failed)
			}
		}
		afterDestroy := findLeaks(t, ec2c, marker, true, map[string]bool{}, accountSnapshots(t, ec2c))
		if len(afterDestroy.images)+len(afterDestroy.snapshots) > 0 {
			t.Errorf("after terraform destroy the failed bake still left %s\n%s", afterDestroy, report())
		}
		next, err := engine.Run(context.Background(), doc, map[string]string{"sourceAMIid": sourceAMI}, engine.Options{
			Clients: plain, Tags: map[string]string{matrixTag: marker + "-next"}, BakeKey: bakeKey, ImageOutput: matrixImageOutput,
		})
		if err != nil {
			t.Errorf("the next apply failed: %v", err)
		} else {
			destroyProduct(t, plain, recordBake(next, nil, matrixImageOutput))
		}
		l = findLeaks(t, ec2c, marker, c.keepInstances, map[string]bool{}, nil)
		l.images, l.snapshots = afterDestroy.images, afterDestroy.snapshots
		if len(l.instances) > 0 {
			t.Errorf("after the next apply the failed bake still left instances %v\n%s", l.instances, report())
		}
	} else if !l.empty() {
		t.Errorf("the bake left %s\n%s", l, report())
	}
	phase("emulator checked")
	tally(injected, l)
	if rec.err == nil {
		destroyProduct(t, plain, rec)
		// The product's snapshots went with it.
		tracked = map[string]bool{}
	}
	if !c.wantLeftovers {
		snapshotChecks.Lock()
		snapshotChecks.list = append(snapshotChecks.list, snapshotCheck{name: c.name, marker: marker, related: l.related, tracked: tracked, report: report()})
		snapshotChecks.Unlock()
	}
	phase("product destroyed")
	if os.Getenv("AMIBAKE_MATRIX_TRACE") != "" {
		t.Log(report())
	}
}

// destroyProduct removes a successful bake's image as terraform destroy would.
func destroyProduct(t *testing.T, c *awsx.Clients, rec bakeRecord) {
	t.Helper()
	if rec.imageID == "" {
		return
	}
	if failed, _ := destroyImages(context.Background(), c, c.Region, rec.imageID, rec.copies, rec.snapshots, true); len(failed) > 0 {
		t.Errorf("destroy: %v", failed)
	}
}
