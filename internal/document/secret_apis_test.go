package document

import (
	"reflect"
	"testing"
)

func TestSecretFields(t *testing.T) {
	cases := []struct {
		service, api string
		in           map[string]any
		want         []string
	}{
		{"ssm", "GetParameter", map[string]any{"WithDecryption": true}, []string{"$.Parameter.Value"}},
		{"SSM", "get_parameters_by_path", map[string]any{"WithDecryption": "True"}, []string{"$.Parameters[*].Value"}},
		{"ssm", "GetParameters", map[string]any{"WithDecryption": "{{ decrypt }}"}, []string{"$.Parameters[*].Value"}},
		{"ssm", "GetParameter", map[string]any{"WithDecryption": false}, nil},
		{"ssm", "GetParameter", nil, nil},
		{"secretsmanager", "GetSecretValue", nil, []string{"$.SecretString", "$.SecretBinary"}},
		{"iam", "CreateAccessKey", nil, []string{"$.AccessKey.SecretAccessKey"}},
		{"sts", "AssumeRole", nil, []string{"$.Credentials.SecretAccessKey", "$.Credentials.SessionToken"}},
		{"sts", "getSessionToken", nil, []string{"$.Credentials.SecretAccessKey", "$.Credentials.SessionToken"}},
		{"sts", "GetFederationToken", nil, []string{"$.Credentials.SecretAccessKey", "$.Credentials.SessionToken"}},
		{"kms", "Decrypt", nil, []string{"$.Plaintext"}},
		{"kms", "GenerateDataKey", nil, []string{"$.Plaintext"}},
		{"ec2", "DescribeImages", nil, nil},
		{"sts", "GetCallerIdentity", nil, nil},
	}
	for _, tc := range cases {
		if got := SecretFields(tc.service, tc.api, tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SecretFields(%s, %s, %v) = %v, want %v", tc.service, tc.api, tc.in, got, tc.want)
		}
	}
}
