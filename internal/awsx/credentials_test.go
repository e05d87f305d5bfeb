package awsx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
)

// fakeSTS answers STS query-protocol calls with the handler's XML.
func fakeSTS(t *testing.T, answer func(form url.Values, auth string) (int, string)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		code, xml := answer(form, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, xml)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func stsError(code, msg string) string {
	return `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>` + code +
		`</Code><Message>` + msg + `</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`
}

const callerIdentityXML = `<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account>` +
	`<Arn>arn:aws:iam::123456789012:user/baker</Arn><UserId>U</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>`

func assumeRoleXML(keyID string) string {
	return `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>` +
		`<AccessKeyId>` + keyID + `</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>` +
		`<Expiration>` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `</Expiration></Credentials>` +
		`<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/builder/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>` +
		`</AssumeRoleResult></AssumeRoleResponse>`
}

// clearCredentialEnv keeps the developer's own AWS settings out of a test.
func clearCredentialEnv(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
}

func TestNewRejectedStaticKeysSayWhichAndWhy(t *testing.T) {
	clearCredentialEnv(t)
	srv := fakeSTS(t, func(url.Values, string) (int, string) {
		return http.StatusForbidden, stsError("InvalidClientTokenId", "The security token included in the request is invalid.")
	})
	_, err := New(context.Background(), Config{
		Region: "us-east-1", AccessKey: "AKIAIOSFODNN7EXAMPLE", SecretKey: "wrong",
		Endpoints: Endpoints{STS: srv.URL},
	})
	var ce *CredentialsError
	if !errors.As(err, &ce) || ce.Problem != CredentialsRejected {
		t.Fatalf("want a CredentialsError of CredentialsRejected, got %T %v", err, err)
	}
	want := "static credentials from the provider's access_key (AKIA…MPLE) were rejected by STS GetCallerIdentity at " +
		srv.URL + ": InvalidClientTokenId: The security token included in the request is invalid."
	if err.Error() != want {
		t.Errorf("message:\n got %s\nwant %s", err, want)
	}
	if ce.Code != "InvalidClientTokenId" || ErrorCode(err) != "InvalidClientTokenId" {
		t.Errorf("AWS error code lost: %q / %q", ce.Code, ErrorCode(err))
	}
	if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "AKIAIOSFODNN7EXAMPLE") {
		t.Errorf("message shows the secret or the whole key id: %s", err)
	}
}

func TestNewRoleOfProviderNotAssumed(t *testing.T) {
	clearCredentialEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENVKEY000000WXYZ")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	srv := fakeSTS(t, func(form url.Values, _ string) (int, string) {
		return http.StatusForbidden, stsError("AccessDenied", "User is not authorized to perform: sts:AssumeRole")
	})
	_, err := New(context.Background(), Config{
		Region: "us-east-1", Endpoints: Endpoints{STS: srv.URL},
		AssumeRole: &AssumeRole{RoleARN: "arn:aws:iam::123456789012:role/baker"},
	})
	var ce *CredentialsError
	if !errors.As(err, &ce) || ce.Problem != RoleNotAssumed || ce.Code != "AccessDenied" {
		t.Fatalf("want a CredentialsError of RoleNotAssumed with AccessDenied, got %T %v", err, err)
	}
	for _, want := range []string{"role arn:aws:iam::123456789012:role/baker (assume_role in the provider block)",
		"credentials from the environment (AWS_ACCESS_KEY_ID AKIA…WXYZ)", "AccessDenied: User is not authorized"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestDescribeCredentials(t *testing.T) {
	env := func(m map[string]string) getenv { return func(k string) string { return m[k] } }
	none := env(nil)
	for _, tc := range []struct {
		c     Config
		env   getenv
		creds aws.Credentials
		want  string
	}{
		{Config{AccessKey: "AKIAABCDEFGH12345678"}, none, aws.Credentials{AccessKeyID: "AKIAABCDEFGH12345678", Source: "StaticCredentials"},
			"static credentials from the provider's access_key (AKIA…5678)"},
		{Config{}, none, aws.Credentials{AccessKeyID: "ASIAABCDEFGH1234ZZZZ", SessionToken: "t", Source: "EnvConfigCredentials"},
			"credentials from the environment (AWS_ACCESS_KEY_ID ASIA…ZZZZ, with AWS_SESSION_TOKEN)"},
		{Config{}, env(map[string]string{"AWS_PROFILE": "ci"}), aws.Credentials{AccessKeyID: "AKIAABCDEFGH1234QQQQ", Source: "SharedConfigCredentials: /home/u/.aws/credentials"},
			`credentials from the shared file /home/u/.aws/credentials, profile "ci" (AKIA…QQQQ)`},
		{Config{Profile: "sso"}, none, aws.Credentials{AccessKeyID: "ASIAABCDEFGH1234SSSS", Source: "SSOProvider"},
			`IAM Identity Center (SSO) credentials of profile "sso" (ASIA…SSSS)`},
		{Config{}, none, aws.Credentials{AccessKeyID: "ASIAABCDEFGH1234IMDS", Source: "EC2RoleProvider"},
			"instance role credentials from EC2 instance metadata (IMDS) (ASIA…IMDS)"},
		{Config{}, none, aws.Credentials{AccessKeyID: "test", Source: "EnvConfigCredentials"},
			"credentials from the environment (AWS_ACCESS_KEY_ID …st)"},
	} {
		if got := describeCredentials(tc.c, tc.env, tc.creds); got != tc.want {
			t.Errorf("describeCredentials(%s):\n got %s\nwant %s", tc.creds.Source, got, tc.want)
		}
	}
}

func TestNotFoundMessage(t *testing.T) {
	env := map[string]string{"AWS_PROFILE": "ci", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/x"}
	got := notFoundMessage(Config{SharedCredentialsFiles: []string{"/a/creds"}, SharedConfigFiles: []string{"/a/config"}},
		func(k string) string { return env[k] }, errors.New("no EC2 IMDS role found"))
	want := `no AWS credentials found in: provider arguments (access_key/secret_key not set), environment (AWS_ACCESS_KEY_ID not set), ` +
		`shared credentials files [/a/creds] and config files [/a/config], profile "ci", web identity token (AWS_WEB_IDENTITY_TOKEN_FILE not set), ` +
		`container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI set), EC2 instance metadata (IMDS). ` +
		`The SDK's last error: no EC2 IMDS role found`
	if got != want {
		t.Errorf("notFoundMessage:\n got %s\nwant %s", got, want)
	}
}

func TestNewSilentEndpointFailsWithinTheCallersDeadline(t *testing.T) {
	clearCredentialEnv(t)
	endpoint := acctest.SilentEndpoint(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := New(ctx, Config{Region: "us-east-1", AccessKey: "AKIAIOSFODNN7EXAMPLE", SecretKey: "s",
		Endpoints: Endpoints{STS: endpoint, EC2: endpoint}})
	elapsed := time.Since(start)
	t.Logf("failed after %s: %v", elapsed, err)
	var ee *EndpointError
	if !errors.As(err, &ee) || ee.Endpoint != endpoint || ee.Operation != "GetCallerIdentity" {
		t.Fatalf("want an EndpointError naming %s, got %T %v", endpoint, err, err)
	}
	if elapsed > 30*time.Second {
		t.Errorf("took %s for a 2 s deadline", elapsed)
	}
}

func TestRequestsTimeOutWithoutADeadline(t *testing.T) {
	clearCredentialEnv(t)
	endpoint := acctest.SilentEndpoint(t)
	start := time.Now()
	_, err := New(context.Background(), Config{Region: "us-east-1", AccessKey: "AKIAIOSFODNN7EXAMPLE", SecretKey: "s",
		Endpoints:  Endpoints{STS: endpoint},
		MaxRetries: 2,
		Timeouts:   Timeouts{ResponseHeader: 200 * time.Millisecond, Attempt: 400 * time.Millisecond},
	})
	elapsed := time.Since(start)
	t.Logf("failed after %s: %v", elapsed, err)
	var ee *EndpointError
	if !errors.As(err, &ee) || ee.Endpoint != endpoint {
		t.Fatalf("want an EndpointError naming %s, got %T %v", endpoint, err, err)
	}
	if elapsed > 30*time.Second {
		t.Errorf("two attempts of 400 ms took %s", elapsed)
	}
}

func TestAssumeRole(t *testing.T) {
	clearCredentialEnv(t)
	var mu sync.Mutex
	var durations []string
	var callerAuth string
	srv := fakeSTS(t, func(form url.Values, auth string) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		switch form.Get("Action") {
		case "AssumeRole":
			durations = append(durations, form.Get("DurationSeconds"))
			if form.Get("RoleArn") == "arn:aws:iam::123456789012:role/denied" {
				return http.StatusForbidden, stsError("AccessDenied", "not authorized to perform sts:AssumeRole")
			}
			if form.Get("DurationSeconds") != "3600" {
				return http.StatusBadRequest, stsError("ValidationError",
					"The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
			}
			if form.Get("RoleSessionName") != "amibake-exec-1" {
				return http.StatusBadRequest, stsError("ValidationError", "unexpected session name "+form.Get("RoleSessionName"))
			}
			return http.StatusOK, assumeRoleXML("ASIAROLEKEY000000001")
		case "GetCallerIdentity":
			callerAuth = auth
			return http.StatusOK, callerIdentityXML
		}
		return http.StatusBadRequest, stsError("InvalidAction", form.Get("Action"))
	})
	base, err := New(context.Background(), Config{Region: "us-east-1", AccessKey: "AKIAIOSFODNN7EXAMPLE", SecretKey: "s",
		Endpoints: Endpoints{STS: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}

	role, err := base.AssumeRole(context.Background(), RoleSession{RoleARN: "arn:aws:iam::123456789012:role/builder",
		SessionName: "amibake-exec-1", Duration: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(durations, ","); got != "7200,3600" {
		t.Errorf("session durations asked for: %s, want 7200 then the 3600 every role allows", got)
	}
	if role.AccountID != "123456789012" || role.Region != "us-east-1" {
		t.Errorf("account %q region %q", role.AccountID, role.Region)
	}
	if _, err := role.Raw["sts"].(*sts.Client).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(callerAuth, "Credential=ASIAROLEKEY000000001/") {
		t.Errorf("call not signed with the role's key: %q", callerAuth)
	}

	_, err = base.AssumeRole(context.Background(), RoleSession{RoleARN: "arn:aws:iam::123456789012:role/denied", SessionName: "amibake-exec-1"})
	var re *RoleError
	if !errors.As(err, &re) || re.Code != "AccessDenied" || !strings.Contains(err.Error(), "arn:aws:iam::123456789012:role/denied") {
		t.Errorf("want a RoleError naming the role with AccessDenied, got %T %v", err, err)
	}

	_, err = base.AssumeRole(context.Background(), RoleSession{RoleARN: "the role ARN you created"})
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "not an IAM role ARN") {
		t.Errorf("want a RoleError for a text that is no ARN, got %v", err)
	}
	if _, err = (&Clients{}).AssumeRole(context.Background(), RoleSession{RoleARN: "arn:aws:iam::123456789012:role/builder"}); err == nil {
		t.Error("a hand-filled bundle assumed a role")
	}
}

func TestMaskKeyID(t *testing.T) {
	for in, want := range map[string]string{"": "no key id", "test": "…st", "AKIAIOSFODNN7EXAMPLE": "AKIA…MPLE"} {
		if got := MaskKeyID(in); got != want {
			t.Errorf("MaskKeyID(%q) = %q, want %q", in, got, want)
		}
	}
}
