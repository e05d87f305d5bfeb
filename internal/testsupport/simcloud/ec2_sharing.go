package simcloud

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// imageSharing is what distribution changes on an image: who may launch it,
// when it is deprecated, and its deregistration protection.
type imageSharing struct {
	permissions []ec2types.LaunchPermission
	deprecateAt time.Time // zero: not deprecated
	// protection is DescribeImages' DeregistrationProtection ("" before any
	// call: AWS then says "disabled").
	protection string
}

// sharingView adds what imageSharing says to an image as DescribeImages shows
// it.
func (img *image) sharingView(v *ec2types.Image) {
	if !img.sharing.deprecateAt.IsZero() {
		v.DeprecationTime = aws.String(img.sharing.deprecateAt.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if img.deprecationText != "" {
		v.DeprecationTime = aws.String(img.deprecationText)
	}
	p := img.sharing.protection
	if p == "" {
		p = "disabled"
	}
	v.DeregistrationProtection = aws.String(p)
}

// protected reports whether DeregisterImage must refuse the image.
func (img *image) protected() bool { return strings.HasPrefix(img.sharing.protection, "enabled") }

// imageByID returns the image by id as a call addressed to region sees it,
// or AWS's not-found error. Caller holds mu.
func (c *Cloud) imageByID(id, region string) (*image, error) {
	img, ok := c.images[id]
	if !ok || img.fixed == ec2types.ImageStateDeregistered || !c.seen(img.region, region) {
		return nil, apiError("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
	}
	return img, nil
}

// snapshotByID is imageByID for snapshots. Caller holds mu.
func (c *Cloud) snapshotByID(id, region string) (*snapshot, error) {
	s, ok := c.snapshots[id]
	if !ok || !c.seen(s.region, region) {
		return nil, apiError("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
	}
	return s, nil
}

func (e ec2Client) DescribeImageAttribute(ctx context.Context, in *ec2.DescribeImageAttributeInput, optFns ...func(*ec2.Options)) (out *ec2.DescribeImageAttributeOutput, err error) {
	err = e.c.call(ctx, "EC2", "DescribeImageAttribute", in, ec2Region(optFns), func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		img, err := e.c.imageByID(aws.ToString(in.ImageId), ec2Region(optFns))
		if err != nil {
			return err
		}
		if in.Attribute != ec2types.ImageAttributeNameLaunchPermission {
			return apiError("InvalidParameterValue", "attribute %s is not modelled", in.Attribute)
		}
		out = &ec2.DescribeImageAttributeOutput{ImageId: in.ImageId, LaunchPermissions: slices.Clone(img.sharing.permissions)}
		return nil
	})
	return out, err
}

func (e ec2Client) ModifyImageAttribute(ctx context.Context, in *ec2.ModifyImageAttributeInput, optFns ...func(*ec2.Options)) (out *ec2.ModifyImageAttributeOutput, err error) {
	err = e.c.call(ctx, "EC2", "ModifyImageAttribute", in, ec2Region(optFns), func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		img, err := e.c.imageByID(aws.ToString(in.ImageId), ec2Region(optFns))
		if err != nil {
			return err
		}
		if in.LaunchPermission == nil {
			return apiError("InvalidParameterValue", "only launch permissions are modelled")
		}
		for _, p := range in.LaunchPermission.Add {
			if !slices.ContainsFunc(img.sharing.permissions, samePermission(p)) {
				img.sharing.permissions = append(img.sharing.permissions, p)
			}
		}
		for _, p := range in.LaunchPermission.Remove {
			img.sharing.permissions = slices.DeleteFunc(img.sharing.permissions, samePermission(p))
		}
		out = &ec2.ModifyImageAttributeOutput{}
		return nil
	})
	return out, err
}

func samePermission(p ec2types.LaunchPermission) func(ec2types.LaunchPermission) bool {
	return func(q ec2types.LaunchPermission) bool {
		return aws.ToString(p.UserId) == aws.ToString(q.UserId) && p.Group == q.Group &&
			aws.ToString(p.OrganizationArn) == aws.ToString(q.OrganizationArn) &&
			aws.ToString(p.OrganizationalUnitArn) == aws.ToString(q.OrganizationalUnitArn)
	}
}

func (e ec2Client) DescribeSnapshotAttribute(ctx context.Context, in *ec2.DescribeSnapshotAttributeInput, optFns ...func(*ec2.Options)) (out *ec2.DescribeSnapshotAttributeOutput, err error) {
	err = e.c.call(ctx, "EC2", "DescribeSnapshotAttribute", in, ec2Region(optFns), func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		s, err := e.c.snapshotByID(aws.ToString(in.SnapshotId), ec2Region(optFns))
		if err != nil {
			return err
		}
		out = &ec2.DescribeSnapshotAttributeOutput{SnapshotId: in.SnapshotId}
		for _, u := range s.volumeUsers {
			out.CreateVolumePermissions = append(out.CreateVolumePermissions, ec2types.CreateVolumePermission{UserId: aws.String(u)})
		}
		return nil
	})
	return out, err
}

func (e ec2Client) ModifySnapshotAttribute(ctx context.Context, in *ec2.ModifySnapshotAttributeInput, optFns ...func(*ec2.Options)) (out *ec2.ModifySnapshotAttributeOutput, err error) {
	err = e.c.call(ctx, "EC2", "ModifySnapshotAttribute", in, ec2Region(optFns), func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		s, err := e.c.snapshotByID(aws.ToString(in.SnapshotId), ec2Region(optFns))
		if err != nil {
			return err
		}
		add, remove := VolumePermissionChange(in)
		for _, u := range add {
			if !slices.Contains(s.volumeUsers, u) {
				s.volumeUsers = append(s.volumeUsers, u)
			}
		}
		s.volumeUsers = slices.DeleteFunc(s.volumeUsers, func(u string) bool { return slices.Contains(remove, u) })
		out = &ec2.ModifySnapshotAttributeOutput{}
		return nil
	})
	return out, err
}

// VolumePermissionChange is the accounts a ModifySnapshotAttribute call gives
// and takes createVolumePermission, whichever of its two forms it uses
// (CreateVolumePermission, or OperationType with UserIds:
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html).
func VolumePermissionChange(in *ec2.ModifySnapshotAttributeInput) (add, remove []string) {
	if in.CreateVolumePermission != nil {
		for _, p := range in.CreateVolumePermission.Add {
			add = append(add, aws.ToString(p.UserId))
		}
		for _, p := range in.CreateVolumePermission.Remove {
			remove = append(remove, aws.ToString(p.UserId))
		}
	}
	switch in.OperationType {
	case ec2types.OperationTypeAdd:
		add = append(add, in.UserIds...)
	case ec2types.OperationTypeRemove:
		remove = append(remove, in.UserIds...)
	}
	return add, remove
}

func (e ec2Client) EnableImageDeprecation(ctx context.Context, in *ec2.EnableImageDeprecationInput, optFns ...func(*ec2.Options)) (out *ec2.EnableImageDeprecationOutput, err error) {
	err = e.c.call(ctx, "EC2", "EnableImageDeprecation", in, ec2Region(optFns), func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		img, err := e.c.imageByID(aws.ToString(in.ImageId), ec2Region(optFns))
		if err != nil {
			return err
		}
		at := aws.ToTime(in.DeprecateAt)
		if at.Before(e.c.Now()) {
			return apiError("InvalidParameterValue", "The deprecation time can't be in the past.")
		}
		// AWS rounds the seconds to the nearest minute.
		img.sharing.deprecateAt = at.Round(time.Minute)
		img.deprecationText = ""
		out = &ec2.EnableImageDeprecationOutput{Return: aws.Bool(true)}
		return nil
	})
	return out, err
}

func (e ec2Client) DisableImageDeprecation(ctx context.Context, in *ec2.DisableImageDeprecationInput, optFns ...func(*ec2.Options)) (out *ec2.DisableImageDeprecationOutput, err error) {
	err = e.c.call(ctx, "EC2", "DisableImageDeprecation", in, ec2Region(optFns), func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		img, err := e.c.imageByID(aws.ToString(in.ImageId), ec2Region(optFns))
		if err != nil {
			return err
		}
		img.sharing.deprecateAt, img.deprecationText = time.Time{}, ""
		out = &ec2.DisableImageDeprecationOutput{Return: aws.Bool(true)}
		return nil
	})
	return out, err
}

func (e ec2Client) EnableImageDeregistrationProtection(ctx context.Context, in *ec2.EnableImageDeregistrationProtectionInput, optFns ...func(*ec2.Options)) (out *ec2.EnableImageDeregistrationProtectionOutput, err error) {
	err = e.c.call(ctx, "EC2", "EnableImageDeregistrationProtection", in, ec2Region(optFns), func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		img, err := e.c.imageByID(aws.ToString(in.ImageId), ec2Region(optFns))
		if err != nil {
			return err
		}
		img.sharing.protection = "enabled-without-cooldown"
		if aws.ToBool(in.WithCooldown) {
			img.sharing.protection = "enabled-with-cooldown"
		}
		out = &ec2.EnableImageDeregistrationProtectionOutput{Return: aws.String("true")}
		return nil
	})
	return out, err
}

func (e ec2Client) DisableImageDeregistrationProtection(ctx context.Context, in *ec2.DisableImageDeregistrationProtectionInput, optFns ...func(*ec2.Options)) (out *ec2.DisableImageDeregistrationProtectionOutput, err error) {
	err = e.c.call(ctx, "EC2", "DisableImageDeregistrationProtection", in, ec2Region(optFns), func() error {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		img, err := e.c.imageByID(aws.ToString(in.ImageId), ec2Region(optFns))
		if err != nil {
			return err
		}
		img.sharing.protection = "disabled"
		out = &ec2.DisableImageDeregistrationProtectionOutput{Return: aws.String("true")}
		return nil
	})
	return out, err
}
