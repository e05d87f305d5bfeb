package actions

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

// run runs an action with its inputs as the engine hands them over:
// normalised, and coerced to the types the catalogue declares.
func run(t *testing.T, w *world, action string, in map[string]any, outs ...document.StepOutput) (Result, error) {
	t.Helper()
	a, ok := Lookup(action)
	if !ok {
		t.Fatalf("action %s not registered", action)
	}
	spec, _ := document.LookupAction(action)
	coerced := make(map[string]any, len(in))
	for k, v := range in {
		v = document.NormalizeValue(v)
		if is, ok := spec.Input(k); ok {
			var err error
			if v, err = document.Coerce(v, is.Type); err != nil {
				return Result{}, fmt.Errorf("input %s: %w", k, err)
			}
		}
		coerced[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return a.Run(ctx, w.env, &document.Step{Name: "s1", Action: action, Outputs: outs}, coerced)
}

// TestRegistryMatchesCatalog ties the runnable actions to the catalogue: an
// action with an HCL block must be runnable (amibake_image offers the block),
// and a runnable action must have a catalogue entry (validation and rendering
// come from it; an action without a block is written with a step's action and
// inputs).
func TestRegistryMatchesCatalog(t *testing.T) {
	withBlock := map[string]bool{}
	for _, spec := range document.Actions() {
		if spec.Block == "" {
			continue
		}
		withBlock[spec.Name] = true
		if _, ok := Lookup(spec.Name); !ok {
			t.Errorf("%s has the HCL block %s in the catalogue, but no runnable action is registered for it "+
				"(add internal/actions/%s.go, which registers it)", spec.Name, spec.Block, spec.Block)
		}
	}
	for _, name := range Supported() {
		if _, ok := document.LookupAction(name); !ok {
			t.Errorf("%s is registered but not in the catalogue (internal/document/catalog_actions.go)", name)
		}
	}
	if len(withBlock) == 0 || len(Supported()) < len(withBlock) {
		t.Errorf("%d actions registered, %d with a block in the catalogue", len(Supported()), len(withBlock))
	}
	if !sort.StringsAreSorted(Supported()) {
		t.Errorf("Supported() is not sorted: %v", Supported())
	}
}

func TestRunInstances(t *testing.T) {
	t.Run("launches with IMDSv2 and tags, records, waits running", func(t *testing.T) {
		w := newWorld(t)
		res, err := run(t, w, "aws:runInstances", map[string]any{
			"ImageId":          "ami-12c6146b",
			"MaxInstanceCount": int64(2),
			"MinInstanceCount": "2",
			"TagSpecifications": []any{map[string]any{"ResourceType": "instance", "Tags": []any{
				map[string]any{"Key": "Name", "Value": "builder"},
				map[string]any{"Key": "amibake:execution-id", "Value": "spoofed"},
			}}},
			"BlockDeviceMappings": []any{map[string]any{"DeviceName": "/dev/xvda", "Ebs": map[string]any{"VolumeSize": "16", "DeleteOnTermination": "true"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids := res.Outputs["InstanceIds"].([]any)
		if len(ids) != 2 {
			t.Fatalf("InstanceIds = %v", ids)
		}
		if got := res.Outputs["InstanceStates"]; !reflect.DeepEqual(got, []any{"running", "running"}) {
			t.Errorf("InstanceStates = %v", got)
		}
		in := w.input(t, "RunInstances").(*ec2.RunInstancesInput)
		if in.MetadataOptions == nil || in.MetadataOptions.HttpTokens != ec2types.HttpTokensStateRequired {
			t.Errorf("IMDSv2 not required: %+v", in.MetadataOptions)
		}
		if in.InstanceType != "m1.small" || aws.ToInt32(in.MinCount) != 2 || aws.ToInt32(in.MaxCount) != 2 {
			t.Errorf("type=%s min=%d max=%d", in.InstanceType, aws.ToInt32(in.MinCount), aws.ToInt32(in.MaxCount))
		}
		if aws.ToInt32(in.BlockDeviceMappings[0].Ebs.VolumeSize) != 16 || !aws.ToBool(in.BlockDeviceMappings[0].Ebs.DeleteOnTermination) {
			t.Errorf("block device mapping not bound: %+v", in.BlockDeviceMappings[0].Ebs)
		}
		if aws.ToString(in.ClientToken) == "" {
			t.Error("no client token")
		}
		inst := specTags(in.TagSpecifications, ec2types.ResourceTypeInstance)
		vol := specTags(in.TagSpecifications, ec2types.ResourceTypeVolume)
		if inst["Name"] != "builder" || inst["amibake:execution-id"] != "exec-1" || inst["team"] != "platform" {
			t.Errorf("instance tags = %v", inst)
		}
		if vol["amibake:execution-id"] != "exec-1" || vol["Name"] != "" {
			t.Errorf("volume tags = %v", vol)
		}
		recs := w.env.Ledger.Instances()
		if len(recs) != 2 || recs[0].ID != ids[0] || recs[1].ID != ids[1] {
			t.Errorf("ledger = %+v", recs)
		}
		if !w.log.has("instance_id", ids[0].(string)) {
			t.Error("launch not logged with instance_id")
		}
	})

	t.Run("MetadataOptions given are kept", func(t *testing.T) {
		w := newWorld(t)
		if _, err := run(t, w, "aws:runInstances", map[string]any{"ImageId": "ami-1", "MetadataOptions": map[string]any{"HttpTokens": "optional"}}); err != nil {
			t.Fatal(err)
		}
		if got := w.input(t, "RunInstances").(*ec2.RunInstancesInput).MetadataOptions.HttpTokens; got != ec2types.HttpTokensStateOptional {
			t.Errorf("HttpTokens = %s", got)
		}
	})

	t.Run("instance dies while starting: error, still in the ledger", func(t *testing.T) {
		w := newWorld(t)
		w.cloud.FailLaunches("Server.InternalError: Internal error on launch")
		res, err := run(t, w, "aws:runInstances", map[string]any{"ImageId": "ami-1"})
		if err == nil || !strings.Contains(err.Error(), "is terminated while waiting for running") {
			t.Fatalf("err = %v", err)
		}
		if len(w.env.Ledger.Instances()) != 1 || res.Outputs["InstanceIds"] == nil {
			t.Errorf("ledger = %+v, outputs = %v", w.env.Ledger.Instances(), res.Outputs)
		}
	})

	t.Run("answer lost after launch: the instance is found and recorded", func(t *testing.T) {
		w := newWorld(t)
		w.cloud.Inject(faults.LoseResponse("RunInstances", 1, "InternalError", 500))
		_, err := run(t, w, "aws:runInstances", map[string]any{"ImageId": "ami-1"})
		if awsx.ErrorCode(err) != "InternalError" {
			t.Fatalf("err = %v", err)
		}
		if recs := w.env.Ledger.Instances(); len(recs) != 1 {
			t.Errorf("launched instance not recorded: %+v", recs)
		}
	})

	t.Run("refused launch", func(t *testing.T) {
		w := newWorld(t)
		w.cloud.Inject(faults.FailCalls("RunInstances", 1, -1, "InvalidAMIID.NotFound", 400))
		_, err := run(t, w, "aws:runInstances", map[string]any{"ImageId": "ami-nope"})
		if awsx.ErrorCode(err) != "InvalidAMIID.NotFound" || len(w.env.Ledger.Instances()) != 0 {
			t.Fatalf("err = %v ledger = %v", err, w.env.Ledger.Instances())
		}
	})
}

func TestRunCommand(t *testing.T) {
	longErr := ""
	for i := 1; i <= 60; i++ {
		longErr += fmt.Sprintf("stderr line %d\n", i)
	}
	tests := []struct {
		name       string
		notManaged int
		status     ssmtypes.CommandInvocationStatus
		stderr     string
		timeout    time.Duration
		wantErr    []string
		notWant    []string
		wantStatus string
	}{
		{name: "success after the instance becomes managed", notManaged: 3, wantStatus: "Success"},
		{
			name: "failure carries the tail of stderr", status: ssmtypes.CommandInvocationStatusFailed, stderr: longErr,
			wantErr:    []string{"command {cmd} on i-1 ended Failed", "exit code 2", "stderr line 60", "stderr line 41"},
			notWant:    []string{"stderr line 40\n", "stderr line 1\n"},
			wantStatus: "Failed",
		},
		{
			name: "never managed: bounded by the context", notManaged: 1 << 30, timeout: 50 * time.Millisecond,
			wantErr: []string{"never became managed by SSM", "context deadline exceeded", "InvalidInstanceId"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.cloud.AddInstance(simcloud.Instance{ID: "i-1"})
			// Right after SendCommand the invocation is not known yet.
			w.cloud.Inject(faults.FailNth("GetCommandInvocation", 1, "InvocationDoesNotExist", 400))
			if tt.notManaged > 0 {
				w.cloud.Inject(faults.FailCalls("SendCommand", 1, min(tt.notManaged, 1<<20), "InvalidInstanceId", 400))
			}
			outcome := simcloud.Outcome{Status: tt.status, Stdout: "hello\n", Stderr: tt.stderr}
			if tt.status == ssmtypes.CommandInvocationStatusFailed {
				outcome.Code = 2
			}
			w.cloud.EndCommands(outcome)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if tt.timeout > 0 {
				ctx, cancel = context.WithTimeout(context.Background(), tt.timeout)
			}
			defer cancel()
			res, err := runCommand{}.Run(ctx, w.env, &document.Step{Name: "update"}, map[string]any{
				"DocumentName":   "AWS-RunShellScript",
				"InstanceIds":    []any{"i-1"},
				"Parameters":     map[string]any{"commands": []any{"yum -y update", "echo done"}},
				"TimeoutSeconds": int64(600),
			})
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if err == nil {
					t.Fatal("want an error")
				}
				for _, s := range tt.wantErr {
					s = strings.ReplaceAll(s, "{cmd}", fmt.Sprint(res.Outputs["CommandId"]))
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error lacks %q:\n%v", s, err)
					}
				}
				for _, s := range tt.notWant {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error should not contain %q (not a tail)", s)
					}
				}
			}
			if tt.wantStatus != "" && res.Outputs["Status"] != tt.wantStatus {
				t.Errorf("Status = %v", res.Outputs["Status"])
			}
			if sends := w.cloud.Count("SendCommand"); tt.notManaged > 0 && tt.notManaged < 100 && sends != tt.notManaged+1 {
				t.Errorf("SendCommand calls = %d, want %d", sends, tt.notManaged+1)
			}
			if tt.wantStatus == "Success" {
				read := w.input(t, "GetCommandInvocation").(*ssm.GetCommandInvocationInput)
				if res.Outputs["CommandId"] != aws.ToString(read.CommandId) || res.Outputs["Output"] != "hello\n" || res.Outputs["ResponseCode"] != int64(0) {
					t.Errorf("outputs = %v", res.Outputs)
				}
				in := w.input(t, "SendCommand").(*ssm.SendCommandInput)
				if got := in.Parameters["commands"]; !reflect.DeepEqual(got, []string{"yum -y update", "echo done"}) || aws.ToInt32(in.TimeoutSeconds) != 600 {
					t.Errorf("SendCommand input: %v %v", in.Parameters, in.TimeoutSeconds)
				}
			}
			var ce *CommandError
			if tt.status == ssmtypes.CommandInvocationStatusFailed && (!errors.As(err, &ce) || ce.ResponseCode != 2) {
				t.Errorf("want a *CommandError with code 2, got %T", err)
			}
		})
	}
}

func TestChangeInstanceState(t *testing.T) {
	tests := []struct {
		name      string
		in        map[string]any
		wantState ec2types.InstanceStateName
		wantCalls map[string]int
		wantErr   string
	}{
		{name: "stop with force", in: map[string]any{"DesiredState": "stopped", "Force": true}, wantState: ec2types.InstanceStateNameStopped, wantCalls: map[string]int{"StopInstances": 1}},
		{name: "terminate marks the ledger", in: map[string]any{"DesiredState": "terminated"}, wantState: ec2types.InstanceStateNameTerminated, wantCalls: map[string]int{"TerminateInstances": 1}},
		{name: "check only calls nothing", in: map[string]any{"DesiredState": "running", "CheckStateOnly": true}, wantState: ec2types.InstanceStateNameRunning, wantCalls: map[string]int{"StartInstances": 0}},
		{name: "bad state", in: map[string]any{"DesiredState": "hibernated"}, wantErr: "not one of running, stopped, terminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			id := w.launch(t)
			tt.in["InstanceIds"] = []any{id}
			_, err := run(t, w, "aws:changeInstanceState", tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := w.cloud.InstanceState(id); got != tt.wantState {
				t.Errorf("state = %s, want %s", got, tt.wantState)
			}
			for op, n := range tt.wantCalls {
				if got := w.cloud.Count(op); got != n {
					t.Errorf("%s calls = %d, want %d", op, got, n)
				}
			}
			if tt.wantState == ec2types.InstanceStateNameStopped && !aws.ToBool(w.input(t, "StopInstances").(*ec2.StopInstancesInput).Force) {
				t.Error("Force not passed")
			}
			if term := w.env.Ledger.Instances()[0].Terminated; term != (tt.wantState == ec2types.InstanceStateNameTerminated) {
				t.Errorf("ledger terminated = %v", term)
			}
		})
	}
}

func TestChangeInstanceStateRetriesIncorrectState(t *testing.T) {
	w := newWorld(t)
	id := w.launch(t)
	w.cloud.Inject(faults.FailCalls("StartInstances", 1, -1, "IncorrectInstanceState", 400))
	go func() {
		time.Sleep(20 * time.Millisecond)
		w.cloud.ClearFaults()
	}()
	if _, err := run(t, w, "aws:changeInstanceState", map[string]any{"InstanceIds": []any{id}, "DesiredState": "running"}); err != nil {
		t.Fatal(err)
	}
	if n := w.cloud.Count("StartInstances"); n < 2 {
		t.Errorf("StartInstances calls = %d, want retries", n)
	}
}

func TestCreateImage(t *testing.T) {
	t.Run("available, snapshots tagged and recorded", func(t *testing.T) {
		w := newWorld(t)
		inst := w.launch(t)
		res, err := run(t, w, "aws:createImage", map[string]any{"InstanceId": inst, "ImageName": "golden", "NoReboot": true})
		if err != nil {
			t.Fatal(err)
		}
		id := res.Outputs["ImageId"].(string)
		if res.Outputs["ImageState"] != "available" {
			t.Errorf("ImageState = %v", res.Outputs["ImageState"])
		}
		in := w.input(t, "CreateImage").(*ec2.CreateImageInput)
		if !aws.ToBool(in.NoReboot) || len(in.TagSpecifications) != 1 || in.TagSpecifications[0].ResourceType != ec2types.ResourceTypeImage {
			t.Errorf("CreateImage input: noreboot=%v specs=%+v", aws.ToBool(in.NoReboot), in.TagSpecifications)
		}
		recs := w.env.Ledger.Images()
		if len(recs) != 1 || recs[0].ID != id || recs[0].Region != "us-east-1" || len(recs[0].Snapshots) != 1 {
			t.Fatalf("ledger = %+v", recs)
		}
		snap := recs[0].Snapshots[0]
		if tags := w.cloud.Tags(snap); tags["amibake:execution-id"] != "exec-1" {
			t.Errorf("snapshot tags = %v", tags)
		}
		if !w.log.has("image_id", id) {
			t.Error("image not logged")
		}
	})
	t.Run("failed image: error with reason, still in the ledger", func(t *testing.T) {
		w := newWorld(t)
		w.cloud.FailImages("Client.InternalError", "snapshot copy failed")
		_, err := run(t, w, "aws:createImage", map[string]any{"InstanceId": w.launch(t), "ImageName": "golden"})
		if err == nil || !strings.Contains(err.Error(), "is failed: Client.InternalError: snapshot copy failed") {
			t.Fatalf("err = %v", err)
		}
		if len(w.env.Ledger.Images()) != 1 {
			t.Error("failed image not in the ledger")
		}
	})
}

func TestCreateImageLostAnswerIsRecovered(t *testing.T) {
	w := newWorld(t)
	inst := w.launch(t)
	// The same name and this run's tags on an image of another account: not
	// this run's, must not be taken.
	other, _ := w.cloud.AddImage(simcloud.Image{Name: "golden", Owner: "210987654321", Tags: runTags})
	w.cloud.Inject(faults.LoseResponse("CreateImage", 1, "InternalError", 500))
	_, err := run(t, w, "aws:createImage", map[string]any{"InstanceId": inst, "ImageName": "golden"})
	if awsx.ErrorCode(err) != "InternalError" {
		t.Fatalf("err = %v", err)
	}
	recs := w.env.Ledger.Images()
	if len(recs) != 1 || recs[0].ID == other || len(recs[0].Snapshots) != 1 {
		t.Fatalf("ledger = %+v (other run's image %s)", recs, other)
	}
}

func TestCopyImage(t *testing.T) {
	w := newWorld(t)
	w.cloud.DropCopyTags() // as some EC2 implementations do
	src, _ := w.image(t, nil)
	res, err := run(t, w, "aws:copyImage", map[string]any{"SourceRegion": "eu-west-1", "SourceImageId": src, "ImageName": "copy", "Encrypted": true})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Outputs["ImageId"].(string)
	if res.Outputs["ImageState"] != "available" || id == src {
		t.Errorf("outputs = %v", res.Outputs)
	}
	in := w.input(t, "CopyImage").(*ec2.CopyImageInput)
	if aws.ToString(in.SourceRegion) != "eu-west-1" || !aws.ToBool(in.Encrypted) || len(in.TagSpecifications) != 2 {
		t.Errorf("CopyImage input = %+v", in)
	}
	if tags := w.cloud.Tags(id); tags["amibake:managed"] != "true" {
		t.Errorf("copy not tagged after the fact: %v", tags)
	}
	if recs := w.env.Ledger.Images(); len(recs) != 1 || recs[0].ID != id || recs[0].Region != "us-east-1" {
		t.Errorf("ledger = %+v", recs)
	}
}

func TestDeleteImage(t *testing.T) {
	w := newWorld(t)
	id, snap := w.image(t, nil)
	w.env.Ledger.RecordImage("us-east-1", id)
	if _, err := run(t, w, "aws:deleteImage", map[string]any{"ImageId": id}); err != nil {
		t.Fatal(err)
	}
	if w.has(id) {
		t.Error("image still registered")
	}
	if w.has(snap) {
		t.Error("snapshot still there")
	}
	if !w.env.Ledger.Images()[0].Deleted {
		t.Error("ledger not updated")
	}
	if _, err := run(t, w, "aws:deleteImage", map[string]any{"ImageId": id}); err != nil {
		t.Errorf("deleting again should succeed: %v", err)
	}
}

func TestCreateTags(t *testing.T) {
	w := newWorld(t)
	id := w.launch(t)
	tags := []any{map[string]any{"Key": "Stage", "Value": "baked"}}
	if _, err := run(t, w, "aws:createTags", map[string]any{"ResourceIds": []any{id}, "Tags": tags}); err != nil {
		t.Fatal(err)
	}
	if tags := w.cloud.Tags(id); tags["Stage"] != "baked" {
		t.Errorf("tags = %v", tags)
	}
	if _, err := run(t, w, "aws:createTags", map[string]any{"ResourceIds": []any{"mi-1", "mi-2"}, "Tags": tags, "ResourceType": "ManagedInstance"}); err != nil {
		t.Fatal(err)
	}
	tagged := w.cloud.Calls("AddTagsToResource")
	if len(tagged) != 2 {
		t.Fatalf("ssm tagging = %+v", tagged)
	}
	if in := tagged[1].Input.(*ssm.AddTagsToResourceInput); in.ResourceType != ssmtypes.ResourceTypeForTaggingManagedInstance || aws.ToString(in.Tags[0].Key) != "Stage" {
		t.Errorf("ssm tagging = %+v", in)
	}
	if _, err := run(t, w, "aws:createTags", map[string]any{"ResourceIds": []any{id}, "Tags": tags, "ResourceType": "Bucket"}); err == nil {
		t.Error("unknown ResourceType accepted")
	}
}

func TestInvokeLambdaFunction(t *testing.T) {
	tests := []struct {
		name        string
		in          map[string]any
		out         *lambda.InvokeOutput
		wantPayload string
		wantErr     string
	}{
		{
			name:        "InputPayload wins over Payload",
			in:          map[string]any{"FunctionName": "f", "InputPayload": map[string]any{"ami": "ami-1"}, "Payload": `{"ignored":true}`},
			out:         &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"ok":true}`)},
			wantPayload: `{"ami":"ami-1"}`,
		},
		{
			name:        "Payload text",
			in:          map[string]any{"FunctionName": "f", "Payload": `{"a":1}`, "LogType": "Tail"},
			out:         &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{}`), LogResult: aws.String("bG9n")},
			wantPayload: `{"a":1}`,
		},
		{
			name:    "function error fails the step with its payload",
			in:      map[string]any{"FunctionName": "f"},
			out:     &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"), Payload: []byte(`{"errorMessage":"boom"}`)},
			wantErr: `lambda function f failed (Unhandled): {"errorMessage":"boom"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.cloud.OnInvoke(func(*lambda.InvokeInput) (*lambda.InvokeOutput, error) { return tt.out, nil })
			res, err := run(t, w, "aws:invokeLambdaFunction", tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if sent := w.input(t, "Invoke").(*lambda.InvokeInput).Payload; tt.wantPayload != "" && string(sent) != tt.wantPayload {
				t.Errorf("sent payload %s, want %s", sent, tt.wantPayload)
			}
			if res.Outputs["StatusCode"] != int64(200) || res.Outputs["Payload"] != string(tt.out.Payload) ||
				res.Outputs["FunctionError"] != aws.ToString(tt.out.FunctionError) || res.Outputs["LogResult"] != aws.ToString(tt.out.LogResult) {
				t.Errorf("outputs = %v", res.Outputs)
			}
		})
	}
}

func TestInvokeLambdaFunctionUserOutputs(t *testing.T) {
	w := newWorld(t)
	w.cloud.OnInvoke(func(*lambda.InvokeInput) (*lambda.InvokeOutput, error) {
		return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"ami":{"id":"ami-9"},"count":3}`)}, nil
	})
	res, err := run(t, w, "aws:invokeLambdaFunction", map[string]any{"FunctionName": "f"},
		document.StepOutput{Name: "Ami", Selector: "$.Payload.ami.id", Type: "String"},
		document.StepOutput{Name: "Count", Selector: "$.Payload.count", Type: "Integer"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["Ami"] != "ami-9" || res.Outputs["Count"] != int64(3) || res.Outputs["StatusCode"] != int64(200) {
		t.Errorf("outputs = %v", res.Outputs)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"PT10M", 10 * time.Minute, false},
		{"PT1.5S", 1500 * time.Millisecond, false},
		{"P1DT2H", 26 * time.Hour, false},
		{"P1W", 7 * 24 * time.Hour, false},
		{"pt30s", 30 * time.Second, false},
		{"PT1H30M5S", time.Hour + 30*time.Minute + 5*time.Second, false},
		{"P1M", 0, true},
		{"P1Y", 0, true},
		{"PT", 0, true},
		{"P", 0, true},
		{"10m", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestSleep(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      map[string]any
		want    time.Duration
		wantErr string
	}{
		{in: map[string]any{"Duration": "PT2M"}, want: 2 * time.Minute},
		{in: map[string]any{"Timestamp": "2024-01-01T12:30:00Z"}, want: 30 * time.Minute},
		{in: map[string]any{"Timestamp": "2023-12-31T00:00:00Z"}, want: -36 * time.Hour},
		{in: map[string]any{"Duration": "P8D"}, wantErr: "7 day limit"},
		{in: map[string]any{}, wantErr: "Duration or Timestamp is required"},
		{in: map[string]any{"Duration": "PT1S", "Timestamp": "2024-01-01T12:30:00Z"}, wantErr: "not both"},
		{in: map[string]any{"Timestamp": "tomorrow"}, wantErr: "ISO 8601 time"},
	}
	for _, tt := range tests {
		got, err := sleepDuration(tt.in, now)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: err = %v", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%v: %v, %v", tt.in, got, err)
		}
	}

	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := sleep{}.Run(ctx, w.env, &document.Step{Name: "s"}, map[string]any{"Duration": "PT10M"})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("sleep did not honour the context: %v after %s", err, time.Since(start))
	}
	start = time.Now()
	if _, err := run(t, w, "aws:sleep", map[string]any{"Duration": "PT0.02S"}); err != nil || time.Since(start) < 20*time.Millisecond {
		t.Errorf("short sleep: %v after %s", err, time.Since(start))
	}
}

func TestBranch(t *testing.T) {
	choice := func(op string, variable, value any) map[string]any {
		return map[string]any{"NextStep": "hit", "Variable": variable, op: value}
	}
	tests := []struct {
		name    string
		choice  map[string]any
		want    string // "hit" or "default"
		wantErr string
	}{
		{"StringEquals", choice("StringEquals", "Linux", "Linux"), "hit", ""},
		{"StringEquals miss", choice("StringEquals", "Linux", "linux"), "default", ""},
		{"EqualsIgnoreCase", choice("EqualsIgnoreCase", "Linux", "LINUX"), "hit", ""},
		{"StartsWith", choice("StartsWith", "ami-123", "ami-"), "hit", ""},
		{"EndsWith", choice("EndsWith", "image.raw", ".vhd"), "default", ""},
		{"Contains string", choice("Contains", "al2023-ami-kernel", "kernel"), "hit", ""},
		{"Contains list", choice("Contains", []any{"a", "b", "c"}, "b"), "hit", ""},
		{"one-element list is its element", choice("StringEquals", []any{"running"}, "running"), "hit", ""},
		{"NumericEquals", choice("NumericEquals", int64(3), "3"), "hit", ""},
		{"NumericGreater", choice("NumericGreater", "10", int64(9)), "hit", ""},
		{"NumericLesser", choice("NumericLesser", 2.5, int64(2)), "default", ""},
		{"NumericGreaterOrEquals", choice("NumericGreaterOrEquals", int64(5), int64(5)), "hit", ""},
		{"NumericLesserOrEquals", choice("NumericLesserOrEquals", int64(6), int64(5)), "default", ""},
		{"BooleanEquals", choice("BooleanEquals", "true", true), "hit", ""},
		{"And", map[string]any{"NextStep": "hit", "And": []any{
			map[string]any{"Variable": "a", "StringEquals": "a"},
			map[string]any{"Variable": int64(1), "NumericEquals": int64(1)},
		}}, "hit", ""},
		{"And one false", map[string]any{"NextStep": "hit", "And": []any{
			map[string]any{"Variable": "a", "StringEquals": "a"},
			map[string]any{"Variable": "b", "StringEquals": "a"},
		}}, "default", ""},
		{"Or", map[string]any{"NextStep": "hit", "Or": []any{
			map[string]any{"Variable": "b", "StringEquals": "a"},
			map[string]any{"Variable": "b", "StringEquals": "b"},
		}}, "hit", ""},
		{"Not", map[string]any{"NextStep": "hit", "Not": map[string]any{"Variable": "Windows", "StringEquals": "Linux"}}, "hit", ""},
		{"numeric on text", choice("NumericEquals", "abc", int64(1)), "", "want a number"},
		{"no operator", map[string]any{"NextStep": "hit", "Variable": "x"}, "", "no operator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			res, err := run(t, w, "aws:branch", map[string]any{"Choices": []any{tt.choice}, "Default": "default"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.NextStep != tt.want {
				t.Errorf("NextStep = %q, want %q", res.NextStep, tt.want)
			}
		})
	}
	w := newWorld(t)
	_, err := run(t, w, "aws:branch", map[string]any{"Choices": []any{choice("StringEquals", "a", "b")}})
	if err == nil || !strings.Contains(err.Error(), "no choice matched and there is no Default") {
		t.Errorf("err = %v", err)
	}
	res, err := run(t, w, "aws:branch", map[string]any{"Choices": []any{
		map[string]any{"NextStep": "first", "Variable": "x", "StringEquals": "y"},
		map[string]any{"NextStep": "second", "Variable": "x", "StringEquals": "x"},
		map[string]any{"NextStep": "third", "Variable": "x", "StringEquals": "x"},
	}})
	if err != nil || res.NextStep != "second" {
		t.Errorf("first matching choice should win: %q %v", res.NextStep, err)
	}
}

func TestExecuteAwsAPI(t *testing.T) {
	w := newWorld(t)
	id, snap := w.image(t, map[string]string{"Name": "golden"})
	outs := []document.StepOutput{
		{Name: "State", Selector: "$.Images[0].State", Type: "String"},
		{Name: "Snapshots", Selector: "$.Images[*].BlockDeviceMappings[*].Ebs.SnapshotId", Type: "StringList"},
		{Name: "Count", Selector: "$.Images.length()", Type: "Integer"},
		{Name: "Name", Selector: "Images[0].Name"},
	}
	res, err := run(t, w, "aws:executeAwsApi", map[string]any{"Service": "ec2", "Api": "DescribeImages", "ImageIds": []any{id}}, outs[:2]...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["State"] != "available" || !reflect.DeepEqual(res.Outputs["Snapshots"], []any{snap}) {
		t.Errorf("outputs = %v", res.Outputs)
	}
	res, err = run(t, w, "aws:executeAwsApi", map[string]any{"Service": "EC2", "Api": "describe_images", "ImageIds": []any{id}}, outs[3])
	if img, _ := w.cloud.Image(id); err != nil || res.Outputs["Name"] != aws.ToString(img.Name) {
		t.Errorf("snake_case api / bare selector: %v %v", res.Outputs, err)
	}

	errs := []struct {
		in   map[string]any
		want string
	}{
		{map[string]any{"Service": "s3", "Api": "ListBuckets"}, `"s3" is not supported here (supported: ec2, lambda, ssm)`},
		{map[string]any{"Service": "ec2", "Api": "DescribeUnicorns"}, `ec2 has no API "DescribeUnicorns"`},
		{map[string]any{"Service": "ec2", "Api": "DescribeImages", "ImageIdz": []any{id}}, `unknown field "ImageIdz"`},
		{map[string]any{"Service": "ec2", "Api": "DeregisterImage", "ImageId": "ami-nope"}, "InvalidAMIID.NotFound"},
	}
	for _, e := range errs {
		_, err := run(t, w, "aws:executeAwsApi", e.in)
		if err == nil || !strings.Contains(err.Error(), e.want) {
			t.Errorf("%v: err = %v, want %q", e.in, err, e.want)
		}
	}
	_, err = run(t, w, "aws:executeAwsApi", map[string]any{"Service": "ec2", "Api": "DescribeImages", "ImageIds": []any{id}},
		document.StepOutput{Name: "X", Selector: "$.Images[5].State"})
	if err == nil || !strings.Contains(err.Error(), "matched nothing") {
		t.Errorf("empty selection: %v", err)
	}
}

func TestWaitAndAssertAwsResourceProperty(t *testing.T) {
	w := newWorld(t)
	inst := w.launch(t)
	// A pending image becomes available when the assertion has seen it pending.
	id, _ := w.cloud.AddImage(simcloud.Image{State: ec2types.ImageStatePending})
	w.cloud.Before("DescribeImages", func(n int, _ any) {
		if n == 2 {
			w.cloud.SetImageState(id, ec2types.ImageStateAvailable, nil)
		}
	})
	in := map[string]any{"Service": "ec2", "Api": "DescribeImages", "ImageIds": []any{id},
		"PropertySelector": "$.Images[0].State", "DesiredValues": []any{"available"}}

	if _, err := run(t, w, "aws:assertAwsResourceProperty", in); err == nil || !strings.Contains(err.Error(), `is "pending", not one of available`) {
		t.Fatalf("assert on pending: %v", err)
	}
	if _, err := run(t, w, "aws:waitForAwsResourceProperty", in); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, w, "aws:assertAwsResourceProperty", in); err != nil {
		t.Fatalf("assert on available: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
	defer cancel()
	_, err := waitForAwsResourceProperty{}.Run(ctx, w.env, &document.Step{}, map[string]any{
		"Service": "ec2", "Api": "DescribeInstances", "InstanceIds": []any{inst},
		"PropertySelector": "$.Reservations[0].Instances[0].State.Name", "DesiredValues": []any{"stopped"},
	})
	if err == nil || !strings.Contains(err.Error(), `is "running", waiting for one of stopped`) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait timeout: %v", err)
	}
}

func TestBindIsLenient(t *testing.T) {
	var bdm []ec2types.BlockDeviceMapping
	err := bind(&bdm, []any{map[string]any{"deviceName": "/dev/sda1", "Ebs": map[string]any{"VolumeSize": "30", "VolumeType": "gp3", "Encrypted": "true", "Iops": 3000.0}}}, "BlockDeviceMappings")
	if err != nil {
		t.Fatal(err)
	}
	e := bdm[0].Ebs
	if aws.ToString(bdm[0].DeviceName) != "/dev/sda1" || aws.ToInt32(e.VolumeSize) != 30 || e.VolumeType != ec2types.VolumeTypeGp3 || !aws.ToBool(e.Encrypted) || aws.ToInt32(e.Iops) != 3000 {
		t.Errorf("bound %+v %+v", bdm[0], e)
	}
	var in ec2.DescribeImagesInput
	if err := bind(&in, map[string]any{"Owners": "self"}, ""); err != nil || !reflect.DeepEqual(in.Owners, []string{"self"}) {
		t.Errorf("scalar into list: %v %v", in.Owners, err)
	}
	var n int32
	if err := bind(&n, "1.5", "Count"); err == nil {
		t.Error("1.5 accepted as an integer")
	}
}

func TestLedgerAndCleanup(t *testing.T) {
	w := newWorld(t)
	live := w.launch(t)
	gone := w.launch(t)
	w.cloud.Remove(gone) // terminated and purged by someone else
	done := w.launch(t)
	w.env.Ledger.InstanceTerminated(done)

	img, snap := w.image(t, nil)
	w.env.Ledger.RecordImage("us-east-1", img)
	w.env.Ledger.RecordSnapshots(img, []string{snap})
	keep, keepSnap := w.image(t, nil)
	w.env.Ledger.RecordImage("us-east-1", keep)
	other, otherSnap := w.image(t, nil)
	w.env.Ledger.RecordImage("eu-west-1", other)
	w.cloud.Inject(faults.FailCalls("DeleteSnapshot", 1, -1, "UnauthorizedOperation", 403).Only(faults.Naming(otherSnap)))
	vanished := "ami-vanished"
	w.env.Ledger.RecordImage("us-east-1", vanished)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep, err := Cleanup(ctx, w.env, CleanupOptions{TerminateInstances: true, DeleteImages: true, KeepImageIDs: []string{keep}})

	if st := w.cloud.InstanceState(live); st != ec2types.InstanceStateNameTerminated {
		t.Errorf("live instance not terminated: %s", st)
	}
	if !reflect.DeepEqual(sorted(rep.Terminated), sorted([]string{live, gone})) {
		t.Errorf("Terminated = %v (already-gone counts as done; already-terminated is not retried)", rep.Terminated)
	}
	for _, id := range []string{img, other, vanished} {
		if w.has(id) {
			t.Errorf("image %s still registered", id)
		}
	}
	if !w.has(keep) {
		t.Error("kept image removed")
	}
	if w.has(snap) {
		t.Error("snapshot not deleted")
	}
	if !w.has(keepSnap) {
		t.Error("kept image's snapshot deleted")
	}
	if len(rep.Failures) != 1 || rep.Failures[0].ID != otherSnap || rep.Failures[0].Kind != "snapshot" || rep.Failures[0].Region != "eu-west-1" {
		t.Fatalf("Failures = %+v", rep.Failures)
	}
	if err == nil || !strings.Contains(err.Error(), otherSnap) || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Errorf("err = %v", err)
	}
	if l := rep.Leftovers(); len(l) != 1 || !strings.HasPrefix(l[0], "snapshot "+otherSnap+" in eu-west-1: ") {
		t.Errorf("Leftovers = %v", l)
	}
	regions := map[string]bool{}
	for _, c := range w.cloud.Calls("DeregisterImage") {
		regions[c.Region] = true
	}
	if !regions["eu-west-1"] || !regions[""] {
		t.Errorf("deregistrations by region = %v; the eu-west-1 image must be deregistered there", regions)
	}
	for _, r := range w.env.Ledger.Instances() {
		if !r.Terminated {
			t.Errorf("ledger: %s not marked terminated", r.ID)
		}
	}
	for _, r := range w.env.Ledger.Images() {
		if want := r.ID == img || r.ID == vanished; r.Deleted != want {
			t.Errorf("ledger: image %s Deleted = %v", r.ID, r.Deleted)
		}
	}

	// A second cleanup has nothing left to do but the failed snapshot.
	w.cloud.ClearFaults()
	rep, err = Cleanup(ctx, w.env, CleanupOptions{TerminateInstances: true, DeleteImages: true, KeepImageIDs: []string{keep}})
	if err != nil || len(rep.Terminated) != 0 || !reflect.DeepEqual(rep.DeletedSnapshots, []string{otherSnap}) {
		t.Errorf("second cleanup: %+v %v", rep, err)
	}
}

func TestCleanupReportsUnterminatable(t *testing.T) {
	w := newWorld(t)
	ok := w.launch(t)
	stuck := w.launch(t)
	w.cloud.Inject(faults.FailCalls("TerminateInstances", 1, -1, "OperationNotPermitted", 400).Only(faults.Naming(stuck)))
	rep, err := Cleanup(context.Background(), w.env, CleanupOptions{TerminateInstances: true})
	if err == nil || len(rep.Failures) != 1 || rep.Failures[0].ID != stuck || awsx.ErrorCode(rep.Failures[0].Err) != "OperationNotPermitted" {
		t.Fatalf("rep = %+v err = %v", rep, err)
	}
	if !reflect.DeepEqual(rep.Terminated, []string{ok}) {
		t.Errorf("Terminated = %v", rep.Terminated)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
