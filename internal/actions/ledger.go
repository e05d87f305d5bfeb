package actions

import (
	"slices"
	"sync"

	"github.com/amibake/terraform-provider-amibake/internal/ami"
)

// Ledger records every AWS resource a run creates, the moment its id is known,
// so that cleanup can remove it whatever happens to the run. Safe for
// concurrent use; the zero value is ready, and a nil *Ledger records nothing.
type Ledger struct {
	mu        sync.Mutex
	instances []InstanceRecord
	images    []ami.Record
	stacks    []StackRecord
}

// InstanceRecord is one launched instance.
type InstanceRecord struct {
	ID         string
	Terminated bool
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{} }

// RecordInstance notes a launched instance.
func (l *Ledger) RecordInstance(id string) {
	if l == nil || id == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.instances {
		if r.ID == id {
			return
		}
	}
	l.instances = append(l.instances, InstanceRecord{ID: id})
}

// InstanceTerminated notes that an instance is gone.
func (l *Ledger) InstanceTerminated(id string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.instances {
		if l.instances[i].ID == id {
			l.instances[i].Terminated = true
		}
	}
}

// RecordImage notes an image created in region.
func (l *Ledger) RecordImage(region, id string) {
	if l == nil || id == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.images {
		if r.ID == id && r.Region == region {
			return
		}
	}
	l.images = append(l.images, ami.Record{Region: region, ID: id})
}

// RecordSnapshots notes the snapshots backing an image.
func (l *Ledger) RecordSnapshots(imageID string, ids []string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.images {
		if l.images[i].ID != imageID {
			continue
		}
		for _, s := range ids {
			if s != "" && !slices.Contains(l.images[i].Snapshots, s) {
				l.images[i].Snapshots = append(l.images[i].Snapshots, s)
			}
		}
	}
}

// ImageDeleted notes that an image (and its snapshots) were removed.
func (l *Ledger) ImageDeleted(id string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.images {
		if l.images[i].ID == id {
			l.images[i].Deleted = true
		}
	}
}

// Instances returns a copy of the instance records, in launch order.
func (l *Ledger) Instances() []InstanceRecord {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.instances)
}

// Images returns a copy of the records of the images the run created
// (createImage) or copied (copyImage), in creation order.
func (l *Ledger) Images() []ami.Record {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.images)
	for i := range out {
		out[i].Snapshots = slices.Clone(out[i].Snapshots)
	}
	return out
}
