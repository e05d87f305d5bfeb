package bench

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

// The benchmark's pipeline runs end to end in the simulated cloud, and bakes
// running together share their waits: fewer API calls per bake than alone.
// Time runs 2000x faster; nothing here depends on how long anything took.
func TestSimulatedBakes(t *testing.T) {
	doc, err := pipelineDoc()
	if err != nil {
		t.Fatal(err)
	}
	s := settings{scale: 2000, seed: 3}
	sc := scenarios()[0]
	amibake := contenders()[0]

	cloud := s.cloud(sc)
	clients := amibake.clients(cloud, nil)
	res, err := engine.Run(context.Background(), doc, map[string]string{"SourceAmiId": sourceImage(0)}, engine.Options{Clients: clients})
	if err != nil {
		t.Fatalf("bake: %v", err)
	}
	image, _ := res.Outputs["image.ImageId"].(string)
	imgs, err := cloud.EC2().DescribeImages(context.Background(), &ec2.DescribeImagesInput{ImageIds: []string{image}})
	if err != nil || len(imgs.Images) != 1 || imgs.Images[0].State != ec2types.ImageStateAvailable {
		t.Fatalf("baked image %q: %+v, %v", image, imgs, err)
	}
	insts, err := cloud.EC2().DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range insts.Reservations {
		for _, i := range r.Instances {
			if i.State.Name != ec2types.InstanceStateNameShuttingDown && i.State.Name != ec2types.InstanceStateNameTerminated {
				t.Errorf("builder %s left %s", aws.ToString(i.InstanceId), i.State.Name)
			}
		}
	}
	alone := cloud.Stats()
	if alone.Calls["SendCommand"] != 1 || alone.Calls["GetCommandInvocation"] != 1 {
		t.Errorf("alone: %s; want the command sent once the agent is online and its invocation read once", alone)
	}

	const bakes = 20
	cloud = s.cloud(sc)
	clients = amibake.clients(cloud, nil)
	var wg sync.WaitGroup
	errs := make(chan error, bakes)
	for i := range bakes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := engine.Run(context.Background(), doc, map[string]string{"SourceAmiId": sourceImage(i)}, engine.Options{Clients: clients})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	together := cloud.Stats()
	perBake := float64(together.TotalCalls()) / bakes
	t.Logf("alone: %d calls; %d together: %.1f calls per bake (%s)", alone.TotalCalls(), bakes, perBake, together)
	if perBake > float64(alone.TotalCalls())/2 {
		t.Errorf("%d bakes together made %.1f calls per bake, alone %d: the waits are not shared", bakes, perBake, alone.TotalCalls())
	}
}
