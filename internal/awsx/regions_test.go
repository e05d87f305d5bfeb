package awsx_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// regionalEC2 lists one available image per region, named after it, and
// counts the DescribeImages calls each region gets.
type regionalEC2 struct {
	awsx.EC2API
	mu    sync.Mutex
	calls map[string]int
}

func (r *regionalEC2) DescribeImages(_ context.Context, in *ec2.DescribeImagesInput, opts ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	o := ec2.Options{Region: "home-1"}
	for _, f := range opts {
		f(&o)
	}
	r.mu.Lock()
	r.calls[o.Region]++
	r.mu.Unlock()
	out := &ec2.DescribeImagesOutput{}
	for _, id := range in.Filters[0].Values {
		if id == "ami-"+o.Region {
			out.Images = append(out.Images, ec2types.Image{ImageId: aws.String(id), State: ec2types.ImageStateAvailable})
		}
	}
	return out, nil
}

// Images of another region are described there, by one watcher per region
// that every caller shares.
func TestImagesIn(t *testing.T) {
	api := &regionalEC2{calls: map[string]int{}}
	c := &awsx.Clients{EC2: api, Region: "home-1", Policy: fast(time.Millisecond)}
	c.NewWatchers()
	if c.ImagesIn("") != c.Images || c.ImagesIn("home-1") != c.Images {
		t.Error("the clients' own region must use their image watcher")
	}
	far2 := c.ImagesIn("far-2")
	if c.ImagesIn("far-2") != far2 || far2 == c.ImagesIn("far-3") {
		t.Error("want one watcher per region, shared")
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.ImagesIn("far-2").Describe(context.Background(), []string{"ami-far-2", "ami-home-1"})
			if err != nil || len(got) != 1 {
				t.Errorf("Describe in far-2 = %v, %v; want the far-2 image only", got, err)
			}
		}()
	}
	wg.Wait()
	if _, err := c.ImagesIn("far-3").WaitAvailable(context.Background(), []string{"ami-far-3"}); err != nil {
		t.Fatal(err)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if api.calls["home-1"] != 0 || api.calls["far-2"] == 0 || api.calls["far-2"] > 2 || api.calls["far-3"] != 1 {
		t.Errorf("DescribeImages calls by region %v: want far-2's five callers batched", api.calls)
	}
}
