package awsx

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
)

// CredentialsProblem says what went wrong with the credentials.
type CredentialsProblem int

const (
	// CredentialsNotFound: no source of the chain had credentials.
	CredentialsNotFound CredentialsProblem = iota + 1
	// CredentialsRejected: credentials were found and AWS refused them.
	CredentialsRejected
	// RoleNotAssumed: the provider's assume_role could not be assumed.
	RoleNotAssumed
)

// CredentialsError says which credentials were tried and why they did not
// work. Code is the AWS error code when AWS answered.
type CredentialsError struct {
	Problem CredentialsProblem
	Code    string
	Msg     string
	Err     error
}

func (e *CredentialsError) Error() string { return e.Msg }
func (e *CredentialsError) Unwrap() error { return e.Err }

// getenv reads the environment; a variable so that the message builders can be
// tested with a fixed one.
type getenv func(string) string

// MaskKeyID shows enough of an access key id to tell which key it is: the
// first four characters (AKIA for a long-term key, ASIA for a temporary one)
// and the last four.
func MaskKeyID(id string) string {
	switch {
	case id == "":
		return "no key id"
	case len(id) < 12:
		return "…" + id[len(id)-min(len(id), 2):]
	}
	return id[:4] + "…" + id[len(id)-4:]
}

// describeCredentials names the source of creds as a user would look for it.
func describeCredentials(c Config, env getenv, creds aws.Credentials) string {
	key := MaskKeyID(creds.AccessKeyID)
	src := creds.Source
	switch {
	case src == "StaticCredentials" && c.AccessKey != "":
		return fmt.Sprintf("static credentials from the provider's access_key (%s)", key)
	case src == config.CredentialsSourceName:
		s := fmt.Sprintf("credentials from the environment (AWS_ACCESS_KEY_ID %s", key)
		if creds.SessionToken != "" {
			s += ", with AWS_SESSION_TOKEN"
		}
		return s + ")"
	case strings.HasPrefix(src, "SharedConfigCredentials"):
		file := strings.TrimSpace(strings.TrimPrefix(src, "SharedConfigCredentials:"))
		return fmt.Sprintf("credentials from the shared file %s, profile %q (%s)", file, profileName(c, env), key)
	case src == "EC2RoleProvider":
		return fmt.Sprintf("instance role credentials from EC2 instance metadata (IMDS) (%s)", key)
	case src == "CredentialsEndpointProvider":
		return fmt.Sprintf("container credentials from AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI (%s)", key)
	case src == "WebIdentityCredentials":
		return fmt.Sprintf("web identity credentials for role %s from AWS_WEB_IDENTITY_TOKEN_FILE (%s)", orUnset(env("AWS_ROLE_ARN")), key)
	case src == "SSOProvider":
		return fmt.Sprintf("IAM Identity Center (SSO) credentials of profile %q (%s)", profileName(c, env), key)
	case src == "ProcessProvider":
		return fmt.Sprintf("credentials from the credential_process of profile %q (%s)", profileName(c, env), key)
	case src == "AssumeRoleProvider":
		return fmt.Sprintf("credentials of the role assumed by profile %q (%s)", profileName(c, env), key)
	case src == "":
		return fmt.Sprintf("credentials (%s)", key)
	}
	return fmt.Sprintf("credentials from %s (%s)", src, key)
}

// rejectedMessage: the credentials were found, and STS refused them.
func rejectedMessage(who, call, endpoint string, err error) string {
	return fmt.Sprintf("%s were rejected by %s at %s: %s", who, call, endpoint, apiErrorText(err))
}

// roleNotAssumedMessage: the provider's assume_role failed.
func roleNotAssumedMessage(role, who, endpoint string, err error) string {
	return fmt.Sprintf("role %s (assume_role in the provider block) could not be assumed with %s through STS at %s: %s",
		role, who, endpoint, apiErrorText(err))
}

// notFoundMessage lists every place the SDK's chain looked in, as configured
// and as the environment says, and ends with the SDK's own error.
func notFoundMessage(c Config, env getenv, err error) string {
	set := func(ok bool) string {
		if ok {
			return "set"
		}
		return "not set"
	}
	credFiles := c.SharedCredentialsFiles
	if len(credFiles) == 0 {
		credFiles = []string{config.DefaultSharedCredentialsFilename()}
	}
	confFiles := c.SharedConfigFiles
	if len(confFiles) == 0 {
		confFiles = []string{config.DefaultSharedConfigFilename()}
	}
	imds := "IMDS"
	if strings.EqualFold(env("AWS_EC2_METADATA_DISABLED"), "true") {
		imds = "IMDS, disabled by AWS_EC2_METADATA_DISABLED"
	}
	places := []string{
		"provider arguments (access_key/secret_key " + set(c.AccessKey != "") + ")",
		"environment (AWS_ACCESS_KEY_ID " + set(env("AWS_ACCESS_KEY_ID") != "") + ")",
		fmt.Sprintf("shared credentials files [%s] and config files [%s], profile %q",
			strings.Join(credFiles, ", "), strings.Join(confFiles, ", "), profileName(c, env)),
		"web identity token (AWS_WEB_IDENTITY_TOKEN_FILE " + set(env("AWS_WEB_IDENTITY_TOKEN_FILE") != "") + ")",
		"container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI " +
			set(env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != "" || env("AWS_CONTAINER_CREDENTIALS_FULL_URI") != "") + ")",
		"EC2 instance metadata (" + imds + ")",
	}
	return fmt.Sprintf("no AWS credentials found in: %s. The SDK's last error: %v", strings.Join(places, ", "), err)
}

func profileName(c Config, env getenv) string {
	if c.Profile != "" {
		return c.Profile
	}
	if p := env("AWS_PROFILE"); p != "" {
		return p
	}
	return "default"
}

func orUnset(s string) string {
	if s == "" {
		return "(AWS_ROLE_ARN not set)"
	}
	return s
}

// apiErrorText is "Code: message" for an AWS answer, else the error's text.
func apiErrorText(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if msg := ae.ErrorMessage(); msg != "" {
			return ae.ErrorCode() + ": " + msg
		}
		return ae.ErrorCode()
	}
	return err.Error()
}

// isCredentialsFailure reports whether AWS refused the request's credentials.
func isCredentialsFailure(err error) bool {
	switch ErrorCode(err) {
	case "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
		"UnrecognizedClientException", "AuthFailure", "AccessDenied", "InvalidAccessKeyId",
		"IncompleteSignature", "MissingAuthenticationToken", "TokenRefreshRequired":
		return true
	}
	return false
}
