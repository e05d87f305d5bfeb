package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"errors"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/ami"
)

// renewLeaseFunc is a variable so that tests can count renewals.
var renewLeaseFunc = actions.RenewLease

// holdLease puts the run's lease on everything it creates (through the run's
// tags) and renews it every third of the lease duration until the returned
// function is called. A renewal that fails is reported and tried again at the
// next tick: the lease has two more thirds to run.
func (r *runner) holdLease(ctx context.Context) (stop func()) {
	every := r.o.LeaseDuration / 3
	r.setLease(r.now().Add(r.o.LeaseDuration))
	if r.o.Clients == nil || r.o.Clients.EC2 == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			value := r.setLease(r.now().Add(r.o.LeaseDuration))
			// Renewal outlives a cancelled run: cleanup is still at work then.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), every)
			var err error
			if perr := r.protect(func() error { err = renewLeaseFunc(rctx, r.env(nil), value); return nil }); perr != nil {
				err = perr
			}
			cancel()
			if err != nil {
				r.emit(Event{Kind: EventLog, Fields: map[string]any{
					"message": "could not renew the run's lease; retrying at the next renewal",
					"error":   errorText(err),
				}})
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// releaseLease ends the lease on what the run leaves behind that is neither
// its product nor a kept builder (what cleanup could not remove), so that the
// next sweep with the same bake key may remove it at once.
func (r *runner) releaseLease(ctx context.Context, products []string, kept []KeptInstance) {
	except := slices.Clone(products)
	for _, k := range kept {
		except = append(except, k.ID)
	}
	if r.o.Clients == nil || r.o.Clients.EC2 == nil || !r.leavesSomething(except) {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.CleanupTimeout)
	defer cancel()
	var err error
	if perr := r.protect(func() error {
		err = renewLeaseFunc(cctx, r.env(nil), actions.LeaseValue(r.now()), except...)
		return nil
	}); perr != nil {
		err = perr
	}
	if err != nil {
		r.emit(Event{Kind: EventLog, Fields: map[string]any{
			"message": "could not release the lease on what cleanup left; a later bake with the same key removes it once the lease expires",
			"error":   errorText(err),
		}})
	}
}

func (r *runner) leavesSomething(except []string) bool {
	for _, in := range r.ledger.Instances() {
		if !in.Terminated && !slices.Contains(except, in.ID) {
			return true
		}
	}
	for _, im := range r.ledger.Images() {
		if !im.Deleted && !slices.Contains(except, im.ID) {
			return true
		}
	}
	return false
}

// setLease sets the lease value new resources are tagged with and returns it.
func (r *runner) setLease(until time.Time) string {
	v := actions.LeaseValue(until)
	r.tagMu.Lock()
	r.tags[actions.TagLease] = v
	r.tagMu.Unlock()
	return v
}

// keepBuilders marks the builders left in place (KeepBuilderInstances) as kept,
// so that no sweep removes them, and reports them with their state.
func (r *runner) keepBuilders(ctx context.Context) []KeptInstance {
	var ids []string
	for _, in := range r.ledger.Instances() {
		if !in.Terminated {
			ids = append(ids, in.ID)
		}
	}
	if len(ids) == 0 || r.o.Clients == nil || r.o.Clients.EC2 == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.CleanupTimeout)
	defer cancel()
	env := r.env(nil)
	if err := actions.KeepInstances(cctx, env, ids); err != nil {
		r.emit(Event{Kind: EventLog, Fields: map[string]any{
			"message": "could not mark the kept builders; a later bake with the same key removes them once their lease expires",
			"error":   errorText(err),
		}})
	}
	states := map[string]string{}
	res, err := r.o.Clients.EC2.DescribeInstances(cctx, &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: ids}},
	})
	if err == nil {
		for _, rv := range res.Reservations {
			for _, in := range rv.Instances {
				if in.State != nil {
					states[aws.ToString(in.InstanceId)] = string(in.State.Name)
				}
			}
		}
	}
	var kept []KeptInstance
	for _, id := range ids {
		st, ok := states[id]
		if err == nil && !ok {
			continue // gone already
		}
		if st == string(ec2types.InstanceStateNameTerminated) {
			continue
		}
		kept = append(kept, KeptInstance{ID: id, State: st})
	}
	return kept
}

// checkImageAlive fails a run whose image is no longer there, or no longer
// available, when the run ends (deregistered outside the bake, or failed), so
// that no dead id is ever handed on as the bake's product.
func (r *runner) checkImageAlive(ctx context.Context) error {
	name := r.o.ImageOutput
	if name == "" || r.o.Clients == nil || r.o.Clients.EC2 == nil {
		return nil
	}
	id, _ := r.outputs[name].(string)
	if l, ok := r.outputs[name].([]any); ok && len(l) > 0 {
		id, _ = l[0].(string)
	}
	if id == "" {
		return nil
	}
	img, err := ami.FindByID(ctx, r.o.Clients, id)
	var nf *ami.NotFoundError
	if errors.As(err, &nf) && nf.Image != nil {
		img, err = nf.Image, nil // AWS still lists it, deregistered: judged by its state below
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return err
	case err != nil && !ami.IsNotFound(err):
		return fmt.Errorf("checking the baked image %s: %w", id, err)
	case err != nil:
		return fmt.Errorf("the baked image %s no longer exists when the bake ends: it was deregistered outside this bake, so there is no image to record", id)
	case img.State != ec2types.ImageStateAvailable:
		reason := ""
		if img.StateReason != nil && aws.ToString(img.StateReason.Message) != "" {
			reason = " (" + aws.ToString(img.StateReason.Message) + ")"
		}
		return fmt.Errorf("the baked image %s is %s when the bake ends%s, not available; it is not recorded", id, img.State, reason)
	}
	return nil
}
