package actions

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// secretIAM makes access keys (the simulated cloud has no IAM).
type secretIAM struct{}

func (secretIAM) CreateAccessKey(_ context.Context, in *iam.CreateAccessKeyInput, _ ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error) {
	return &iam.CreateAccessKeyOutput{AccessKey: &iamtypes.AccessKey{
		AccessKeyId: aws.String("AKIAEXAMPLE"), SecretAccessKey: aws.String("wJalrXUtnFEMI/K7MDENG+bPxRfiCY"), UserName: in.UserName,
	}}, nil
}

// The secrets in the responses of APIs that return them are reported, so
// that the engine hides them; other fields, and ciphertext, are not.
func TestExecuteAwsAPISecrets(t *testing.T) {
	w := newWorld(t)
	w.cloud.PutParameter("/db", `db"pa&ss<>\é`, true)
	w.env.Clients.Raw = map[string]any{"ssm": w.cloud.SSM(), "iam": secretIAM{}}
	outs := []document.StepOutput{
		{Name: "Value", Selector: "$.Parameter.Value"},
		{Name: "Version", Selector: "$.Parameter.Version", Type: "Integer"},
	}
	cases := []struct {
		name string
		in   map[string]any
		outs []document.StepOutput
		want []string
	}{
		{"decrypted parameter", map[string]any{"Service": "ssm", "Api": "GetParameter", "Name": "/db", "WithDecryption": true}, outs,
			[]string{`db"pa&ss<>\é`}},
		{"decryption as text", map[string]any{"Service": "ssm", "Api": "get_parameter", "Name": "/db", "WithDecryption": "true"}, outs[1:],
			[]string{`db"pa&ss<>\é`}},
		{"ciphertext", map[string]any{"Service": "ssm", "Api": "GetParameter", "Name": "/db"}, outs, nil},
		{"access key", map[string]any{"Service": "iam", "Api": "CreateAccessKey", "UserName": "builder"},
			[]document.StepOutput{{Name: "Key", Selector: "$.AccessKey", Type: "StringMap"}}, []string{"wJalrXUtnFEMI/K7MDENG+bPxRfiCY"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := run(t, w, "aws:executeAwsApi", tc.in, tc.outs...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Secrets, tc.want) {
				t.Errorf("Secrets = %q, want %q", res.Secrets, tc.want)
			}
		})
	}

	// A failing assertion quotes the value it found: the secret comes back
	// with the error, for the engine to hide.
	in := map[string]any{"Service": "ssm", "Api": "GetParameter", "Name": "/db", "WithDecryption": true,
		"PropertySelector": "$.Parameter.Value", "DesiredValues": []any{"x"}}
	res, err := run(t, w, "aws:assertAwsResourceProperty", in)
	if err == nil || !strings.Contains(err.Error(), "pa&ss") || !reflect.DeepEqual(res.Secrets, []string{`db"pa&ss<>\é`}) {
		t.Errorf("assert: %v, secrets %q", err, res.Secrets)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	res, err = waitForAwsResourceProperty{}.Run(ctx, w.env, &document.Step{}, in)
	if err == nil || !reflect.DeepEqual(res.Secrets, []string{`db"pa&ss<>\é`}) {
		t.Errorf("wait: %v, secrets %q", err, res.Secrets)
	}
}
