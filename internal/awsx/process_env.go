package awsx

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// ProcessEnv is the environment for a child process that must call AWS as
// the run does (aws:executeScript): the run's current credentials, region and
// endpoint overrides as the variables every AWS SDK reads (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_<SERVICE>), on top of base (os.Environ() when nil). AWS
// variables in base that would point the child elsewhere (a profile, a
// credentials file, a role to assume) are dropped when the bundle knows its
// credentials. The result holds secrets: never log it.
func (c *Clients) ProcessEnv(ctx context.Context, base []string) ([]string, error) {
	if base == nil {
		base = os.Environ()
	}
	set := map[string]string{}
	if c.Region != "" {
		set["AWS_REGION"] = c.Region
		set["AWS_DEFAULT_REGION"] = c.Region
	}
	haveCreds := false
	if c.built && c.cfg.Credentials != nil {
		creds, err := c.cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the run's AWS credentials for the script: %w", err)
		}
		haveCreds = true
		set["AWS_ACCESS_KEY_ID"] = creds.AccessKeyID
		set["AWS_SECRET_ACCESS_KEY"] = creds.SecretAccessKey
		set["AWS_SESSION_TOKEN"] = creds.SessionToken
		set["AWS_SECURITY_TOKEN"] = creds.SessionToken
	}
	e := c.conf.Endpoints
	for name, url := range map[string]string{"EC2": e.EC2, "SSM": e.SSM, "LAMBDA": e.Lambda, "STS": e.STS, "IAM": e.IAM} {
		if url != "" {
			set["AWS_ENDPOINT_URL_"+name] = url
		}
	}
	drop := map[string]bool{}
	if haveCreds {
		for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
			"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME",
			"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN"} {
			drop[k] = true
		}
	}
	out := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, replaced := set[k]; replaced || drop[k] {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range set {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out, nil
}
