package ami

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

const (
	self  = simcloud.Account
	other = "999999999999"
	// home is the Region of the clients; the tests' other Regions are each
	// their own.
	home = simcloud.Region
)

// newCloud is a simulated cloud of separate Regions whose clock reads the
// real time, so that times the tests take from time.Now are in its future.
func newCloud() *simcloud.Cloud {
	c := simcloud.NewInstant()
	c.SeparateRegions()
	c.Advance(time.Since(c.Now()))
	return c
}

// clients waits on c with short pauses.
func clients(c *simcloud.Cloud) *awsx.Clients {
	return c.Clients(awsx.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Factor: 2})
}

// put registers an available image in region with n snapshots named
// snap-<id>-<i>.
func put(c *simcloud.Cloud, region, id string, n int) {
	var snaps []string
	for i := range n {
		snaps = append(snaps, fmt.Sprintf("snap-%s-%d", id, i))
	}
	c.AddImage(simcloud.Image{ID: id, Region: region, Snapshots: snaps})
}

// left lists the images and snapshots still there, sorted.
func left(c *simcloud.Cloud) []string {
	out := append(c.Images(), c.Snapshots()...)
	slices.Sort(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// callsOf lists, sorted, the calls from the from-th on whose operation begins
// with op ("": all) and that change something (no Describe), each as
// "Op id[change]@Region", the Region the call acted in.
func callsOf(c *simcloud.Cloud, from int, op string) []string {
	var out []string
	for _, call := range c.Calls()[from:] {
		if !strings.HasPrefix(call.Op, op) || strings.HasPrefix(call.Op, "Describe") {
			continue
		}
		out = append(out, call.Op+" "+subject(call.Input)+"@"+ownRegion(call.Region))
	}
	slices.Sort(out)
	return out
}

// subject is what a call acts on and, for permissions, the change it asks
// for.
func subject(input any) string {
	switch in := input.(type) {
	case *ec2.CopyImageInput:
		return aws.ToString(in.SourceImageId)
	case *ec2.CreateTagsInput:
		return strings.Join(in.Resources, ",")
	case *ec2.ModifyImageAttributeInput:
		var change []string
		for _, p := range in.LaunchPermission.Add {
			change = append(change, "+"+grantee(p))
		}
		for _, p := range in.LaunchPermission.Remove {
			change = append(change, "-"+grantee(p))
		}
		return aws.ToString(in.ImageId) + "[" + strings.Join(change, " ") + "]"
	case *ec2.ModifySnapshotAttributeInput:
		add, remove := simcloud.VolumePermissionChange(in)
		var change []string
		for _, u := range add {
			change = append(change, "+"+u)
		}
		for _, u := range remove {
			change = append(change, "-"+u)
		}
		return aws.ToString(in.SnapshotId) + "[" + strings.Join(change, " ") + "]"
	case *ec2.DeleteSnapshotInput:
		return aws.ToString(in.SnapshotId)
	}
	// Every other call of these tests names one image.
	if f := reflect.ValueOf(input).Elem().FieldByName("ImageId"); f.IsValid() {
		return aws.ToString(f.Interface().(*string))
	}
	return fmt.Sprintf("%T", input)
}

func grantee(p ec2types.LaunchPermission) string {
	for _, s := range []string{aws.ToString(p.UserId), string(p.Group), aws.ToString(p.OrganizationArn), aws.ToString(p.OrganizationalUnitArn)} {
		if s != "" {
			return s
		}
	}
	return ""
}

// ownRegion is the Region a call acted in: the clients' own when its options
// name none.
func ownRegion(region string) string {
	if region == "" {
		return home
	}
	return region
}

// available: the image is registered and available.
func available(c *simcloud.Cloud, id string) bool {
	img, ok := c.Image(id)
	return ok && img.State == ec2types.ImageStateAvailable
}
