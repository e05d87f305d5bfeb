package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// bakeKey is a deterministic hash of what defines a bake: recipe, parameter
// values and triggers. Sensitive parameters count by name only: the key is
// put on a tag anyone may read, and a hash of a secret invites guessing.
func bakeKey(doc *document.Document, values map[string]string, sensitive []string, triggers types.Map) (string, error) {
	js, err := doc.CanonicalJSON()
	if err != nil {
		return "", err
	}
	params := map[string]string{}
	for k, v := range values {
		if !slices.Contains(sensitive, k) {
			params[k] = v
		}
	}
	sensitive = slices.Sorted(slices.Values(sensitive))
	payload, err := json.Marshal(struct {
		Doc       string            `json:"doc"`
		Params    map[string]string `json:"params"`
		Sensitive []string          `json:"sensitive,omitempty"`
		Triggers  map[string]string `json:"triggers"`
	}{string(js), params, sensitive, stringMap(triggers)})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:16]), nil
}
