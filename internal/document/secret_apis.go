package document

import (
	"strings"
)

// secretAPI is an API whose response carries secrets.
type secretAPI struct {
	// fields select the secret fields of the response (as the SDK's output
	// struct encodes to JSON: Go field names, []byte as base64).
	fields []string
	// decrypt, when set, names the boolean input without which the fields
	// come back encrypted, and so are no secrets.
	decrypt string
}

// secretAPIs are keyed by secretAPIKey: the APIs whose responses hold
// secrets.
var secretAPIs = map[string]secretAPI{
	"ssm.getparameter":                          {fields: []string{"$.Parameter.Value"}, decrypt: "WithDecryption"},
	"ssm.getparameters":                         {fields: []string{"$.Parameters[*].Value"}, decrypt: "WithDecryption"},
	"ssm.getparametersbypath":                   {fields: []string{"$.Parameters[*].Value"}, decrypt: "WithDecryption"},
	"ssm.getparameterhistory":                   {fields: []string{"$.Parameters[*].Value"}, decrypt: "WithDecryption"},
	"secretsmanager.getsecretvalue":             {fields: []string{"$.SecretString", "$.SecretBinary"}},
	"secretsmanager.batchgetsecretvalue":        {fields: []string{"$.SecretValues[*].SecretString", "$.SecretValues[*].SecretBinary"}},
	"iam.createaccesskey":                       {fields: []string{"$.AccessKey.SecretAccessKey"}},
	"iam.createservicespecificcredential":       {fields: []string{"$.ServiceSpecificCredential.ServicePassword"}},
	"iam.resetservicespecificcredential":        {fields: []string{"$.ServiceSpecificCredential.ServicePassword"}},
	"sts.assumerole":                            {fields: stsCredentials},
	"sts.assumerolewithsaml":                    {fields: stsCredentials},
	"sts.assumerolewithwebidentity":             {fields: stsCredentials},
	"sts.assumeroot":                            {fields: stsCredentials},
	"sts.getsessiontoken":                       {fields: stsCredentials},
	"sts.getfederationtoken":                    {fields: stsCredentials},
	"kms.decrypt":                               {fields: []string{"$.Plaintext"}},
	"kms.generatedatakey":                       {fields: []string{"$.Plaintext"}},
	"kms.generatedatakeypair":                   {fields: []string{"$.PrivateKeyPlaintext"}},
	"kms.generaterandom":                        {fields: []string{"$.Plaintext"}},
	"ecr.getauthorizationtoken":                 {fields: []string{"$.AuthorizationData[*].AuthorizationToken"}},
	"ecrpublic.getauthorizationtoken":           {fields: []string{"$.AuthorizationData.AuthorizationToken"}},
	"codeartifact.getauthorizationtoken":        {fields: []string{"$.AuthorizationToken"}},
	"cognitoidentity.getcredentialsforidentity": {fields: []string{"$.Credentials.SecretKey", "$.Credentials.SessionToken"}},
}

var stsCredentials = []string{"$.Credentials.SecretAccessKey", "$.Credentials.SessionToken"}

// secretAPIKey is "service.api", lower case, without the _ and - that
// describe_images and get-parameter may be written with.
func secretAPIKey(service, api string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.TrimSpace(s)))
	}
	return norm(service) + "." + norm(api)
}

// SecretFields returns the JSONPath selectors ("$.Parameter.Value") of the
// fields that hold secrets in the response of service's api called with
// inputs, as aws:executeAwsApi sees the response; nil for an API that returns
// none. An input that decides whether secrets come back decrypted
// (WithDecryption) counts as set when it is a template: it may resolve to
// true.
func SecretFields(service, api string, inputs map[string]any) []string {
	a, ok := secretAPIs[secretAPIKey(service, api)]
	if !ok {
		return nil
	}
	if a.decrypt != "" && !mayBeTrue(inputs[a.decrypt]) {
		return nil
	}
	return append([]string(nil), a.fields...)
}

func mayBeTrue(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case string:
		return strings.EqualFold(strings.TrimSpace(t), "true") || HasTemplate(t)
	}
	return false
}
