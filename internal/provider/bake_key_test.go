package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// The bake key, which goes on a tag anyone may read, depends on the names of
// the sensitive parameters but not on their values, so that it cannot be used
// to check guesses of a secret.
func TestBakeKeyHidesSensitiveValues(t *testing.T) {
	doc := &document.Document{SchemaVersion: "0.3", MainSteps: []document.Step{{Name: "nap", Action: "aws:sleep", Inputs: map[string]any{"Duration": "PT1S"}}}}
	triggers := types.MapValueMust(types.StringType, map[string]attr.Value{"month": types.StringValue("2024-05")})
	key := func(values map[string]string, sensitive ...string) string {
		t.Helper()
		k, err := bakeKey(doc, values, sensitive, triggers)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key(map[string]string{"size": "t3.micro", "password": "hunter2"}, "password")
	if other := key(map[string]string{"size": "t3.micro", "password": "correct horse"}, "password"); other != base {
		t.Errorf("the key changed with the sensitive value: %s, %s", base, other)
	}
	if got := key(map[string]string{"size": "t3.micro", "password": ""}, "password"); got != base {
		t.Errorf("the key depends on the sensitive value's presence: %s, %s", base, got)
	}
	if got := key(map[string]string{"size": "t3.small", "password": "hunter2"}, "password"); got == base {
		t.Error("the key ignores a change of a non-sensitive value")
	}
	if got := key(map[string]string{"size": "t3.micro", "password": "hunter2"}); got == base {
		t.Error("the key ignores which parameters are sensitive")
	}
	if got := key(map[string]string{"size": "t3.micro", "token": "hunter2"}, "token"); got == base {
		t.Error("the key ignores the names of the sensitive parameters")
	}
	// Keys of bakes without sensitive parameters are what they were.
	js, err := doc.CanonicalJSON()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := json.Marshal(struct {
		Doc      string            `json:"doc"`
		Params   map[string]string `json:"params"`
		Triggers map[string]string `json:"triggers"`
	}{string(js), map[string]string{"size": "t3.micro"}, map[string]string{"month": "2024-05"}})
	sum := sha256.Sum256(before)
	if got, want := key(map[string]string{"size": "t3.micro"}), hex.EncodeToString(sum[:16]); got != want {
		t.Errorf("key %s, was %s", got, want)
	}
}
