package awsx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewLearnsAccountAndPartition(t *testing.T) {
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), "Action=GetCallerIdentity") {
			t.Errorf("unexpected call %s", body)
		}
		gotAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Account>210987654321</Account><Arn>arn:aws-cn:sts::210987654321:assumed-role/r/s</Arn><UserId>U</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>`)
	}))
	defer srv.Close()

	c, err := New(context.Background(), Config{
		Region: "cn-north-1", AccessKey: "AKIDEXAMPLE", SecretKey: "secret",
		Endpoints:  Endpoints{STS: srv.URL, EC2: "http://127.0.0.1:1"},
		MaxRetries: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.AccountID != "210987654321" || c.Partition != "aws-cn" || c.Region != "cn-north-1" {
		t.Errorf("account=%q partition=%q region=%q", c.AccountID, c.Partition, c.Region)
	}
	if !strings.Contains(gotAuth, "Credential=AKIDEXAMPLE/") {
		t.Errorf("request not signed with the static key: %q", gotAuth)
	}
	for _, svc := range []string{"ec2", "ssm", "lambda", "sts", "iam"} {
		if c.Raw[svc] == nil {
			t.Errorf("Raw[%q] missing", svc)
		}
	}
	if c.Instances == nil || c.Images == nil {
		t.Error("watchers not built")
	}
}

func TestNewNamesTheCredentialSourcesTried(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dir := t.TempDir()
	_, err := New(context.Background(), Config{
		Region:                  "us-east-1",
		SharedConfigFiles:       []string{dir + "/config"},
		SharedCredentialsFiles:  []string{dir + "/credentials"},
		SkipRequestingAccountID: true,
	})
	if err == nil {
		t.Fatal("want a credentials error")
	}
	t.Log(err)
	var ce *CredentialsError
	if !errors.As(err, &ce) || ce.Problem != CredentialsNotFound {
		t.Fatalf("want a CredentialsError of CredentialsNotFound, got %T %v", err, err)
	}
	for _, want := range []string{"no AWS credentials found in:", "access_key/secret_key not set",
		"AWS_ACCESS_KEY_ID not set", dir + "/credentials", dir + "/config", `profile "default"`,
		"IMDS, disabled by AWS_EC2_METADATA_DISABLED"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestPartitionForRegion(t *testing.T) {
	for region, want := range map[string]string{"us-east-1": "aws", "cn-northwest-1": "aws-cn", "us-gov-west-1": "aws-us-gov", "eu-west-3": "aws"} {
		if got := PartitionForRegion(region); got != want {
			t.Errorf("PartitionForRegion(%q) = %q, want %q", region, got, want)
		}
	}
}
