package provider

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
)

// TestAccImage_invokeWebhook calls an Automation webhook integration kept in
// the emulator's Parameter Store; the webhook is a server in this test.
func TestAccImage_invokeWebhook(t *testing.T) {
	testAccPreCheck(t) // the setup below needs the emulator
	run := fmt.Sprint(testRunID())
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if r.Header.Get("X-Token") != "t0ken" {
			http.Error(rw, "who are you", http.StatusUnauthorized)
			return
		}
		_, _ = rw.Write([]byte("received"))
	}))
	defer srv.Close()
	integration := "baked-" + run
	c := testClients(t)
	_, err := c.Raw["ssm"].(*ssm.Client).PutParameter(context.Background(), &ssm.PutParameterInput{
		// moto refuses the aws:ssm:integration data type AWS gives these.
		Name: aws.String(actions.WebhookIntegrationPrefix + integration), Type: ssmtypes.ParameterTypeSecureString,
		Value: aws.String(fmt.Sprintf(`{"description": "test", "url": %q, "headers": {"X-Token": "t0ken"}}`, srv.URL+"/hook")),
	})
	if err != nil {
		t.Fatalf("PutParameter: %v", err)
	}
	var executions []string
	doc := vocabDoc("hook-{{ RunId }}", "", fmt.Sprintf(`
    {"name": "notify", "action": "aws:invokeWebhook", "inputs": {"IntegrationName": %q, "Body": "{\"text\": \"builder {{ launch.InstanceIds }} ready\"}"}}`, integration))
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkImagesDestroyed(t, &executions),
		Steps: []resource.TestStep{{
			Config: markedImage("hook-"+run, docFile(t, doc), fmt.Sprintf(`{ RunId = %q }`, run)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("amibake_image.vocab", tfjsonpath.New("step_outputs").AtMapKey("notify.Response"), knownvalue.StringExact("received")),
				statecheck.ExpectKnownValue("amibake_image.vocab", tfjsonpath.New("step_outputs").AtMapKey("notify.ResponseCode"), knownvalue.StringExact("200")),
			},
			Check: resource.ComposeTestCheckFunc(
				rememberExecution("amibake_image.vocab", &executions),
				func(*terraform.State) error {
					mu.Lock()
					defer mu.Unlock()
					if len(bodies) != 1 || !strings.Contains(bodies[0], `"text": "builder i-`) {
						return fmt.Errorf("the webhook received %q", bodies)
					}
					return nil
				},
			),
		}},
	})
}

// setMotoConfig changes the emulator's behaviour (POST /moto-api/config).
func setMotoConfig(t *testing.T, body string) {
	t.Helper()
	resp, err := http.Post(testMoto.Endpoint()+"/moto-api/config", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("moto config: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("moto config: HTTP %d", resp.StatusCode)
	}
}

// TestAccImage_executeStateMachine runs a Step Functions state machine of
// the emulator (which executes it) and hands its output on.
func TestAccImage_executeStateMachine(t *testing.T) {
	testAccPreCheck(t) // the setup below needs the emulator
	run := fmt.Sprint(testRunID())
	setMotoConfig(t, `{"stepfunctions": {"execute_state_machine": true}}`)
	c := testClients(t)
	sm, err := c.Raw["sfn"].(*sfn.Client).CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name:       aws.String("vocab-" + run),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/states"),
		Definition: aws.String(`{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"answer": 42}, "End": true}}}`),
	})
	if err != nil {
		t.Fatalf("CreateStateMachine: %v", err)
	}
	var executions []string
	doc := vocabDoc("sfn-{{ RunId }}", "", fmt.Sprintf(`
    {"name": "workflow", "action": "aws:executeStateMachine", "timeoutSeconds": 60, "inputs": {"stateMachineArn": %q, "input": "{\"from\": \"{{ launch.InstanceIds }}\"}"}}`,
		aws.ToString(sm.StateMachineArn)))
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkImagesDestroyed(t, &executions),
		Steps: []resource.TestStep{{
			Config: markedImage("sfn-"+run, docFile(t, doc), fmt.Sprintf(`{ RunId = %q }`, run)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("amibake_image.vocab", tfjsonpath.New("step_outputs").AtMapKey("workflow.status"), knownvalue.StringExact("SUCCEEDED")),
				statecheck.ExpectKnownValue("amibake_image.vocab", tfjsonpath.New("step_outputs").AtMapKey("workflow.output"), knownvalue.StringRegexp(regexp.MustCompile(`"answer":\s*42`))),
			},
			Check: rememberExecution("amibake_image.vocab", &executions),
		}},
	})
}
