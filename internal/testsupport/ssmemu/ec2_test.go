package ssmemu_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/google/uuid"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/ssmemu"
)

// clock is a settable Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().UTC().Truncate(time.Minute)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// ec2In is an EC2 client of the emulator signing for region.
func (e *env) ec2In(region string) *ec2.Client {
	return ec2.NewFromConfig(awsConfig(), func(o *ec2.Options) {
		o.BaseEndpoint = aws.String(e.url)
		o.Region = region
	})
}

// newImage makes an image in moto, through the emulator.
func (e *env) newImage() string {
	e.t.Helper()
	ctx := e.ctx()
	run, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
	})
	if err != nil {
		e.t.Fatalf("RunInstances: %v", err)
	}
	instance := aws.ToString(run.Instances[0].InstanceId)
	img, err := e.ec2.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(instance), Name: aws.String("emu-ec2-" + uuid.NewString()[:8])})
	if err != nil {
		e.t.Fatalf("CreateImage: %v", err)
	}
	if _, err := e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{instance}}); err != nil {
		e.t.Fatalf("TerminateInstances: %v", err)
	}
	return aws.ToString(img.ImageId)
}

func describeImage(t *testing.T, c *ec2.Client, e *env, id string) ec2types.Image {
	t.Helper()
	out, err := c.DescribeImages(e.ctx(), &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil {
		t.Fatalf("DescribeImages %s: %v", id, err)
	}
	if len(out.Images) != 1 {
		t.Fatalf("DescribeImages %s: %d images", id, len(out.Images))
	}
	return out.Images[0]
}

func TestImageDeprecation(t *testing.T) {
	clk := newClock()
	e := newEnv(t, ssmemu.Config{NoThrottle: true, Now: clk.Now})
	id := e.newImage()
	ctx := e.ctx()

	img := describeImage(t, e.ec2, e, id)
	if img.DeprecationTime != nil {
		t.Errorf("a new image has DeprecationTime %q", *img.DeprecationTime)
	}
	if aws.ToString(img.Name) == "" || len(img.BlockDeviceMappings) != 1 {
		t.Errorf("moto's answer lost its fields: name %q, %d block device mappings", aws.ToString(img.Name), len(img.BlockDeviceMappings))
	}

	// Seconds round to the nearest minute.
	for _, c := range []struct {
		at   time.Duration
		want time.Duration
	}{
		{time.Hour + 40*time.Second, time.Hour + time.Minute},
		{time.Hour + 20*time.Second, time.Hour},
	} {
		out, err := e.ec2.EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{ImageId: aws.String(id), DeprecateAt: aws.Time(clk.Now().Add(c.at))})
		if err != nil {
			t.Fatalf("EnableImageDeprecation +%s: %v", c.at, err)
		}
		if !aws.ToBool(out.Return) {
			t.Errorf("EnableImageDeprecation returned %v", out.Return)
		}
		want := clk.Now().Add(c.want).Format("2006-01-02T15:04:05.000Z")
		if got := aws.ToString(describeImage(t, e.ec2, e, id).DeprecationTime); got != want {
			t.Errorf("deprecate at +%s: DeprecationTime %q, want %q", c.at, got, want)
		}
	}

	// AWS's limits: not in the past, at most 10 years ahead.
	for name, at := range map[string]time.Time{
		"past":           clk.Now().Add(-time.Hour),
		"beyond10years":  clk.Now().AddDate(10, 0, 1),
		"beyond10years2": clk.Now().AddDate(11, 0, 0),
	} {
		_, err := e.ec2.EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{ImageId: aws.String(id), DeprecateAt: aws.Time(at)})
		if err == nil {
			t.Errorf("%s: EnableImageDeprecation at %s succeeded", name, at)
		} else if code := errorCode(t, err); code != "InvalidParameterValue" {
			t.Errorf("%s: error code %s, want InvalidParameterValue (%v)", name, code, err)
		}
	}
	if _, err := e.ec2.EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{ImageId: aws.String(id), DeprecateAt: aws.Time(clk.Now().AddDate(10, 0, -1))}); err != nil {
		t.Errorf("EnableImageDeprecation within 10 years: %v", err)
	}

	// An unknown image, and a dry run.
	_, err := e.ec2.EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{ImageId: aws.String("ami-0123456789abcdef0"), DeprecateAt: aws.Time(clk.Now().Add(time.Hour))})
	if err == nil || errorCode(t, err) != "InvalidAMIID.NotFound" {
		t.Errorf("EnableImageDeprecation of an unknown image: %v, want InvalidAMIID.NotFound", err)
	}
	_, err = e.ec2.DisableImageDeprecation(ctx, &ec2.DisableImageDeprecationInput{ImageId: aws.String("ami-0123456789abcdef0")})
	if err == nil || errorCode(t, err) != "InvalidAMIID.NotFound" {
		t.Errorf("DisableImageDeprecation of an unknown image: %v, want InvalidAMIID.NotFound", err)
	}
	_, err = e.ec2.DisableImageDeprecation(ctx, &ec2.DisableImageDeprecationInput{ImageId: aws.String(id), DryRun: aws.Bool(true)})
	if err == nil || errorCode(t, err) != "DryRunOperation" {
		t.Errorf("DisableImageDeprecation dry run: %v, want DryRunOperation", err)
	}
	if describeImage(t, e.ec2, e, id).DeprecationTime == nil {
		t.Error("a dry run disabled the deprecation")
	}

	out, err := e.ec2.DisableImageDeprecation(ctx, &ec2.DisableImageDeprecationInput{ImageId: aws.String(id)})
	if err != nil || !aws.ToBool(out.Return) {
		t.Fatalf("DisableImageDeprecation: %v", err)
	}
	if dt := describeImage(t, e.ec2, e, id).DeprecationTime; dt != nil {
		t.Errorf("after DisableImageDeprecation DeprecationTime is %q", *dt)
	}

	// A public image deprecates at most 2 years after its creation.
	if _, err := e.ec2.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id),
		LaunchPermission: &ec2types.LaunchPermissionModifications{Add: []ec2types.LaunchPermission{{Group: ec2types.PermissionGroupAll}}}}); err != nil {
		t.Fatalf("ModifyImageAttribute: %v", err)
	}
	_, err = e.ec2.EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{ImageId: aws.String(id), DeprecateAt: aws.Time(clk.Now().AddDate(3, 0, 0))})
	if err == nil || errorCode(t, err) != "InvalidParameterValue" {
		t.Errorf("public image deprecated in 3 years: %v, want InvalidParameterValue", err)
	}
	if _, err := e.ec2.EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{ImageId: aws.String(id), DeprecateAt: aws.Time(clk.Now().AddDate(1, 0, 0))}); err != nil {
		t.Errorf("public image deprecated in a year: %v", err)
	}
}

func TestImageDeregistrationProtection(t *testing.T) {
	clk := newClock()
	e := newEnv(t, ssmemu.Config{NoThrottle: true, Now: clk.Now})
	ctx := e.ctx()
	protection := func(id string) string {
		t.Helper()
		return aws.ToString(describeImage(t, e.ec2, e, id).DeregistrationProtection)
	}
	deregister := func(id string) error {
		_, err := e.ec2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(id)})
		return err
	}

	t.Run("WithoutCooldown", func(t *testing.T) {
		id := e.newImage()
		if got := protection(id); got != "disabled" {
			t.Errorf("a new image's DeregistrationProtection is %q, want disabled", got)
		}
		on, err := e.ec2.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{ImageId: aws.String(id)})
		if err != nil {
			t.Fatalf("EnableImageDeregistrationProtection: %v", err)
		}
		if got := aws.ToString(on.Return); got != "enabled-without-cooldown" {
			t.Errorf("Enable returned %q, want enabled-without-cooldown", got)
		}
		if got := protection(id); got != "enabled-without-cooldown" {
			t.Errorf("DeregistrationProtection %q, want enabled-without-cooldown", got)
		}
		attr, err := e.ec2.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(id), Attribute: ec2types.ImageAttributeNameDeregistrationProtection})
		if err != nil {
			t.Fatalf("DescribeImageAttribute deregistrationProtection: %v", err)
		}
		if attr.DeregistrationProtection == nil || aws.ToString(attr.DeregistrationProtection.Value) != "enabled-without-cooldown" || aws.ToString(attr.ImageId) != id {
			t.Errorf("DescribeImageAttribute: image %q, protection %v", aws.ToString(attr.ImageId), attr.DeregistrationProtection)
		}
		if _, err := e.ec2.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(id), Attribute: ec2types.ImageAttributeNameLaunchPermission}); err != nil {
			t.Errorf("DescribeImageAttribute launchPermission (moto's): %v", err)
		}
		if err := deregister(id); err == nil || errorCode(t, err) != "OperationNotPermitted" {
			t.Fatalf("DeregisterImage of a protected image: %v, want OperationNotPermitted", err)
		}
		describeImage(t, e.ec2, e, id) // still there

		off, err := e.ec2.DisableImageDeregistrationProtection(ctx, &ec2.DisableImageDeregistrationProtectionInput{ImageId: aws.String(id)})
		if err != nil {
			t.Fatalf("DisableImageDeregistrationProtection: %v", err)
		}
		if got := aws.ToString(off.Return); got != "disabled" {
			t.Errorf("Disable returned %q, want disabled", got)
		}
		if got := protection(id); got != "disabled" {
			t.Errorf("DeregistrationProtection %q after disabling, want disabled", got)
		}
		if err := deregister(id); err != nil {
			t.Fatalf("DeregisterImage after disabling protection: %v", err)
		}
		// "Recently deregistered images appear in the returned results for a
		// short interval and then return empty results" (DescribeImages).
		gone, err := e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
		if err != nil && errorCode(t, err) != "InvalidAMIID.NotFound" {
			t.Errorf("DescribeImages of the deregistered image: %v", err)
		}
		if err == nil && len(gone.Images) > 0 && gone.Images[0].State != ec2types.ImageStateDeregistered {
			t.Errorf("DescribeImages of the deregistered image: state %s", gone.Images[0].State)
		}
		_, err = e.ec2.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{ImageId: aws.String(id)})
		if err == nil || errorCode(t, err) != "InvalidAMIID.NotFound" {
			t.Errorf("EnableImageDeregistrationProtection of the deregistered image: %v, want InvalidAMIID.NotFound", err)
		}
	})

	t.Run("WithCooldown", func(t *testing.T) {
		id := e.newImage()
		on, err := e.ec2.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{ImageId: aws.String(id), WithCooldown: aws.Bool(true)})
		if err != nil {
			t.Fatalf("EnableImageDeregistrationProtection: %v", err)
		}
		if got := aws.ToString(on.Return); got != "enabled-with-cooldown" {
			t.Errorf("Enable returned %q, want enabled-with-cooldown", got)
		}
		if _, err := e.ec2.DisableImageDeregistrationProtection(ctx, &ec2.DisableImageDeregistrationProtectionInput{ImageId: aws.String(id)}); err != nil {
			t.Fatalf("DisableImageDeregistrationProtection: %v", err)
		}
		until := clk.Now().Add(24 * time.Hour).Format("2006-01-02T15:04:05.000Z")
		if got := protection(id); got != "disabled after "+until {
			t.Errorf("DeregistrationProtection %q during the cooldown, want %q", got, "disabled after "+until)
		}
		if err := deregister(id); err == nil || errorCode(t, err) != "OperationNotPermitted" {
			t.Fatalf("DeregisterImage during the cooldown: %v, want OperationNotPermitted", err)
		}
		clk.Advance(23 * time.Hour)
		if err := deregister(id); err == nil {
			t.Fatal("DeregisterImage 23 hours into the cooldown succeeded")
		}
		clk.Advance(time.Hour)
		if got := protection(id); got != "disabled" {
			t.Errorf("DeregistrationProtection %q after the cooldown, want disabled", got)
		}
		if err := deregister(id); err != nil {
			t.Fatalf("DeregisterImage after the cooldown: %v", err)
		}
	})

	t.Run("EnableEndsACooldown", func(t *testing.T) {
		id := e.newImage()
		for _, cooldown := range []bool{true, false} {
			if _, err := e.ec2.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{ImageId: aws.String(id), WithCooldown: aws.Bool(cooldown)}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.ec2.DisableImageDeregistrationProtection(ctx, &ec2.DisableImageDeregistrationProtectionInput{ImageId: aws.String(id)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := deregister(id); err != nil {
			t.Fatalf("DeregisterImage after re-enabling without cooldown and disabling: %v", err)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		_, err := e.ec2.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{ImageId: aws.String("ami-0123456789abcdef0")})
		if err == nil || errorCode(t, err) != "InvalidAMIID.NotFound" {
			t.Errorf("Enable on an unknown image: %v, want InvalidAMIID.NotFound", err)
		}
		_, err = e.ec2.DisableImageDeregistrationProtection(ctx, &ec2.DisableImageDeregistrationProtectionInput{ImageId: aws.String("bogus")})
		if err == nil || errorCode(t, err) != "InvalidAMIID.Malformed" {
			t.Errorf("Disable on a malformed id: %v, want InvalidAMIID.Malformed", err)
		}
		id := e.newImage()
		_, err = e.ec2.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{ImageId: aws.String(id), DryRun: aws.Bool(true)})
		if err == nil || errorCode(t, err) != "DryRunOperation" {
			t.Errorf("Enable dry run: %v, want DryRunOperation", err)
		}
		if got := protection(id); got != "disabled" {
			t.Errorf("a dry run left DeregistrationProtection %q", got)
		}
	})
}

// State is per Region: moto keeps Regions apart by the signing Region, and
// so does the emulator.
func TestImageStateIsPerRegion(t *testing.T) {
	e := newEnv(t, ssmemu.Config{NoThrottle: true})
	ctx := e.ctx()
	west := e.ec2In("eu-west-1")
	src := e.newImage()
	cp, err := west.CopyImage(ctx, &ec2.CopyImageInput{SourceImageId: aws.String(src), SourceRegion: aws.String("us-east-1"), Name: aws.String("emu-copy-" + uuid.NewString()[:8])})
	if err != nil {
		t.Fatalf("CopyImage: %v", err)
	}
	copyID := aws.ToString(cp.ImageId)
	if _, err := west.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{ImageId: aws.String(copyID)}); err != nil {
		t.Fatalf("EnableImageDeregistrationProtection in eu-west-1: %v", err)
	}
	if _, err := west.EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{ImageId: aws.String(copyID), DeprecateAt: aws.Time(time.Now().Add(48 * time.Hour))}); err != nil {
		t.Fatalf("EnableImageDeprecation in eu-west-1: %v", err)
	}
	_, err = west.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{ImageId: aws.String(src)})
	if err == nil || errorCode(t, err) != "InvalidAMIID.NotFound" {
		t.Errorf("the us-east-1 image protected in eu-west-1: %v, want InvalidAMIID.NotFound", err)
	}

	w := describeImage(t, west, e, copyID)
	if aws.ToString(w.DeregistrationProtection) != "enabled-without-cooldown" || w.DeprecationTime == nil {
		t.Errorf("copy in eu-west-1: protection %q, deprecation %v", aws.ToString(w.DeregistrationProtection), w.DeprecationTime)
	}
	s := describeImage(t, e.ec2, e, src)
	if aws.ToString(s.DeregistrationProtection) != "disabled" || s.DeprecationTime != nil {
		t.Errorf("source in us-east-1: protection %q, deprecation %v", aws.ToString(s.DeregistrationProtection), s.DeprecationTime)
	}
	if _, err := e.ec2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(src)}); err != nil {
		t.Errorf("DeregisterImage of the unprotected source: %v", err)
	}
	_, err = west.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(copyID)})
	if err == nil || errorCode(t, err) != "OperationNotPermitted" {
		t.Errorf("DeregisterImage of the protected copy: %v, want OperationNotPermitted", err)
	}

	// Several images in one answer: each gets its own state.
	other := e.newImage()
	third := e.newImage()
	if _, err := e.ec2.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{ImageId: aws.String(third), WithCooldown: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	out, err := e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{other, third}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, img := range out.Images {
		got[aws.ToString(img.ImageId)] = aws.ToString(img.DeregistrationProtection)
	}
	if got[other] != "disabled" || got[third] != "enabled-with-cooldown" {
		t.Errorf("DeregistrationProtection by image: %v", got)
	}
}

func TestSnapshotCreateVolumePermission(t *testing.T) {
	e := newEnv(t, ssmemu.Config{NoThrottle: true})
	ctx := e.ctx()
	img := describeImage(t, e.ec2, e, e.newImage())
	snap := aws.ToString(img.BlockDeviceMappings[0].Ebs.SnapshotId)
	permissions := func() []string {
		t.Helper()
		out, err := e.ec2.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(snap), Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission})
		if err != nil {
			t.Fatalf("DescribeSnapshotAttribute: %v", err)
		}
		var got []string
		for _, p := range out.CreateVolumePermissions {
			got = append(got, aws.ToString(p.UserId)+string(p.Group))
		}
		slices.Sort(got)
		return got
	}
	modify := func(m ec2types.CreateVolumePermissionModifications) error {
		_, err := e.ec2.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{
			SnapshotId: aws.String(snap), Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission, CreateVolumePermission: &m})
		return err
	}

	if err := modify(ec2types.CreateVolumePermissionModifications{Add: []ec2types.CreateVolumePermission{{UserId: aws.String("111122223333")}, {UserId: aws.String("444455556666")}}}); err != nil {
		t.Fatalf("ModifySnapshotAttribute Add: %v", err)
	}
	if got := permissions(); strings.Join(got, ",") != "111122223333,444455556666" {
		t.Errorf("after Add: %v", got)
	}
	if err := modify(ec2types.CreateVolumePermissionModifications{
		Add:    []ec2types.CreateVolumePermission{{Group: ec2types.PermissionGroupAll}},
		Remove: []ec2types.CreateVolumePermission{{UserId: aws.String("111122223333")}},
	}); err != nil {
		t.Fatalf("ModifySnapshotAttribute Add+Remove: %v", err)
	}
	if got := permissions(); strings.Join(got, ",") != "444455556666,all" {
		t.Errorf("after Add group and Remove user: %v", got)
	}
	// The OperationType form still goes to moto as sent.
	if _, err := e.ec2.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(snap),
		Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission, OperationType: ec2types.OperationTypeRemove, UserIds: []string{"444455556666"}, GroupNames: []string{"all"}}); err != nil {
		t.Fatalf("ModifySnapshotAttribute OperationType remove: %v", err)
	}
	if got := permissions(); len(got) != 0 {
		t.Errorf("after removing all: %v", got)
	}

	_, err := e.ec2.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String("snap-0123456789abcdef0"),
		Attribute:              ec2types.SnapshotAttributeNameCreateVolumePermission,
		CreateVolumePermission: &ec2types.CreateVolumePermissionModifications{Add: []ec2types.CreateVolumePermission{{UserId: aws.String("111122223333")}}}})
	if err == nil || errorCode(t, err) != "InvalidSnapshot.NotFound" {
		t.Errorf("ModifySnapshotAttribute of an unknown snapshot: %v, want InvalidSnapshot.NotFound", err)
	}
}

// moto copies an image in the clear whatever Encrypted and KmsKeyId say; the
// emulator makes the copy's snapshots encrypted with the key, as AWS does.
func TestCopyImageEncryption(t *testing.T) {
	e := newEnv(t, ssmemu.Config{NoThrottle: true})
	ctx := e.ctx()
	west := e.ec2In("eu-west-1")
	westKMS := kms.NewFromConfig(awsConfig(), func(o *kms.Options) {
		o.BaseEndpoint = aws.String(e.url)
		o.Region = "eu-west-1"
	})
	key, err := westKMS.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	alias := "alias/emu-" + uuid.NewString()[:8]
	if _, err := westKMS.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	defaultKey, err := westKMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ebs")})
	if err != nil {
		t.Fatalf("DescribeKey alias/aws/ebs: %v", err)
	}

	src := e.newImage()
	copyTo := func(c *ec2.Client, from, region string, encrypted *bool, keyID *string) (string, error) {
		out, err := c.CopyImage(ctx, &ec2.CopyImageInput{SourceImageId: aws.String(from), SourceRegion: aws.String(region),
			Name: aws.String("emu-copy-" + uuid.NewString()[:8]), Encrypted: encrypted, KmsKeyId: keyID})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.ImageId), nil
	}
	// encryption is what DescribeImages and DescribeSnapshots say of an
	// image's (only) snapshot.
	encryption := func(c *ec2.Client, id string) (imageEncrypted, snapshotEncrypted bool, snapshotKey string) {
		t.Helper()
		img := describeImage(t, c, e, id)
		ebs := img.BlockDeviceMappings[0].Ebs
		snaps, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{aws.ToString(ebs.SnapshotId)}})
		if err != nil || len(snaps.Snapshots) != 1 {
			t.Fatalf("DescribeSnapshots %s: %v", aws.ToString(ebs.SnapshotId), err)
		}
		s := snaps.Snapshots[0]
		if ebs.Encrypted == nil {
			t.Errorf("%s: DescribeImages has no Encrypted", id)
		}
		return aws.ToBool(ebs.Encrypted), aws.ToBool(s.Encrypted), aws.ToString(s.KmsKeyId)
	}
	check := func(name string, c *ec2.Client, id string, wantKey string) {
		t.Helper()
		img, snap, key := encryption(c, id)
		if want := wantKey != ""; img != want || snap != want || key != wantKey {
			t.Errorf("%s: image encrypted %v, snapshot encrypted %v with %q; want encrypted %v with %q", name, img, snap, key, want, wantKey)
		}
	}

	withAlias, err := copyTo(west, src, "us-east-1", aws.Bool(true), aws.String(alias))
	if err != nil {
		t.Fatalf("CopyImage with a key alias: %v", err)
	}
	check("copy with KmsKeyId alias", west, withAlias, keyARN)

	withDefault, err := copyTo(west, src, "us-east-1", aws.Bool(true), nil)
	if err != nil {
		t.Fatalf("CopyImage encrypted without a key: %v", err)
	}
	check("copy with the default key", west, withDefault, aws.ToString(defaultKey.KeyMetadata.Arn))

	clear, err := copyTo(west, src, "us-east-1", nil, nil)
	if err != nil {
		t.Fatalf("CopyImage in the clear: %v", err)
	}
	check("copy in the clear", west, clear, "")
	check("the source", e.ec2, src, "")

	// A copy of an encrypted image stays encrypted: in its Region with the
	// same key, in another with that Region's default key.
	again, err := copyTo(west, withAlias, "eu-west-1", nil, nil)
	if err != nil {
		t.Fatalf("CopyImage of an encrypted image: %v", err)
	}
	check("copy of the encrypted copy", west, again, keyARN)
	back, err := copyTo(e.ec2, withAlias, "eu-west-1", nil, nil)
	if err != nil {
		t.Fatalf("CopyImage of an encrypted image into us-east-1: %v", err)
	}
	eastDefault, err := kms.NewFromConfig(awsConfig(), func(o *kms.Options) { o.BaseEndpoint = aws.String(e.url) }).
		DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ebs")})
	if err != nil {
		t.Fatal(err)
	}
	check("copy of the encrypted copy into us-east-1", e.ec2, back, aws.ToString(eastDefault.KeyMetadata.Arn))

	_, err = copyTo(west, src, "us-east-1", nil, aws.String(keyARN))
	if err == nil || errorCode(t, err) != "InvalidParameterCombination" {
		t.Errorf("CopyImage with KmsKeyId but not Encrypted: %v, want InvalidParameterCombination", err)
	}
}
