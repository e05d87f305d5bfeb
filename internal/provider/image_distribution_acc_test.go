package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/faults"
)

const (
	distAccountA = "111122223333"
	distAccountB = "444455556666"
	distOrg      = "arn:aws:organizations::123456789012:organization/o-abcdefghij"
	distOU       = "arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdefgh34"
	distKMS      = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// distRegion is one region block of a test distribution.
type distRegion struct{ region, kms string }

func (r distRegion) hcl() string {
	if r.kms == "" {
		return fmt.Sprintf("    region {\n      region = %q\n    }\n", r.region)
	}
	return fmt.Sprintf("    region {\n      region     = %q\n      kms_key_id = %q\n    }\n", r.region, r.kms)
}

// distConfig bakes a small image distributed to regions, launchable by
// accounts and OUs; more goes into the distribution block as it is.
func distConfig(regions []distRegion, accounts, ous []string, more string) string {
	var blocks strings.Builder
	for _, r := range regions {
		blocks.WriteString(r.hcl())
	}
	list := func(xs []string) string {
		q := make([]string, len(xs))
		for i, x := range xs {
			q[i] = fmt.Sprintf("%q", x)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return config(fmt.Sprintf(`
resource "amibake_image" "dist" {
%s
  tags = { team = "platform" }

  distribution {
%s
    launch_permission {
      account_ids              = %s
      organizational_unit_arns = %s
    }
    share_snapshots = true
%s
  }
}
`, launchAndImageSteps("dist"), blocks.String(), list(accounts), list(ous), more))
}

// ec2In is an EC2 client of the emulator addressing region.
func ec2In(t *testing.T, region string) (*ec2.Client, func(*ec2.Options)) {
	t.Helper()
	return testEC2(t), func(o *ec2.Options) { o.Region = region }
}

// imageIn describes an image in region; nil when it is not there.
func imageIn(t *testing.T, region, id string) *ec2types.Image {
	t.Helper()
	c, in := ec2In(t, region)
	out, err := c.DescribeImages(context.Background(), &ec2.DescribeImagesInput{
		Filters: []ec2types.Filter{{Name: aws.String("image-id"), Values: []string{id}}},
	}, in)
	if err != nil {
		t.Fatalf("DescribeImages %s in %s: %v", id, region, err)
	}
	for _, img := range out.Images {
		if img.State != ec2types.ImageStateDeregistered {
			return &img
		}
	}
	return nil
}

// snapshotsIn are those of ids that still exist in region.
func snapshotsIn(t *testing.T, region string, ids []string) []string {
	t.Helper()
	if len(ids) == 0 {
		return nil
	}
	c, in := ec2In(t, region)
	out, err := c.DescribeSnapshots(context.Background(), &ec2.DescribeSnapshotsInput{
		Filters: []ec2types.Filter{{Name: aws.String("snapshot-id"), Values: ids}},
	}, in)
	if err != nil {
		t.Fatalf("DescribeSnapshots in %s: %v", region, err)
	}
	var left []string
	for _, s := range out.Snapshots {
		left = append(left, aws.ToString(s.SnapshotId))
	}
	return left
}

// launchPermissions lists who may launch an image, as "account"/org ARNs.
func launchPermissions(t *testing.T, region, id string) []string {
	t.Helper()
	c, in := ec2In(t, region)
	out, err := c.DescribeImageAttribute(context.Background(), &ec2.DescribeImageAttributeInput{
		ImageId: aws.String(id), Attribute: ec2types.ImageAttributeNameLaunchPermission,
	}, in)
	if err != nil {
		t.Fatalf("DescribeImageAttribute %s in %s: %v", id, region, err)
	}
	var perms []string
	for _, p := range out.LaunchPermissions {
		for _, v := range []*string{p.UserId, p.OrganizationArn, p.OrganizationalUnitArn} {
			if aws.ToString(v) != "" {
				perms = append(perms, aws.ToString(v))
			}
		}
	}
	sort.Strings(perms)
	return perms
}

func volumeAccounts(t *testing.T, region, snapshot string) []string {
	t.Helper()
	c, in := ec2In(t, region)
	out, err := c.DescribeSnapshotAttribute(context.Background(), &ec2.DescribeSnapshotAttributeInput{
		SnapshotId: aws.String(snapshot), Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission,
	}, in)
	if err != nil {
		t.Fatalf("DescribeSnapshotAttribute %s in %s: %v", snapshot, region, err)
	}
	var users []string
	for _, p := range out.CreateVolumePermissions {
		users = append(users, aws.ToString(p.UserId))
	}
	sort.Strings(users)
	return users
}

// distSeen records every image and snapshot a distribution test made, by
// region, for CheckDestroy.
type distSeen struct {
	images    map[string][]string // region -> image ids
	snapshots map[string][]string // region -> snapshot ids
}

func (s *distSeen) add(region string, img *ec2types.Image) {
	id := aws.ToString(img.ImageId)
	if !slices.Contains(s.images[region], id) {
		s.images[region] = append(s.images[region], id)
	}
	for _, snap := range ami.Snapshots(*img) {
		if !slices.Contains(s.snapshots[region], snap) {
			s.snapshots[region] = append(s.snapshots[region], snap)
		}
	}
}

// regionIDs reads region_image_ids from state.
func regionIDs(s *terraform.State) map[string]string {
	ids := map[string]string{}
	rs := s.RootModule().Resources["amibake_image.dist"]
	if rs == nil {
		return ids
	}
	for k, v := range rs.Primary.Attributes {
		if region, ok := strings.CutPrefix(k, "region_image_ids."); ok && region != "%" {
			ids[region] = v
		}
	}
	return ids
}

// checkDistributed asserts, asking the emulator in each region, that the
// image and its copies are exactly in regions, that copies are tagged as
// copies of the image, and that every image has perms (with snapshot
// permissions for the accounts among them).
func checkDistributed(t *testing.T, seen *distSeen, regions []string, perms []string, accounts []string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ids := regionIDs(s)
		if got := slices.Sorted(maps.Keys(ids)); !slices.Equal(got, regions) {
			return fmt.Errorf("region_image_ids has %v, want %v", got, regions)
		}
		source := ids[acctest.Region]
		for region, id := range ids {
			img := imageIn(t, region, id)
			if img == nil {
				return fmt.Errorf("image %s is not in %s", id, region)
			}
			seen.add(region, img)
			tags := tagMap(img.Tags)
			if region != acctest.Region && (tags[ami.CopyOfTag] != acctest.Region+"/"+source || tags["team"] != "platform") {
				return fmt.Errorf("copy %s in %s tags %v", id, region, tags)
			}
			if got := launchPermissions(t, region, id); !slices.Equal(got, perms) {
				return fmt.Errorf("image %s in %s launch permissions %v, want %v", id, region, got, perms)
			}
			for _, snap := range ami.Snapshots(*img) {
				if got := volumeAccounts(t, region, snap); !slices.Equal(got, accounts) {
					return fmt.Errorf("snapshot %s of %s in %s: create-volume permission for %v, want %v", snap, id, region, got, accounts)
				}
			}
		}
		return nil
	}
}

// checkDistributionGone asserts that every image and snapshot seen is gone from
// its region.
func checkDistributionGone(t *testing.T, seen *distSeen) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if len(seen.images) == 0 {
			return fmt.Errorf("the test recorded no images")
		}
		for region, ids := range seen.images {
			for _, id := range ids {
				if img := imageIn(t, region, id); img != nil {
					return fmt.Errorf("image %s is still registered in %s", id, region)
				}
			}
			if left := snapshotsIn(t, region, seen.snapshots[region]); len(left) > 0 {
				return fmt.Errorf("snapshots %v are still in %s", left, region)
			}
		}
		return nil
	}
}

// removeCopyByHand deregisters the copy in region outside Terraform, which
// leaves its snapshots.
func removeCopyByHand(t *testing.T, seen *distSeen, region string) {
	t.Helper()
	for _, id := range seen.images[region] {
		if imageIn(t, region, id) == nil {
			continue
		}
		c, in := ec2In(t, region)
		if _, err := c.DeregisterImage(context.Background(), &ec2.DeregisterImageInput{ImageId: aws.String(id)}, in); err != nil {
			t.Fatalf("DeregisterImage %s in %s: %v", id, region, err)
		}
	}
}

// revokeByHand removes a launch permission from the images in region.
func revokeByHand(t *testing.T, seen *distSeen, region string, perm ec2types.LaunchPermission) {
	t.Helper()
	for _, id := range seen.images[region] {
		if imageIn(t, region, id) == nil {
			continue
		}
		c, in := ec2In(t, region)
		_, err := c.ModifyImageAttribute(context.Background(), &ec2.ModifyImageAttributeInput{
			ImageId: aws.String(id), LaunchPermission: &ec2types.LaunchPermissionModifications{Remove: []ec2types.LaunchPermission{perm}},
		}, in)
		if err != nil {
			t.Fatalf("ModifyImageAttribute %s in %s: %v", id, region, err)
		}
	}
}

// TestAccImage_distribution: a bake copied to two Regions (one with a KMS
// key) and shared with an account and an OU; then, in place, a Region added
// and one removed, the accounts changed; a copy and a permission removed
// by hand are seen and repaired; destroy leaves no image or snapshot in any
// Region.
func TestAccImage_distribution(t *testing.T) {
	var executions []string
	seen := &distSeen{images: map[string][]string{}, snapshots: map[string][]string{}}
	first := []distRegion{{"us-west-2", distKMS}, {"eu-west-1", ""}}
	second := []distRegion{{"us-west-2", distKMS}, {"ap-southeast-2", ""}}
	var westCopy string
	// Every call is recorded, to hold the documented policy to it.
	rec := &callRecorder{calls: map[string]bool{}}
	p := NewWithOptions("test", Options{APIOptions: []func(*middleware.Stack) error{rec.option()}})
	factories := map[string]func() (tfprotov6.ProviderServer, error){"amibake": providerserver.NewProtocol6WithError(p())}
	defer func() {
		allowed := policyActions(t)
		if calls := rec.list(); !t.Failed() && !slices.Contains(calls, "ec2:ModifyImageAttribute") {
			t.Errorf("recorded only %v: the recorder is not in the clients", calls)
		}
		for _, c := range rec.list() {
			if !slices.Contains(allowed, c) {
				t.Errorf("the distribution called %s, which examples/iam/bake-policy.json does not allow", c)
			}
		}
	}()
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t); ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: factories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			checkImagesDestroyed(t, &executions),
			checkDistributionGone(t, seen),
		),
		Steps: []resource.TestStep{
			{
				Config: distConfig(first, []string{distAccountA}, []string{distOU}, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("amibake_image.dist", tfjsonpath.New("region_image_ids"), knownvalue.MapSizeExact(3)),
				},
				Check: resource.ComposeTestCheckFunc(
					rememberExecution("amibake_image.dist", &executions),
					checkDistributed(t, seen, []string{"eu-west-1", "us-east-1", "us-west-2"}, []string{distAccountA, distOU}, []string{distAccountA}),
					func(s *terraform.State) error {
						westCopy = regionIDs(s)["us-west-2"]
						return nil
					},
				),
			},
			{
				// In place: one Region added, one removed, the account changed.
				Config: distConfig(second, []string{distAccountB}, []string{distOU}, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("amibake_image.dist", plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeTestCheckFunc(
					checkDistributed(t, seen, []string{"ap-southeast-2", "us-east-1", "us-west-2"}, []string{distAccountB, distOU}, []string{distAccountB}),
					func(s *terraform.State) error {
						if got := regionIDs(s)["us-west-2"]; got != westCopy {
							return fmt.Errorf("the us-west-2 copy changed from %s to %s; only other Regions changed", westCopy, got)
						}
						for _, id := range seen.images["eu-west-1"] {
							if imageIn(t, "eu-west-1", id) != nil {
								return fmt.Errorf("the removed Region's copy %s is still registered", id)
							}
						}
						if left := snapshotsIn(t, "eu-west-1", seen.snapshots["eu-west-1"]); len(left) > 0 {
							return fmt.Errorf("the removed Region's snapshots %v are left", left)
						}
						return nil
					},
				),
			},
			{
				// Out of band: a copy deregistered and a permission revoked
				// by hand show in the plan.
				PreConfig: func() {
					removeCopyByHand(t, seen, "ap-southeast-2")
					revokeByHand(t, seen, acctest.Region, ec2types.LaunchPermission{OrganizationalUnitArn: aws.String(distOU)})
				},
				Config:             distConfig(second, []string{distAccountB}, []string{distOU}, ""),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				// ... and apply repairs them, in place.
				Config: distConfig(second, []string{distAccountB}, []string{distOU}, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("amibake_image.dist", plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeTestCheckFunc(
					checkDistributed(t, seen, []string{"ap-southeast-2", "us-east-1", "us-west-2"}, []string{distAccountB, distOU}, []string{distAccountB}),
					func(s *terraform.State) error {
						// The snapshots of the copy deregistered by hand went
						// with the repair.
						current := regionIDs(s)["ap-southeast-2"]
						var old []string
						for _, snap := range seen.snapshots["ap-southeast-2"] {
							if img := imageIn(t, "ap-southeast-2", current); img == nil || !slices.Contains(ami.Snapshots(*img), snap) {
								old = append(old, snap)
							}
						}
						if left := snapshotsIn(t, "ap-southeast-2", old); len(old) == 0 || len(left) > 0 {
							return fmt.Errorf("snapshots %v of the copy deregistered by hand: %v left", old, left)
						}
						return nil
					},
				),
			},
			{
				// The whole block removed: copies gone, permissions revoked,
				// the image kept.
				Config: config(fmt.Sprintf("resource \"amibake_image\" \"dist\" {\n%s\n  tags = { team = \"platform\" }\n}\n", launchAndImageSteps("dist"))),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("amibake_image.dist", plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeTestCheckFunc(
					checkDistributed(t, seen, []string{"us-east-1"}, nil, nil),
					func(*terraform.State) error {
						for _, region := range []string{"us-west-2", "ap-southeast-2"} {
							for _, id := range seen.images[region] {
								if imageIn(t, region, id) != nil {
									return fmt.Errorf("copy %s in %s is still registered", id, region)
								}
							}
						}
						return nil
					},
				),
			},
		},
	})
}

// TestAccImage_distributionPlanErrors: mistakes in the distribution block
// are errors at plan time, naming the attribute.
func TestAccImage_distributionPlanErrors(t *testing.T) {
	ok := []distRegion{{"us-west-2", ""}}
	cases := []struct {
		name   string
		config string
		want   []string
	}{
		{"duplicate Region", distConfig([]distRegion{{"us-west-2", ""}, {"us-west-2", distKMS}}, nil, nil, ""),
			[]string{"Duplicate Region", `Region "us-west-2" is listed in more than one`}},
		{"bake Region", distConfig([]distRegion{{acctest.Region, ""}}, nil, nil, ""),
			[]string{"Copy in the Bake Region", "The image is baked in us-east-1"}},
		{"KMS key of another Region", distConfig([]distRegion{{"eu-west-1", distKMS}}, nil, nil, ""),
			[]string{"KMS Key of Another Region", "The copy in eu-west-1 names KMS key"}},
		{"account id", distConfig(ok, []string{"1234"}, nil, ""),
			[]string{"distribution.launch_permission.account_ids", "must be a 12-digit AWS account id"}},
		{"OU ARN", distConfig(ok, nil, []string{"ou-ab12-cdefgh34"}, ""),
			[]string{"distribution.launch_permission.organizational_unit_arns", "must be an organizational unit ARN"}},
		{"deprecation in the past", distConfig(ok, nil, nil, `deprecate_at = "2020-01-01T00:00:00Z"`),
			[]string{"Deprecation Time in the Past", "deprecate_at 2020-01-01T00:00:00Z is in the past"}},
		{"deprecation not a time", distConfig(ok, nil, nil, `deprecate_at = "next year"`),
			[]string{"Invalid Time", "is not an RFC 3339 time"}},
		{"deprecation twice", distConfig(ok, nil, nil, "deprecate_at = \"2099-01-01T00:00:00Z\"\n    deprecate_after = \"90d\""),
			[]string{"Invalid Attribute Combination", "deprecate_after"}},
		{"deprecation after", distConfig(ok, nil, nil, `deprecate_after = "3 months"`),
			[]string{"Invalid Duration", "neither whole days"}},
		{"deprecation too far", distConfig(ok, nil, nil, `deprecate_after = "4000d"`),
			[]string{"Invalid Duration", "more than 10 years"}},
		{"protection without enabled", distConfig(ok, nil, nil, "deregistration_protection {\n      cooldown = true\n    }"),
			[]string{"Invalid Attribute Combination", "enabled"}},
		{"copy name", distConfig(nil, nil, nil, "region {\n      region = \"eu-west-1\"\n      name   = \"a?\"\n    }"),
			[]string{"Invalid AMI Name", "2 characters long"}},
		{"too many Regions", distConfig(manyRegions(maxCopyRegions+1), nil, nil, ""),
			[]string{"distribution.region", "set must contain at most 64 elements"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { testAccPreCheck(t) },
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      tc.config,
					PlanOnly:    true,
					ExpectError: wrapped(tc.want...),
				}},
			})
		})
	}
}

// TestAccImage_distributionFailures: a copy refused on the first apply keeps
// the image (no taint, no rebake) and the next apply completes the
// distribution in place; an update that fails half way records what it did.
func TestAccImage_distributionFailures(t *testing.T) {
	var executions []string
	seen := &distSeen{images: map[string][]string{}, snapshots: map[string][]string{}}
	const deniedWest = "arn:aws:kms:us-west-2:123456789012:key/denied"
	const deniedSydney = "arn:aws:kms:ap-southeast-2:123456789012:key/denied"
	inj := faults.New()
	refuseKey := func() {
		inj.Reset()
		inj.Add(faults.Rule{Operation: "CopyImage", To: -1, Code: "InvalidParameterValue", Message: "the KMS key is not accessible",
			When: func(_ context.Context, in any) bool {
				ci, ok := in.(*ec2.CopyImageInput)
				return ok && strings.HasSuffix(aws.ToString(ci.KmsKeyId), "/denied")
			}})
	}
	refuseKey()
	p := NewWithOptions("test", Options{APIOptions: []func(*middleware.Stack) error{inj.APIOption()}})
	factories := map[string]func() (tfprotov6.ProviderServer, error){"amibake": providerserver.NewProtocol6WithError(p())}
	var imageID string
	sameImage := func(s *terraform.State) error {
		id, err := stateAttr(s, "amibake_image.dist", "image_id")
		if err != nil || id != imageID {
			return fmt.Errorf("image_id %s, want %s: the image must not be rebaked", id, imageID)
		}
		return nil
	}
	first := []distRegion{{"eu-west-1", ""}, {"us-west-2", deniedWest}}
	third := append(first, distRegion{"ap-southeast-2", deniedSydney})
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t); ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: factories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			checkImagesDestroyed(t, &executions),
			checkDistributionGone(t, seen),
		),
		Steps: []resource.TestStep{
			{
				// The key is refused: the image is kept with the copy that
				// worked, and the plan after apply wants the missing copy.
				Config:             distConfig(first, []string{distAccountA}, nil, ""),
				ExpectNonEmptyPlan: true,
				Check: resource.ComposeTestCheckFunc(
					rememberExecution("amibake_image.dist", &executions),
					checkDistributed(t, seen, []string{"eu-west-1", "us-east-1"}, []string{distAccountA}, []string{distAccountA}),
					func(s *terraform.State) error {
						imageID, _ = stateAttr(s, "amibake_image.dist", "image_id")
						return nil
					},
				),
			},
			{
				// The key is usable now: the same configuration completes
				// the distribution in place.
				PreConfig: inj.Reset,
				Config:    distConfig(first, []string{distAccountA}, nil, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("amibake_image.dist", plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeTestCheckFunc(sameImage,
					checkDistributed(t, seen, []string{"eu-west-1", "us-east-1", "us-west-2"}, []string{distAccountA}, []string{distAccountA})),
			},
			{
				// An update whose new copy is refused fails, and records
				// the permission change it made.
				PreConfig:   refuseKey,
				Config:      distConfig(third, []string{distAccountB}, nil, ""),
				ExpectError: wrapped("Cannot Update Distribution", "the KMS key is not accessible"),
				Check:       sameImage,
			},
			{
				PreConfig: inj.Reset,
				Config:    distConfig(third, []string{distAccountB}, nil, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("amibake_image.dist", plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeTestCheckFunc(sameImage,
					checkDistributed(t, seen, []string{"ap-southeast-2", "eu-west-1", "us-east-1", "us-west-2"}, []string{distAccountB}, []string{distAccountB})),
			},
		},
	})
}

// TestAccImageSSM_distribution: an image baked on SSM Automation is
// distributed the same way, its copies carrying the provider's default tags.
func TestAccImageSSM_distribution(t *testing.T) {
	testAccPreCheck(t)
	emu := testEmulator(t)
	marker := fmt.Sprintf("ssm-dist-%d", testRunID())
	seen := &distSeen{images: map[string][]string{}, snapshots: map[string][]string{}}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkDistributionGone(t, seen),
		Steps: []resource.TestStep{{
			Config: ssmProvider(emu, marker, "") + distConfig([]distRegion{{"eu-west-1", ""}}, []string{distAccountA}, nil, ""),
			Check: resource.ComposeTestCheckFunc(
				checkDistributed(t, seen, []string{"eu-west-1", "us-east-1"}, []string{distAccountA}, []string{distAccountA}),
				func(s *terraform.State) error {
					id := regionIDs(s)["eu-west-1"]
					if tags := tagMap(imageIn(t, "eu-west-1", id).Tags); tags[matrixTag] != marker {
						return fmt.Errorf("copy %s tags %v: want the default tag %s=%s", id, tags, matrixTag, marker)
					}
					key, _ := stateAttr(s, "amibake_image.dist", "bake_key")
					if execs := executionsOfBake(t, emu, key); len(execs) != 1 {
						return fmt.Errorf("want the image baked by one SSM Automation execution, found %d", len(execs))
					}
					return nil
				},
			),
		}},
	})
}

// lifecycleConfig is distConfig with a deprecation and protection.
func lifecycleConfig(regions []distRegion, deprecation string, protected bool) string {
	return distConfig(regions, []string{distAccountA}, []string{distOU}, fmt.Sprintf(`%s
    deregistration_protection {
      enabled = %t
    }`, deprecation, protected))
}

// checkLifecycle asserts, in every Region, the deprecation time (within the
// minute AWS rounds to; the image's creation time plus after when at is
// zero) and the protection of the image and each copy.
func checkLifecycle(t *testing.T, at time.Time, after time.Duration, protected bool) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ids := regionIDs(s)
		source := imageIn(t, acctest.Region, ids[acctest.Region])
		if source == nil {
			return fmt.Errorf("image %s is gone", ids[acctest.Region])
		}
		want := at
		if want.IsZero() {
			created, err := time.Parse(time.RFC3339, aws.ToString(source.CreationDate))
			if err != nil {
				return fmt.Errorf("image %s CreationDate %q: %v", ids[acctest.Region], aws.ToString(source.CreationDate), err)
			}
			want = created.Add(after)
		}
		for region, id := range ids {
			img := imageIn(t, region, id)
			if img == nil {
				return fmt.Errorf("image %s is not in %s", id, region)
			}
			have, ok := ami.DeprecationTime(*img)
			if !ok || !ami.SameDeprecation(have, want) {
				return fmt.Errorf("image %s in %s deprecation %q, want %s", id, region, aws.ToString(img.DeprecationTime), want.Format(time.RFC3339))
			}
			if p := ami.ProtectionOf(*img); p.Enabled != protected {
				return fmt.Errorf("image %s in %s protection %q, want enabled=%t", id, region, aws.ToString(img.DeregistrationProtection), protected)
			}
		}
		return nil
	}
}

// TestAccImage_distributionLifecycle: deprecation and deregistration
// protection on the image and its copies, through the project's emulator
// front (moto lacks those calls): set at the bake, changed in place, changed
// by hand and repaired; a protected copy cannot be removed nor the image
// destroyed, until protection is turned off.
func TestAccImage_distributionLifecycle(t *testing.T) {
	testAccPreCheck(t)
	acctest.SharedSSMEmulator(t, testMoto).SetEnv(t)
	var executions []string
	seen := &distSeen{images: map[string][]string{}, snapshots: map[string][]string{}}
	regions := []distRegion{{"us-west-2", distKMS}, {"eu-west-1", ""}}
	later := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Minute)
	deprecateAt := fmt.Sprintf("deprecate_at = %q", later.Format(time.RFC3339))
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { ensureInstanceProfile(t, builderProfile) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			checkImagesDestroyed(t, &executions),
			checkDistributionGone(t, seen),
		),
		Steps: []resource.TestStep{
			{
				Config: lifecycleConfig(regions, `deprecate_after = "90d"`, true),
				Check: resource.ComposeTestCheckFunc(
					rememberExecution("amibake_image.dist", &executions),
					checkDistributed(t, seen, []string{"eu-west-1", "us-east-1", "us-west-2"}, []string{distAccountA, distOU}, []string{distAccountA}),
					checkLifecycle(t, time.Time{}, 90*24*time.Hour, true),
				),
			},
			{
				// In place: a new deprecation time.
				Config: lifecycleConfig(regions, deprecateAt, true),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("amibake_image.dist", plancheck.ResourceActionUpdate)},
				},
				Check: checkLifecycle(t, later, 0, true),
			},
			{
				// By hand: a copy's protection off and its deprecation
				// cancelled; the plan shows both.
				PreConfig: func() {
					c, in := ec2In(t, "eu-west-1")
					id := seen.images["eu-west-1"][0]
					if _, err := c.DisableImageDeregistrationProtection(context.Background(), &ec2.DisableImageDeregistrationProtectionInput{ImageId: aws.String(id)}, in); err != nil {
						t.Fatal(err)
					}
					if _, err := c.DisableImageDeprecation(context.Background(), &ec2.DisableImageDeprecationInput{ImageId: aws.String(id)}, in); err != nil {
						t.Fatal(err)
					}
				},
				Config:             lifecycleConfig(regions, deprecateAt, true),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: lifecycleConfig(regions, deprecateAt, true),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("amibake_image.dist", plancheck.ResourceActionUpdate)},
				},
				Check: checkLifecycle(t, later, 0, true),
			},
			{
				// A protected copy cannot be removed: an error at plan time.
				Config:      lifecycleConfig(regions[:1], deprecateAt, true),
				PlanOnly:    true,
				ExpectError: wrapped("Protected Copy", "copies in eu-west-1", "deregistration_protection.enabled = false"),
			},
			{
				// Nor can the image be destroyed: nothing is removed.
				Config:      lifecycleConfig(regions, deprecateAt, true),
				Destroy:     true,
				ExpectError: wrapped("Image Protected From Deregistration", "deregistration_protection.enabled = false", "Nothing was removed"),
			},
			{
				Config: lifecycleConfig(regions, deprecateAt, true),
				Check: func(s *terraform.State) error {
					for region, id := range regionIDs(s) {
						if imageIn(t, region, id) == nil {
							return fmt.Errorf("the refused destroy removed %s in %s", id, region)
						}
					}
					return nil
				},
			},
			{
				// Protection off, and in the same apply a Region removed.
				Config: lifecycleConfig(regions[:1], deprecateAt, false),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("amibake_image.dist", plancheck.ResourceActionUpdate)},
				},
				Check: checkLifecycle(t, later, 0, false),
			},
		},
	})
}

// manyRegions is n distinct, well-formed Region codes.
func manyRegions(n int) []distRegion {
	out := make([]distRegion, n)
	for i := range out {
		out[i] = distRegion{fmt.Sprintf("xx-test-%d", i+1), ""}
	}
	return out
}
