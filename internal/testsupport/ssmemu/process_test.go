package ssmemu_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
)

// The test binary doubles as a client that starts an execution and then
// hangs until it is killed: SSMEMU_TEST_CLIENT=endpoint,document.
const clientModeEnv = "SSMEMU_TEST_CLIENT"

func clientMain() int {
	endpoint, doc, _ := strings.Cut(os.Getenv(clientModeEnv), ",")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := ssmClient(endpoint, 0).StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String(doc)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(aws.ToString(out.AutomationExecutionId))
	select {} // until killed
}

// slowBakeDocument bakes after a pause, so that the client is gone while the
// execution runs.
const slowBakeDocument = `{
  "schemaVersion": "0.3",
  "mainSteps": [
    {"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"}},
    {"name": "pause", "action": "aws:sleep", "inputs": {"Duration": "PT3S"}},
    {"name": "createImage", "action": "aws:createImage",
     "inputs": {"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "emu-{{ automation:EXECUTION_ID }}"}},
    {"name": "terminate", "action": "aws:changeInstanceState",
     "inputs": {"InstanceIds": "{{ launch.InstanceIds }}", "DesiredState": "terminated"}}
  ],
  "outputs": ["createImage.ImageId"]
}`

// The emulator as a user runs it: its own process next to moto_server. A
// client process starts an execution and is killed; the execution still
// runs to its end in the emulator.
func TestCommandOutlivesItsClient(t *testing.T) {
	m := moto(t)
	bin := filepath.Join(t.TempDir(), "ssm-automation-emulator")
	build := exec.Command(goTool(t), "build", "-o", bin, "./tools/ssm-automation-emulator")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the command: %v\n%s", err, out)
	}

	emu := exec.Command(bin, "-moto", m.Endpoint(), "-listen", "127.0.0.1:0", "-no-throttle", "-exit-with-stdin")
	stdin, err := emu.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := emu.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	log := &acctest.SyncBuffer{}
	emu.Stderr = log
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the command exits when its standard input closes
		done := make(chan struct{})
		go func() { _ = emu.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = emu.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("emulator log:\n%s", log.String())
		}
	})
	url := readListening(t, stdout)

	e := &env{t: t, url: url, ssm: ssmClient(url, 0), ec2: ec2.NewFromConfig(awsConfig(), func(o *ec2.Options) { o.BaseEndpoint = aws.String(url) })}
	doc := e.createDocument(slowBakeDocument)

	client := exec.Command(os.Args[0], "-test.run", "^$")
	client.Env = append(os.Environ(), clientModeEnv+"="+url+","+doc)
	clientOut, err := client.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	client.Stderr = os.Stderr
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(clientOut).ReadString('\n')
	if err != nil {
		_ = client.Process.Kill()
		_ = client.Wait()
		t.Fatalf("the client printed no execution id: %v", err)
	}
	id := strings.TrimSpace(line)
	if err := client.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = client.Wait()
	if st := e.get(id).AutomationExecutionStatus; st == ssmtypes.AutomationExecutionStatusSuccess {
		t.Fatalf("the execution ended before its client was killed; the test proves nothing")
	}

	x := e.waitEnd(id)
	if x.AutomationExecutionStatus != ssmtypes.AutomationExecutionStatusSuccess {
		t.Fatalf("status %s: %s", x.AutomationExecutionStatus, aws.ToString(x.FailureMessage))
	}
	image := x.Outputs["createImage.ImageId"][0]
	imgs, err := e.ec2.DescribeImages(e.ctx(), &ec2.DescribeImagesInput{ImageIds: []string{image}})
	if err != nil || len(imgs.Images) != 1 {
		t.Errorf("image %s in moto: %v %+v", image, err, imgs)
	}
}

func readListening(t *testing.T, stdout io.Reader) string {
	t.Helper()
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
	}()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
		if !ok {
			t.Fatalf("the emulator printed %q", line)
		}
		return url
	case <-time.After(time.Minute):
		t.Fatal("the emulator did not say where it listens within a minute")
	}
	return ""
}

// goTool is the go command that runs this test, found on PATH.
func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("building the command needs the go tool on PATH: %v", err)
	}
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// repoRoot is the module root, three levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(wd, "..", "..", "..")
	if !fileExists(filepath.Join(root, "go.mod")) {
		t.Fatalf("no go.mod at %s", root)
	}
	return root
}
