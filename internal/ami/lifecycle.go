package ami

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// DeprecationPrecision is how precisely AWS keeps a deprecation time: it
// rounds the seconds to the nearest minute.
const DeprecationPrecision = time.Minute

// DeprecationTime is when the image is deprecated; ok is false when it is not
// scheduled to be.
func DeprecationTime(img ec2types.Image) (at time.Time, ok bool) {
	s := aws.ToString(img.DeprecationTime)
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// SameDeprecation reports whether two deprecation times are the same for AWS,
// which rounds to the minute.
func SameDeprecation(a, b time.Time) bool {
	d := a.Sub(b)
	return d < DeprecationPrecision && d > -DeprecationPrecision
}

// SetDeprecation schedules the image's deprecation at at, or cancels it when
// at is zero.
func SetDeprecation(ctx context.Context, clients *awsx.Clients, region, imageID string, at time.Time) error {
	err := awsx.RetryThrottled(ctx, clients, func(ctx context.Context) error {
		if at.IsZero() {
			_, err := clients.EC2.DisableImageDeprecation(ctx, &ec2.DisableImageDeprecationInput{ImageId: aws.String(imageID)},
				awsx.InRegion(clients, region)...)
			return err
		}
		_, err := clients.EC2.EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{
			ImageId: aws.String(imageID), DeprecateAt: aws.Time(at.UTC()),
		}, awsx.InRegion(clients, region)...)
		return err
	})
	switch {
	case err != nil && at.IsZero():
		return fmt.Errorf("DisableImageDeprecation %s: %w", imageID, err)
	case err != nil:
		return fmt.Errorf("EnableImageDeprecation %s at %s: %w", imageID, at.UTC().Format(time.RFC3339), err)
	}
	return nil
}

// Protection is an image's deregistration protection as DescribeImages shows it.
type Protection struct {
	Enabled bool
	// Cooldown: once disabled, the image stays protected for 24 hours.
	Cooldown bool
	// Until is the end of the cooldown of protection disabled recently, when
	// AWS's value says it; CoolingDown is that value.
	Until       time.Time
	CoolingDown string
}

// ProtectionOf reads DescribeImages' DeregistrationProtection:
// "enabled-without-cooldown", "enabled-with-cooldown", "disabled", or, while
// the cooldown of a protection disabled recently runs, "disabled" followed by
// when it ends. AWS documents no exact form for the last, so any other
// "disabled…" value counts as a running cooldown, with its end when it can be
// read ("disabled after <time>", "disabled-until-<time>", …).
func ProtectionOf(img ec2types.Image) Protection {
	raw := strings.TrimSpace(aws.ToString(img.DeregistrationProtection))
	s := strings.ToLower(raw)
	switch {
	case strings.HasPrefix(s, "enabled"):
		return Protection{Enabled: true, Cooldown: strings.HasSuffix(s, "-with-cooldown")}
	case s == "" || s == "disabled":
		return Protection{}
	}
	p := Protection{CoolingDown: raw}
	// The time itself holds dashes: take the longest suffix that parses.
	for j := len("disabled"); j < len(raw); j++ {
		if t, err := time.Parse(time.RFC3339, raw[j:]); err == nil {
			p.Until = t
			break
		}
	}
	return p
}

// SetProtection enables deregistration protection (with or without the
// cooldown) or disables it.
func SetProtection(ctx context.Context, clients *awsx.Clients, region, imageID string, enabled, cooldown bool) error {
	err := awsx.RetryThrottled(ctx, clients, func(ctx context.Context) error {
		if !enabled {
			_, err := clients.EC2.DisableImageDeregistrationProtection(ctx, &ec2.DisableImageDeregistrationProtectionInput{
				ImageId: aws.String(imageID)}, awsx.InRegion(clients, region)...)
			return err
		}
		_, err := clients.EC2.EnableImageDeregistrationProtection(ctx, &ec2.EnableImageDeregistrationProtectionInput{
			ImageId: aws.String(imageID), WithCooldown: aws.Bool(cooldown)}, awsx.InRegion(clients, region)...)
		return err
	})
	switch {
	case err != nil && enabled:
		return fmt.Errorf("EnableImageDeregistrationProtection %s: %w", imageID, err)
	case err != nil:
		return fmt.Errorf("DisableImageDeregistrationProtection %s: %w", imageID, err)
	}
	return nil
}

// Settings are what a distribution sets on every image, source and copies.
// A nil field is left as it is.
type Settings struct {
	Permissions *LaunchPermissions
	// ShareSnapshots gives the accounts of Permissions create-volume
	// permission on the snapshots of every image; encrypted images get it
	// whatever this says (launching or copying them from another account needs
	// it). SnapshotAccountsManaged are accounts shared with before, whose
	// permission is taken back when no longer wanted.
	ShareSnapshots          bool
	SnapshotAccountsManaged []string
	// Deprecation: a zero time cancels a scheduled deprecation.
	Deprecation *time.Time
	Protection  *Protection
}

// Apply makes every target match s, in parallel, changing only what differs
// from what DescribeImages (images) and DescribeImageAttribute say. Protection
// is disabled first and enabled last, so that nothing is left half protected
// by a failure in between. It returns one error per target that failed.
func Apply(ctx context.Context, clients *awsx.Clients, images map[Target]ec2types.Image, targets []Target, s Settings) error {
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		img, ok := images[t]
		if !ok {
			errs[i] = fmt.Errorf("image %s: %w", t, &NotFoundError{ImageID: t.ImageID})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := apply(ctx, clients, t, img, s); err != nil {
				errs[i] = fmt.Errorf("image %s: %w", t, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func apply(ctx context.Context, clients *awsx.Clients, t Target, img ec2types.Image, s Settings) error {
	cur := ProtectionOf(img)
	if s.Protection != nil && !s.Protection.Enabled && cur.Enabled {
		if err := SetProtection(ctx, clients, t.Region, t.ImageID, false, false); err != nil {
			return err
		}
	}
	if s.Permissions != nil {
		if err := SetLaunchPermissions(ctx, clients, t.Region, t.ImageID, *s.Permissions); err != nil {
			return err
		}
		var want []string
		if s.ShareSnapshots || Encrypted(img) {
			want = s.Permissions.normalized().Accounts
		}
		managed := append(append([]string(nil), s.SnapshotAccountsManaged...), s.Permissions.Accounts...)
		if err := SetSnapshotAccounts(ctx, clients, t.Region, Snapshots(img), want, managed); err != nil {
			return err
		}
	}
	if s.Deprecation != nil {
		have, scheduled := DeprecationTime(img)
		want := *s.Deprecation
		switch {
		case want.IsZero() && !scheduled:
		case !want.IsZero() && scheduled && SameDeprecation(have, want):
		default:
			if err := SetDeprecation(ctx, clients, t.Region, t.ImageID, want); err != nil {
				return err
			}
		}
	}
	if s.Protection != nil && s.Protection.Enabled && (!cur.Enabled || cur.Cooldown != s.Protection.Cooldown) {
		if err := SetProtection(ctx, clients, t.Region, t.ImageID, true, s.Protection.Cooldown); err != nil {
			return err
		}
	}
	return nil
}
