package actions

import (
	"context"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// noteDummy is aws:noteDummy, a scratch action: it echoes its Message.
type noteDummy struct{}

func init() { register("aws:noteDummy", noteDummy{}) }

func (noteDummy) Run(_ context.Context, _ *Env, _ *document.Step, in map[string]any) (Result, error) {
	msg, err := required(in, "Message")
	if err != nil {
		return Result{}, err
	}
	return Result{Outputs: map[string]any{"Echo": msg}}, nil
}
