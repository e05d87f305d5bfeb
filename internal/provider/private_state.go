package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// An imported image has no recipe in state. Until the first apply after the import
// stores the configured recipe, recipe changes must not force a rebuild; the mark
// lives in the resource's private state.
const importedKey = "imported"

type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

func imported(p privateGetter) bool {
	if p == nil {
		return false
	}
	b, _ := p.GetKey(context.Background(), importedKey)
	return string(b) == "true"
}

func markImported(ctx context.Context, p privateSetter) diag.Diagnostics {
	return p.SetKey(ctx, importedKey, []byte("true"))
}

func clearImported(ctx context.Context, p privateSetter) diag.Diagnostics {
	return p.SetKey(ctx, importedKey, []byte("false"))
}
