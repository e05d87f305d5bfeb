package awsx

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
)

func TestErrorClasses(t *testing.T) {
	wrap := func(code string) error {
		return fmt.Errorf("operation error EC2: X, %w", &smithy.GenericAPIError{Code: code})
	}
	tests := []struct {
		err                error
		code               string
		throttle, notFound bool
	}{
		{wrap("RequestLimitExceeded"), "RequestLimitExceeded", true, false},
		{wrap("ThrottlingException"), "ThrottlingException", true, false},
		{wrap("TooManyRequestsException"), "TooManyRequestsException", true, false},
		{wrap("InvalidInstanceID.NotFound"), "InvalidInstanceID.NotFound", false, true},
		{wrap("InvalidAMIID.Unavailable"), "InvalidAMIID.Unavailable", false, true},
		{wrap("InvalidSnapshot.NotFound"), "InvalidSnapshot.NotFound", false, true},
		{wrap("InvalidInstanceID.Malformed"), "InvalidInstanceID.Malformed", false, false},
		{errors.New("plain"), "", false, false},
	}
	for _, tt := range tests {
		if got := ErrorCode(tt.err); got != tt.code {
			t.Errorf("ErrorCode(%v) = %q", tt.err, got)
		}
		if got := IsThrottle(tt.err); got != tt.throttle {
			t.Errorf("IsThrottle(%v) = %v", tt.err, got)
		}
		if got := IsNotFound(tt.err); got != tt.notFound {
			t.Errorf("IsNotFound(%v) = %v", tt.err, got)
		}
	}
}
