package actions

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Ownership and liveness.
//
// A tag is not proof: anyone allowed ec2:CreateTags can put a run's tags on a
// resource that is not the run's. So the crash-recovery sweep and the end-of-run
// discovery remove only what carries facts that AWS sets at creation and that
// nobody can change afterwards:
//
//   - an instance is a run's when its client token (set by RunInstances, never
//     changed) begins with launchTokenPrefix and the run's execution id;
//   - an image is a run's when its source instance (set by CreateImage) is an
//     instance of that run;
//   - a snapshot is an image's when AWS's own description of it says it was
//     created by CreateImage from that instance for that image.
//
// And a run that is alive holds a lease: every resource it creates carries
// TagLease with the time until which the run vouches for it, renewed while the
// run lives. Only what a run proves it created and whose lease has expired is
// swept; a kept builder's lease never expires.

// TagLease holds the lease of the run that created a resource: an RFC 3339
// time (UTC), or LeaseKept.
const TagLease = systemTagPrefix + "lease-expires"

// LeaseKept is the lease of a builder kept on purpose (keep_builder_instances):
// never swept, removed by the destroy of the resource that records it.
const LeaseKept = "kept"

// launchTokenPrefix starts the client token of every instance a run launches.
const launchTokenPrefix = "amibake-"

// LaunchToken is the client token for one RunInstances call of a run: the
// run's execution id and, so that a retried call is idempotent, a digest of
// the document's own token when it gave one, else a random suffix. At most 53
// characters (AWS allows 64).
func LaunchToken(executionID, given string) string {
	var suffix string
	if given != "" {
		sum := sha256.Sum256([]byte(given))
		suffix = hex.EncodeToString(sum[:4])
	} else {
		var b [4]byte
		_, _ = rand.Read(b[:])
		suffix = hex.EncodeToString(b[:])
	}
	return launchTokenPrefix + executionID + "-" + suffix
}

// LaunchedBy reports whether the instance was launched by the run with the
// given execution id, by its client token.
func LaunchedBy(in ec2types.Instance, executionID string) bool {
	if executionID == "" {
		return false
	}
	rest, ok := strings.CutPrefix(aws.ToString(in.ClientToken), launchTokenPrefix+executionID+"-")
	if !ok || len(rest) != 8 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}

// LeaseValue is the lease tag value for a lease that ends at t.
func LeaseValue(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// leaseState says what a lease tag means at now.
type leaseState int

const (
	leaseUnknown leaseState = iota // missing or unreadable: liveness not provable
	leaseLive
	leaseExpired
	leaseKept
)

func (s leaseState) String() string {
	return [...]string{"no readable lease", "lease live", "lease expired", "kept"}[s]
}

func leaseOf(tags []ec2types.Tag, now time.Time) leaseState {
	v, ok := tagValue(tags, TagLease)
	switch {
	case !ok:
		return leaseUnknown
	case v == LeaseKept:
		return leaseKept
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return leaseUnknown
	}
	if now.Before(t) {
		return leaseLive
	}
	return leaseExpired
}

func tagValue(tags []ec2types.Tag, key string) (string, bool) {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value), true
		}
	}
	return "", false
}

// createdByImage matches AWS's description of a snapshot that CreateImage made:
// "Created by CreateImage(i-…) for ami-…".
var createdByImage = regexp.MustCompile(`^Created by CreateImage\((i-[0-9a-f]+)\) for (ami-[0-9a-f]+)`)

// snapshotOrigin returns the instance and image named in a snapshot's
// description when CreateImage made it.
func snapshotOrigin(s ec2types.Snapshot) (instanceID, imageID string, ok bool) {
	m := createdByImage.FindStringSubmatch(aws.ToString(s.Description))
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}
