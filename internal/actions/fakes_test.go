package actions

import (
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/testsupport/simcloud"
)

type logLine struct {
	msg    string
	fields map[string]any
}

type memLog struct {
	mu    sync.Mutex
	lines []logLine
}

func (l *memLog) Info(msg string, fields map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, logLine{msg, fields})
}

func (l *memLog) has(field, value string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range l.lines {
		if fmt.Sprint(ln.fields[field]) == value {
			return true
		}
	}
	return false
}

// testPolicy keeps waits in milliseconds.
var testPolicy = awsx.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Factor: 2}

var runTags = map[string]string{"amibake:execution-id": "exec-1", "amibake:managed": "true", "team": "platform"}

// world is a run's environment over an instant simulated cloud, in which a
// test puts what it needs and reads back what the actions left.
type world struct {
	cloud *simcloud.Cloud
	log   *memLog
	env   *Env
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{cloud: simcloud.NewInstant(), log: &memLog{}}
	w.env = &Env{Clients: w.cloud.Clients(testPolicy), Ledger: NewLedger(), Tags: runTags, ExecutionID: "exec-1", Log: w.log}
	return w
}

// launch puts a running instance in the cloud and the ledger.
func (w *world) launch(t *testing.T) string {
	t.Helper()
	id := w.cloud.AddInstance(simcloud.Instance{})
	w.env.Ledger.RecordInstance(id)
	return id
}

// image puts an available image with one snapshot in the cloud, both tagged
// tags.
func (w *world) image(t *testing.T, tags map[string]string) (string, string) {
	t.Helper()
	id, snaps := w.cloud.AddImage(simcloud.Image{Tags: tags, SnapshotTags: tags})
	return id, snaps[0]
}

// put adds an instance launched with token and tagged tags, outside the ledger.
func (w *world) put(t *testing.T, token string, st ec2types.InstanceStateName, tags map[string]string) string {
	t.Helper()
	return w.cloud.AddInstance(simcloud.Instance{ClientToken: token, State: st, Tags: maps.Clone(tags)})
}

// imageFrom adds an available image made from instance, with one snapshot,
// both tagged tags, outside the ledger.
func (w *world) imageFrom(t *testing.T, instance string, tags map[string]string) (string, string) {
	t.Helper()
	id, snaps := w.cloud.AddImage(simcloud.Image{Instance: instance, Tags: tags, SnapshotTags: tags})
	return id, snaps[0]
}

// input is the input of the last call of op.
func (w *world) input(t *testing.T, op string) any {
	t.Helper()
	calls := w.cloud.Calls(op)
	if len(calls) == 0 {
		t.Fatalf("no %s call", op)
	}
	return calls[len(calls)-1].Input
}

// has reports whether an image or snapshot is still there.
func (w *world) has(id string) bool {
	if _, ok := w.cloud.Image(id); ok {
		return true
	}
	_, ok := w.cloud.Snapshot(id)
	return ok
}

// specTags are the tags TagSpecifications give resources of type rt.
func specTags(specs []ec2types.TagSpecification, rt ec2types.ResourceType) map[string]string {
	m := map[string]string{}
	for _, s := range specs {
		if s.ResourceType == rt {
			for _, t := range s.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
	}
	return m
}
