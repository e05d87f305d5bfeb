package ami

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// LaunchPermissions are who may launch an image besides its owner: accounts,
// Organizations and organizational units, each sorted. The public group
// ("all") is not among them: distribution never grants or revokes it.
type LaunchPermissions struct {
	Accounts            []string
	Organizations       []string
	OrganizationalUnits []string
}

func (p LaunchPermissions) normalized() LaunchPermissions {
	norm := func(s []string) []string {
		s = slices.Clone(s)
		slices.Sort(s)
		return slices.Compact(s)
	}
	return LaunchPermissions{norm(p.Accounts), norm(p.Organizations), norm(p.OrganizationalUnits)}
}

// Equal reports whether p and q grant the same permissions.
func (p LaunchPermissions) Equal(q LaunchPermissions) bool {
	p, q = p.normalized(), q.normalized()
	return slices.Equal(p.Accounts, q.Accounts) && slices.Equal(p.Organizations, q.Organizations) &&
		slices.Equal(p.OrganizationalUnits, q.OrganizationalUnits)
}

func (p LaunchPermissions) list() []ec2types.LaunchPermission {
	var out []ec2types.LaunchPermission
	for _, a := range p.Accounts {
		out = append(out, ec2types.LaunchPermission{UserId: aws.String(a)})
	}
	for _, o := range p.Organizations {
		out = append(out, ec2types.LaunchPermission{OrganizationArn: aws.String(o)})
	}
	for _, u := range p.OrganizationalUnits {
		out = append(out, ec2types.LaunchPermission{OrganizationalUnitArn: aws.String(u)})
	}
	return out
}

// minus is what p grants that q does not.
func (p LaunchPermissions) minus(q LaunchPermissions) LaunchPermissions {
	diff := func(a, b []string) []string {
		var out []string
		for _, x := range a {
			if !slices.Contains(b, x) {
				out = append(out, x)
			}
		}
		return out
	}
	return LaunchPermissions{diff(p.Accounts, q.Accounts), diff(p.Organizations, q.Organizations),
		diff(p.OrganizationalUnits, q.OrganizationalUnits)}
}

func (p LaunchPermissions) empty() bool {
	return len(p.Accounts)+len(p.Organizations)+len(p.OrganizationalUnits) == 0
}

// GetLaunchPermissions reads who may launch the image in region (the clients'
// own when empty).
func GetLaunchPermissions(ctx context.Context, clients *awsx.Clients, region, imageID string) (LaunchPermissions, error) {
	var out *ec2.DescribeImageAttributeOutput
	err := awsx.RetryThrottled(ctx, clients, func(ctx context.Context) (err error) {
		out, err = clients.EC2.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{
			ImageId:   aws.String(imageID),
			Attribute: ec2types.ImageAttributeNameLaunchPermission,
		}, awsx.InRegion(clients, region)...)
		return err
	})
	if err != nil {
		return LaunchPermissions{}, err
	}
	var p LaunchPermissions
	for _, lp := range out.LaunchPermissions {
		switch {
		case aws.ToString(lp.UserId) != "":
			p.Accounts = append(p.Accounts, aws.ToString(lp.UserId))
		case aws.ToString(lp.OrganizationArn) != "":
			p.Organizations = append(p.Organizations, aws.ToString(lp.OrganizationArn))
		case aws.ToString(lp.OrganizationalUnitArn) != "":
			p.OrganizationalUnits = append(p.OrganizationalUnits, aws.ToString(lp.OrganizationalUnitArn))
		}
	}
	return p.normalized(), nil
}

// SetLaunchPermissions makes the image's launch permissions want: it reads
// them and adds and removes only the difference, in one call. The public
// group is left as it is.
func SetLaunchPermissions(ctx context.Context, clients *awsx.Clients, region, imageID string, want LaunchPermissions) error {
	have, err := GetLaunchPermissions(ctx, clients, region, imageID)
	if err != nil {
		return fmt.Errorf("DescribeImageAttribute launchPermission %s: %w", imageID, err)
	}
	want = want.normalized()
	add, remove := want.minus(have), have.minus(want)
	if add.empty() && remove.empty() {
		return nil
	}
	mod := &ec2types.LaunchPermissionModifications{Add: add.list(), Remove: remove.list()}
	err = awsx.RetryThrottled(ctx, clients, func(ctx context.Context) error {
		_, err := clients.EC2.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{
			ImageId:          aws.String(imageID),
			LaunchPermission: mod,
		}, awsx.InRegion(clients, region)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("ModifyImageAttribute launchPermission %s: %w", imageID, err)
	}
	return nil
}

// SnapshotAccounts reads which accounts may create volumes from a snapshot.
func SnapshotAccounts(ctx context.Context, clients *awsx.Clients, region, snapshotID string) ([]string, error) {
	var out *ec2.DescribeSnapshotAttributeOutput
	err := awsx.RetryThrottled(ctx, clients, func(ctx context.Context) (err error) {
		out, err = clients.EC2.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{
			SnapshotId: aws.String(snapshotID),
			Attribute:  ec2types.SnapshotAttributeNameCreateVolumePermission,
		}, awsx.InRegion(clients, region)...)
		return err
	})
	if err != nil {
		return nil, err
	}
	var accounts []string
	for _, p := range out.CreateVolumePermissions {
		if u := aws.ToString(p.UserId); u != "" {
			accounts = append(accounts, u)
		}
	}
	slices.Sort(accounts)
	return accounts, nil
}

// SetSnapshotAccounts gives the accounts in want create-volume permission on
// each snapshot and takes it from those in managed that are not in want;
// accounts neither wanted nor managed (shared by other means) are left alone.
func SetSnapshotAccounts(ctx context.Context, clients *awsx.Clients, region string, snapshots, want, managed []string) error {
	for _, s := range snapshots {
		have, err := SnapshotAccounts(ctx, clients, region, s)
		if err != nil {
			return fmt.Errorf("DescribeSnapshotAttribute createVolumePermission %s: %w", s, err)
		}
		var add, remove []string
		for _, a := range want {
			if !slices.Contains(have, a) {
				add = append(add, a)
			}
		}
		for _, a := range managed {
			if slices.Contains(have, a) && !slices.Contains(want, a) && !slices.Contains(remove, a) {
				remove = append(remove, a)
			}
		}
		// OperationType with UserIds: the form every EC2 implementation
		// takes, one call per kind of change.
		for _, op := range []struct {
			kind  ec2types.OperationType
			users []string
		}{{ec2types.OperationTypeAdd, add}, {ec2types.OperationTypeRemove, remove}} {
			if len(op.users) == 0 {
				continue
			}
			err = awsx.RetryThrottled(ctx, clients, func(ctx context.Context) error {
				_, err := clients.EC2.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{
					SnapshotId:    aws.String(s),
					Attribute:     ec2types.SnapshotAttributeNameCreateVolumePermission,
					OperationType: op.kind,
					UserIds:       op.users,
				}, awsx.InRegion(clients, region)...)
				return err
			})
			if err != nil {
				return fmt.Errorf("ModifySnapshotAttribute createVolumePermission %s %s: %w", op.kind, s, err)
			}
		}
	}
	return nil
}

// Encrypted reports whether any EBS volume of the image is encrypted.
func Encrypted(img ec2types.Image) bool {
	for _, bdm := range img.BlockDeviceMappings {
		if bdm.Ebs != nil && aws.ToBool(bdm.Ebs.Encrypted) {
			return true
		}
	}
	return false
}

// LaunchPermissionsOf reads the launch permissions of every target, in
// parallel.
func LaunchPermissionsOf(ctx context.Context, clients *awsx.Clients, targets []Target) (map[Target]LaunchPermissions, error) {
	out := make(map[Target]LaunchPermissions, len(targets))
	var mu sync.Mutex
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := GetLaunchPermissions(ctx, clients, t.Region, t.ImageID)
			if err != nil {
				errs[i] = fmt.Errorf("DescribeImageAttribute launchPermission %s: %w", t, err)
				return
			}
			mu.Lock()
			out[t] = p
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
