package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
	"github.com/amibake/terraform-provider-amibake/internal/ssmexec"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
)

// More bakes than the account's concurrency quota: with a queue, SSM holds
// the extra executions as Pending; with the queue full, a start answers
// AutomationExecutionLimitExceededException, and the follower tries again
// until a slot frees, in the order the bakes asked. Every bake succeeds.
func TestAccSSMQueue(t *testing.T) {
	testAccPreCheck(t)
	ensureInstanceProfile(t, builderProfile)
	for _, tc := range []struct {
		name string
		args []string
		want string // a log message every run must show at least once
	}{
		{"pending", []string{"-max-concurrent", "1"}, "queued"},
		{"limit-exceeded", []string{"-max-concurrent", "1", "-max-queued", "-1"}, "AutomationExecutionLimitExceededException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu := acctest.StartSSMEmulator(t, testMoto, tc.args...)
			clients := ssmMatrixClients(t, emu, nil)
			doc, err := document.ParseText(fmt.Sprintf(`{"schemaVersion": "0.3", "mainSteps": [
  {"name": "launch", "action": "aws:runInstances", "inputs": {"ImageId": %q, "IamInstanceProfileName": %q}},
  {"name": "image", "action": "aws:createImage", "inputs": {"InstanceId": "{{ launch.InstanceIds }}", "ImageName": "q-{{ automation:EXECUTION_ID }}"}},
  {"name": "pause", "action": "aws:sleep", "inputs": {"Duration": "PT2S"}},
  {"name": "terminate", "action": "aws:changeInstanceState", "inputs": {"InstanceIds": ["{{ launch.InstanceIds }}"], "DesiredState": "terminated"}}
]}`, sourceAMI, builderProfile))
			if err != nil {
				t.Fatal(err)
			}
			api, _ := clients.Raw["ssm"].(ssmexec.API)
			f := ssmexec.NewFollower(api, ssmexec.FollowerOptions{LimitBackoff: 300 * time.Millisecond})
			marker := fmt.Sprintf("ssm-queue-%s-%d", tc.name, testRunID())
			const bakes = 3
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				logs  []string
				order []string // execution ids as they started
				prods []string
			)
			// asked[i] closes once bake i has asked for its start (it
			// started, was queued or was refused for the limit): the next
			// bake asks only then, so "the order they asked" does not depend
			// on how fast a busy machine schedules the goroutines.
			asked := make([]chan struct{}, bakes)
			for i := range asked {
				asked[i] = make(chan struct{})
			}
			var askedOnce [bakes]sync.Once
			for i := range bakes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := ssmexec.Run(context.Background(), doc, nil, ssmexec.Options{
						Clients: clients, BakeKey: fmt.Sprintf("%s-%d", marker, i), Tags: map[string]string{matrixTag: marker},
						ImageOutput: "image.ImageId", Follower: f,
						OnEvent: func(e engine.Event) {
							mu.Lock()
							defer mu.Unlock()
							msg, _ := e.Fields["message"].(string)
							logs = append(logs, fmt.Sprintf("bake %d: %s %v", i, msg, e.Fields))
							if msg == "started SSM Automation execution" {
								order = append(order, fmt.Sprintf("%d", i))
							}
							if msg == "started SSM Automation execution" || strings.Contains(fmt.Sprint(e.Fields), tc.want) {
								askedOnce[i].Do(func() { close(asked[i]) })
							}
						},
					})
					if err != nil {
						t.Errorf("bake %d failed: %v", i, err)
						return
					}
					mu.Lock()
					prods = append(prods, recordBake(res, nil, "image.ImageId").imageID)
					mu.Unlock()
				}()
				select {
				case <-asked[i]:
				case <-time.After(time.Minute):
					t.Fatalf("bake %d did not ask for its start within a minute", i)
				}
			}
			wg.Wait()
			all := strings.Join(logs, "\n")
			if !strings.Contains(all, tc.want) {
				t.Errorf("no bake logged %q:\n%s", tc.want, all)
			}
			if !slices.Equal(order, []string{"0", "1", "2"}) {
				t.Errorf("bakes started in the order %v, want the order they asked", order)
			}
			if instances, images := ssmLeaks(t, marker, prods...); len(instances)+len(images) > 0 {
				t.Errorf("builders %v and images %v left", instances, images)
			}
			for _, p := range prods {
				destroyProduct(t, clients, bakeRecord{imageID: p})
			}
		})
	}
}
