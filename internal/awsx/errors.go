package awsx

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// ErrorCode returns the AWS error code carried by err ("InvalidInstanceID.NotFound"),
// or "" when err is not an AWS API error.
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// throttleCodes are the codes AWS services answer when a caller is rate limited.
// The SDK's own list is included so that anything it backs off on, we back off on.
var throttleCodes = func() map[string]bool {
	m := map[string]bool{
		"RequestLimitExceeded":                   true,
		"Throttling":                             true,
		"ThrottlingException":                    true,
		"ThrottledException":                     true,
		"TooManyRequestsException":               true,
		"RequestThrottled":                       true,
		"RequestThrottledException":              true,
		"EC2ThrottledException":                  true,
		"SlowDown":                               true,
		"ProvisionedThroughputExceededException": true,
		"BandwidthLimitExceeded":                 true,
	}
	for c := range retry.DefaultThrottleErrorCodes {
		m[c] = true
	}
	return m
}()

// IsThrottle reports whether err is AWS telling the caller to slow down.
func IsThrottle(err error) bool {
	if err == nil {
		return false
	}
	return throttleCodes[ErrorCode(err)]
}

var notFoundCodes = map[string]bool{
	"InvalidInstanceID.NotFound":       true,
	"InvalidAMIID.NotFound":            true,
	"InvalidAMIID.Unavailable":         true,
	"InvalidSnapshot.NotFound":         true,
	"InvalidVolume.NotFound":           true,
	"InvalidGroup.NotFound":            true,
	"InvalidKeyPair.NotFound":          true,
	"InvalidCommandId":                 true,
	"InvocationDoesNotExist":           true,
	"ParameterNotFound":                true,
	"ResourceNotFoundException":        true,
	"NoSuchEntity":                     true,
	"InvalidResourceId":                true,
	"DoesNotExistException":            true,
	"InvalidSnapshotID.NotFound":       true,
	"InvalidLaunchTemplateId.NotFound": true,
}

// ErrNotFound is returned (wrapped) by lookups that found nothing without AWS
// raising an error, e.g. a Describe that lists no such image.
var ErrNotFound = errors.New("not found")

// IsNotFound reports whether err says the resource does not exist (or no longer
// does). Deletes treat it as success; waiters right after a create treat it as
// eventual consistency.
func IsNotFound(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrNotFound) {
		return true
	}
	code := ErrorCode(err)
	if v, ok := notFoundCodes[code]; ok {
		return v
	}
	return strings.HasSuffix(code, ".NotFound") || strings.HasSuffix(code, "NotFoundException")
}

// IsTransient reports whether err is worth another poll later: a throttle, or
// an error the SDK already judged retryable but ran out of attempts on.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if IsThrottle(err) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var mae *retry.MaxAttemptsError
	return errors.As(err, &mae)
}
