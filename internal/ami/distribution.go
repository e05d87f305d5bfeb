package ami

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// CopyRequest is one copy of an image into another region.
type CopyRequest struct {
	SourceRegion  string
	SourceImageID string
	// Region is where the copy is made (CopyImage is called there).
	Region      string
	Name        string
	Description string
	// KmsKeyID, when set, encrypts the copy's snapshots with that key.
	KmsKeyID string
	// Tags are put on the copy and its snapshots at creation, with CopyOfTag.
	Tags map[string]string
}

func (r CopyRequest) tags() map[string]string {
	t := maps.Clone(r.Tags)
	if t == nil {
		t = map[string]string{}
	}
	t[CopyOfTag] = CopyOf(r.SourceRegion, r.SourceImageID)
	return t
}

// clientToken makes CopyImage idempotent: a request repeated after a lost
// answer, or by the next apply after a crash, returns the copy already made
// instead of making another. salt is 0 for the first attempt.
func (r CopyRequest) clientToken(salt int) string {
	h := sha256.New()
	for _, s := range []string{r.SourceRegion, r.SourceImageID, r.Region, r.Name, r.KmsKeyID, strconv.Itoa(salt)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	// At most 64 ASCII characters.
	return "amibake-" + hex.EncodeToString(h.Sum(nil))[:48]
}

// CopyResult is what became of one CopyRequest.
type CopyResult struct {
	Request CopyRequest
	// ImageID is the copy, set as soon as CopyImage answered; it stays set
	// when the copy failed and could not be removed, so that the caller
	// records it instead of leaving it untracked.
	ImageID string
	// Image is the copy as last described, once available.
	Image *ec2types.Image
	Err   error
}

// CopyImages makes the copies in parallel, each in its own region, and waits
// until they are available (the watchers of each region batch the waits). A
// copy that fails is deregistered with its snapshots. Results are in the
// order of reqs.
func CopyImages(ctx context.Context, clients *awsx.Clients, reqs []CopyRequest) []CopyResult {
	out := make([]CopyResult, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = copyImage(ctx, clients, r)
		}()
	}
	wg.Wait()
	return out
}

// errCopyGone: the client token named a copy made earlier and since removed
// (a region removed, then added again): a new token makes a new copy.
var errCopyGone = errors.New("the copy is gone")

func copyImage(ctx context.Context, clients *awsx.Clients, r CopyRequest) CopyResult {
	res := CopyResult{Request: r}
	for salt := 0; salt < 2; salt++ {
		id, err := startCopy(ctx, clients, r, salt)
		if err != nil {
			res.Err = fmt.Errorf("CopyImage %s from %s to %s: %w", r.SourceImageID, r.SourceRegion, r.Region, err)
			return res
		}
		res.ImageID = id
		img, err := waitCopy(ctx, clients, r.Region, id)
		if errors.Is(err, errCopyGone) && salt == 0 {
			continue
		}
		if err != nil {
			res.Err = fmt.Errorf("copy %s of %s in %s: %w", id, r.SourceImageID, r.Region, err)
			if ctx.Err() == nil {
				res.removeFailed(ctx, clients)
			}
			return res
		}
		res.Image = img
		if err := ensureTags(ctx, clients, r.Region, img, r.tags()); err != nil {
			res.Err = fmt.Errorf("tagging copy %s in %s: %w", id, r.Region, err)
		}
		return res
	}
	res.Err = fmt.Errorf("copy %s of %s in %s: %w", res.ImageID, r.SourceImageID, r.Region, errCopyGone)
	return res
}

// removeFailed deregisters a copy that failed, with its snapshots; the id is
// forgotten only when that worked.
func (res *CopyResult) removeFailed(ctx context.Context, clients *awsx.Clients) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), snapshotReleaseWait)
	defer cancel()
	if err := Remove(cctx, clients, res.Request.Region, res.ImageID, nil).Err(); err != nil {
		res.Err = fmt.Errorf("%w; removing the failed copy: %v", res.Err, err)
		return
	}
	res.ImageID = ""
}

func startCopy(ctx context.Context, clients *awsx.Clients, r CopyRequest, salt int) (string, error) {
	tags := r.tags()
	in := &ec2.CopyImageInput{
		SourceRegion:  aws.String(r.SourceRegion),
		SourceImageId: aws.String(r.SourceImageID),
		Name:          aws.String(r.Name),
		ClientToken:   aws.String(r.clientToken(salt)),
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeImage, Tags: awsx.EC2Tags(tags)},
			{ResourceType: ec2types.ResourceTypeSnapshot, Tags: awsx.EC2Tags(tags)},
		},
	}
	if r.Description != "" {
		in.Description = aws.String(r.Description)
	}
	if r.KmsKeyID != "" {
		in.Encrypted = aws.Bool(true)
		in.KmsKeyId = aws.String(r.KmsKeyID)
	}
	var out *ec2.CopyImageOutput
	err := awsx.RetryThrottled(ctx, clients, func(ctx context.Context) (err error) {
		out, err = clients.EC2.CopyImage(ctx, in, awsx.InRegion(clients, r.Region)...)
		return err
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ImageId), nil
}

// waitCopy waits until the copy is available, in its region. It returns
// errCopyGone when the copy is deregistered or not listed at all.
func waitCopy(ctx context.Context, clients *awsx.Clients, region, id string) (*ec2types.Image, error) {
	if found, err := DescribeIn(ctx, clients, region, []string{id}); err == nil {
		if img, ok := found[id]; ok && img.State == ec2types.ImageStateDeregistered {
			return nil, errCopyGone
		}
	}
	imgs, err := clients.ImagesIn(region).WaitAvailable(ctx, []string{id})
	if err == nil {
		img := imgs[id]
		return &img, nil
	}
	if ctx.Err() != nil {
		return nil, err
	}
	if _, ferr := FindIn(ctx, clients, region, id); IsNotFound(ferr) {
		return nil, fmt.Errorf("%w: %v", errCopyGone, err)
	}
	return nil, err
}

// ensureTags puts the tags on an image and its snapshots when the image lacks
// any of them: CopyImage's tag specifications are the rule, this the safety
// net for a copy made without them (an earlier attempt, a slow tagger).
func ensureTags(ctx context.Context, clients *awsx.Clients, region string, img *ec2types.Image, want map[string]string) error {
	have := TagMap(img)
	missing := false
	for k, v := range want {
		if have[k] != v {
			missing = true
			break
		}
	}
	if !missing {
		return nil
	}
	ids := append([]string{aws.ToString(img.ImageId)}, Snapshots(*img)...)
	return awsx.RetryThrottled(ctx, clients, func(ctx context.Context) error {
		_, err := clients.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids, Tags: awsx.EC2Tags(want)}, awsx.InRegion(clients, region)...)
		return err
	})
}

// Target is one image of a distribution: the source or a copy.
type Target struct {
	Region  string
	ImageID string
}

func (t Target) String() string { return t.ImageID + " in " + t.Region }

// DescribeTargets describes the images of targets with one DescribeImages per
// region, in parallel. Images that are gone or deregistered are absent.
func DescribeTargets(ctx context.Context, clients *awsx.Clients, targets []Target) (map[Target]ec2types.Image, error) {
	byRegion := map[string][]string{}
	for _, t := range targets {
		byRegion[t.Region] = append(byRegion[t.Region], t.ImageID)
	}
	out := map[Target]ec2types.Image{}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for region, ids := range byRegion {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found, err := DescribeIn(ctx, clients, region, ids)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !awsx.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("DescribeImages in %s: %w", region, err))
				return
			}
			for id, img := range found {
				if img.State != ec2types.ImageStateDeregistered {
					out[Target{region, id}] = img
				}
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// RemoveTargets removes images in parallel, each with its snapshots when
// deleteSnapshots (and the known ones, by image id, which an image already
// deregistered no longer lists). It returns one Removal per target, in order.
func RemoveTargets(ctx context.Context, clients *awsx.Clients, targets []Target, known map[string][]string, deleteSnapshots bool) []Removal {
	out := make([]Removal, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if deleteSnapshots {
				out[i] = Remove(ctx, clients, t.Region, t.ImageID, known[t.ImageID])
				return
			}
			err := deregister(ctx, clients, t.Region, t.ImageID)
			if err != nil && !awsx.IsNotFound(err) {
				out[i].Failures = append(out[i].Failures, Failure{Kind: "image", ID: t.ImageID, Region: t.Region, Err: err})
				return
			}
			out[i].Deregistered = []string{t.ImageID}
		}()
	}
	wg.Wait()
	return out
}

// protectionBlock says why an image cannot be deregistered now, "" when it
// can.
func protectionBlock(img ec2types.Image, now time.Time) string {
	p := ProtectionOf(img)
	switch {
	case p.Enabled && p.Cooldown:
		return "deregistration protection is enabled, with cooldown"
	case p.Enabled:
		return "deregistration protection is enabled"
	case p.Until.After(now):
		return "deregistration protection was disabled with a cooldown that ends at " + p.Until.UTC().Format(time.RFC3339)
	case p.CoolingDown != "" && p.Until.IsZero():
		return fmt.Sprintf("deregistration protection was disabled with a cooldown (AWS says %q)", p.CoolingDown)
	}
	return ""
}

// Protected lists, one line each, the images among targets that cannot be
// deregistered now because of their deregistration protection.
func Protected(images map[Target]ec2types.Image, targets []Target, now time.Time) []string {
	var out []string
	for _, t := range targets {
		img, ok := images[t]
		if !ok {
			continue
		}
		if why := protectionBlock(img, now); why != "" {
			out = append(out, t.String()+": "+why)
		}
	}
	return out
}
