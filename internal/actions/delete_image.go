package actions

import (
	"context"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// deleteImage is aws:deleteImage: deregister the AMI and delete all its
// snapshots; an image already gone is fine.
type deleteImage struct{}

func init() { register("aws:deleteImage", deleteImage{}) }

func (deleteImage) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	id, err := required(in, "ImageId")
	if err != nil {
		return Result{}, err
	}
	var known []string
	for _, r := range env.Ledger.Images() {
		if r.ID == id {
			known = r.Snapshots
		}
	}
	r := ami.Remove(ctx, env.Clients, env.Clients.Region, id, known)
	env.Ledger.RecordSnapshots(id, r.Snapshots)
	if err := r.Err(); err != nil {
		return Result{}, err
	}
	env.Ledger.ImageDeleted(id)
	env.info("deleted image", map[string]any{"step": step.Name, "image_id": id, "snapshot_ids": r.DeletedSnapshots})
	return Result{Outputs: map[string]any{}}, nil
}
