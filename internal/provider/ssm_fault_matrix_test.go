package provider

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
	"github.com/amibake/terraform-provider-amibake/internal/ssmexec"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
)

// The SSM executor's fault matrix bakes the published patch pipeline (every
// step Abort) on SSM Automation through the emulator, once per automation
// API call the provider makes x fault kind (a throttle storm, a lost answer:
// the call takes effect and its answer is a 500, and a 5xx on the first
// calls), and once per pipeline step x way an execution ends badly right
// after it (Failed, TimedOut, Cancelled by someone else). SDK retries are
// off, so that every fault reaches the executor's own code. Then moto is
// asked what the bake left: no builder, no image or snapshot outside state.
// The cases add to the summary line of TestAccFaultMatrix; this test runs
// before it (it is not parallel) and prints its own line too.

// ssmOps are the automation API calls of a bake, and what makes each happen.
var ssmOps = []string{
	"CreateDocument", "StartAutomationExecution", "DescribeAutomationExecutions", "GetAutomationExecution",
	"DescribeAutomationStepExecutions", "AddTagsToResource", "ListTagsForResource", "StopAutomationExecution", "DeleteDocument",
}

const (
	ssmKindThrottle = "throttle"
	ssmKindLost     = "lost-answer"
	ssmKind5xx      = "5xx"
)

func ssmFaultRule(op, kind string) faults.Rule {
	r := faults.Rule{Operation: op, Service: "SSM", From: 1}
	switch kind {
	case ssmKindThrottle:
		r.To, r.Throttle = stormLength, true
	case ssmKindLost:
		r.Code, r.Status, r.LoseResponse = "InternalServerError", 500, true
	case ssmKind5xx:
		r.To, r.Code, r.Status = 2, "InternalServerError", 500
	}
	return r
}

// Ways an execution ends badly, by a step inserted after a pipeline step.
const (
	endFailed    = "Failed"
	endTimedOut  = "TimedOut"
	endCancelled = "Cancelled"
)

func endStep(after, how string) document.Step {
	one := int64(1)
	switch how {
	case endFailed:
		return document.Step{Name: "failAfter_" + after, Action: "aws:assertAwsResourceProperty", OnFailure: "Abort", Inputs: map[string]any{
			"Service": "ec2", "Api": "DescribeImages", "ImageIds": []any{sourceAMI},
			"PropertySelector": "$.Images[0].ImageId", "DesiredValues": []any{"ami-never"},
		}}
	case endTimedOut:
		return document.Step{Name: "timeOutAfter_" + after, Action: "aws:sleep", OnFailure: "Abort", TimeoutSeconds: &one,
			Inputs: map[string]any{"Duration": "PT1M"}}
	}
	return document.Step{Name: "holdAfter_" + after, Action: "aws:sleep", OnFailure: "Abort", Inputs: map[string]any{"Duration": "PT10M"}}
}

type ssmMatrixCase struct {
	name string
	op   string // API fault on op...
	kind string
	// ...or the execution ends badly (end) right after step after.
	after, end string
	// previous bakes once first with the same key, so that the bake finds
	// an earlier execution (the calls that look at it).
	previous bool
	// cancel cancels the bake when the inserted hold step starts.
	cancel bool
}

func ssmMatrixCases() []ssmMatrixCase {
	var cases []ssmMatrixCase
	for _, op := range ssmOps {
		for _, kind := range []string{ssmKindThrottle, ssmKindLost, ssmKind5xx} {
			c := ssmMatrixCase{name: fmt.Sprintf("api/%s/%s", op, kind), op: op, kind: kind}
			switch op {
			case "ListTagsForResource":
				c.previous = true
			case "StopAutomationExecution":
				c.after, c.end, c.cancel = "createImage", endCancelled, true
			}
			cases = append(cases, c)
		}
	}
	for _, ps := range pipeline {
		for _, end := range []string{endFailed, endTimedOut, endCancelled} {
			cases = append(cases, ssmMatrixCase{name: fmt.Sprintf("end/%s/%s", ps.step, end), after: ps.step, end: end})
		}
	}
	return cases
}

func ssmMatrixClients(t *testing.T, emu *acctest.SSMEmulator, inj *faults.Injector) *awsx.Clients {
	t.Helper()
	var opts []func(*middleware.Stack) error
	maxAttempts := 0
	if inj != nil {
		opts, maxAttempts = append(opts, inj.APIOption()), 1
	}
	var c *awsx.Clients
	var err error
	// Setting up asks moto's STS, which a busy machine sometimes drops.
	for try := 0; try < 3; try++ {
		if c, err = awsx.New(context.Background(), awsx.Config{MaxRetries: maxAttempts, APIOptions: opts, Endpoints: awsx.Endpoints{SSM: emu.Endpoint()}}); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatalf("AWS clients: %v", err)
	}
	c.SetPolicy(fastPolicy)
	return c
}

var ssmTally struct {
	sync.Mutex
	faults, instances, images, snapshots, cases int
}

func TestAccSSMFaultMatrix(t *testing.T) {
	testAccPreCheck(t)
	ensureInstanceProfile(t, publishedProfile)
	// Its own emulator: step executions paged after two, so that
	// DescribeAutomationStepExecutions is called.
	emu := acctest.StartSSMEmulator(t, testMoto, "-step-executions-in-get", "2")
	plain := ssmMatrixClients(t, emu, nil)
	ec2c := plain.Raw["ec2"].(*ec2.Client)
	runID := testRunID()
	cases := ssmMatrixCases()
	if f := os.Getenv("AMIBAKE_MATRIX_FILTER"); f != "" {
		cases = slices.DeleteFunc(cases, func(c ssmMatrixCase) bool { return !strings.Contains("ssm/"+c.name, f) })
	}
	started := time.Now()
	var checks []snapshotCheck
	var mu sync.Mutex
	sem := make(chan struct{}, 6)
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t.Run(c.name, func(t *testing.T) {
				sc := runSSMMatrixCase(t, c, emu, fmt.Sprintf("%d-ssm-%s", runID, c.name), plain)
				mu.Lock()
				checks = append(checks, sc)
				mu.Unlock()
			})
		}()
	}
	wg.Wait()
	snaps := accountSnapshots(t, ec2c)
	for _, sc := range checks {
		if left := untrackedSnapshots(snaps, sc.marker, sc.related, sc.tracked); len(left) > 0 {
			t.Errorf("%s: untracked snapshots %v\n%s", sc.name, left, sc.report)
			ssmTally.Lock()
			ssmTally.snapshots += len(left)
			ssmTally.Unlock()
			tally(0, leaks{snapshots: left})
		}
	}
	line := fmt.Sprintf("ssm executor: %d cases, faults injected: %d, leaked instances: %d, untracked images: %d, untracked snapshots: %d",
		ssmTally.cases, ssmTally.faults, ssmTally.instances, ssmTally.images, ssmTally.snapshots)
	t.Logf("%d cases in %s", len(cases), time.Since(started).Round(time.Second))
	t.Log(line)
	fmt.Println(line)
	if path := os.Getenv("AMIBAKE_FAULT_SUMMARY"); path != "" {
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
	if ssmTally.instances+ssmTally.images+ssmTally.snapshots > 0 {
		t.Errorf("the SSM fault matrix found leaks: %s", line)
	}
}

func runSSMMatrixCase(t *testing.T, c ssmMatrixCase, emu *acctest.SSMEmulator, marker string, plain *awsx.Clients) snapshotCheck {
	inj := faults.New()
	clients := ssmMatrixClients(t, emu, inj)
	doc := patchDocument(t, true, "", 0)
	if c.after != "" {
		i := slices.IndexFunc(doc.MainSteps, func(s document.Step) bool { return s.Name == c.after })
		doc.MainSteps = slices.Insert(doc.MainSteps, i+1, endStep(c.after, c.end))
	}
	key := "ssm-matrix-" + marker
	params := map[string]string{"sourceAMIid": sourceAMI}
	var products []string
	if c.previous {
		res, err := ssmexec.Run(context.Background(), doc, params, ssmexec.Options{
			Clients: plain, BakeKey: key, Tags: map[string]string{matrixTag: marker}, ImageOutput: matrixImageOutput,
		})
		if err != nil {
			t.Fatalf("the earlier bake failed: %v", err)
		}
		products = append(products, recordBake(res, nil, matrixImageOutput).imageID)
	}
	inj.Add(ssmFaultRule(c.op, c.kind))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var evMu sync.Mutex
	var events []string
	began := time.Now()
	inserted := ""
	if c.after != "" {
		inserted = endStep(c.after, c.end).Name
	}
	stopped := false
	res, runErr := ssmexec.Run(ctx, doc, params, ssmexec.Options{
		Clients: clients, BakeKey: key, Tags: map[string]string{matrixTag: marker}, ImageOutput: matrixImageOutput,
		LeaseDuration: 30 * time.Second, CleanupTimeout: time.Minute,
		OnEvent: func(e engine.Event) {
			evMu.Lock()
			events = append(events, fmt.Sprintf("%s %s %s %v", time.Since(began).Round(time.Millisecond), e.Kind, e.Step, e.Fields))
			evMu.Unlock()
			if e.Kind != engine.EventStepStart || e.Step != inserted || c.end != endCancelled || stopped {
				return
			}
			stopped = true
			if c.cancel {
				cancel() // Ctrl-C
				return
			}
			// Someone else stops it (the console, another tool).
			id, _ := e.Fields["execution_id"].(string)
			go stopExecution(t, emu, id)
		},
	})
	rec := recordBake(res, runErr, matrixImageOutput)
	report := func() string {
		evMu.Lock()
		defer evMu.Unlock()
		return fmt.Sprintf("error: %v\nfaults: %+v\nevents:\n  %s", rec.err, inj.Faults(), strings.Join(events, "\n  "))
	}
	injected := inj.Injected()
	if c.op != "" && injected == 0 && c.op != "DeleteDocument" {
		t.Errorf("no fault was injected\n%s", report())
	}
	told := ""
	if rec.err != nil {
		told = bakeErrorDetail(rec.err, res)
	}
	switch {
	case c.end == "" && rec.err != nil:
		t.Errorf("a %s on %s must not fail the bake\n%s", c.kind, c.op, report())
	case c.end != "":
		want := map[string]string{endFailed: engine.StatusFailed, endTimedOut: engine.StatusTimedOut, endCancelled: engine.StatusCancelled}[c.end]
		if rec.err == nil || !strings.Contains(told, fmt.Sprintf("step %q", inserted)) {
			t.Errorf("the error does not name step %s\n%s", inserted, report())
		}
		if sr, ok := stepResult(res, inserted); !ok || sr.Status != want {
			t.Errorf("step %s: status %q, want %s\n%s", inserted, sr.Status, want, report())
		}
	}
	if rec.err == nil {
		products = append(products, rec.imageID)
	}
	instances, images := ssmLeaks(t, marker, products...)
	if len(instances)+len(images) > 0 {
		t.Errorf("the bake left builders %v and images %v\n%s", instances, images, report())
	}
	ssmTally.Lock()
	ssmTally.cases++
	ssmTally.faults += injected
	ssmTally.instances += len(instances)
	ssmTally.images += len(images)
	ssmTally.Unlock()
	tally(injected, leaks{instances: instances, images: images})

	// Related ids for the snapshot scan: the case's builders and images.
	var related []string
	for _, in := range instancesTagged(t, matrixTag, marker) {
		related = append(related, aws.ToString(in.InstanceId))
	}
	for _, p := range products {
		destroyProduct(t, plain, bakeRecord{imageID: p})
		related = append(related, p)
	}
	if os.Getenv("AMIBAKE_MATRIX_TRACE") != "" {
		t.Log(report())
	}
	return snapshotCheck{name: "ssm/" + c.name, marker: marker, related: append(related, images...), tracked: map[string]bool{}, report: report()}
}

// stopExecution stops an execution as someone else would, through the API.
func stopExecution(t *testing.T, emu *acctest.SSMEmulator, id string) {
	c := emulatorSSM(t, emu)
	for range 50 {
		_, err := c.StopAutomationExecution(context.Background(), &ssm.StopAutomationExecutionInput{AutomationExecutionId: aws.String(id)})
		if err == nil || !awsx.IsThrottle(err) {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
}
