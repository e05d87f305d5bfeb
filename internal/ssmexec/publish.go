package ssmexec

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

// DocumentPrefix starts the name of every document this package publishes.
const DocumentPrefix = "amibake-"

// launchTokenPrefix is the local engine's client token prefix
// (actions.LaunchToken): instances an execution launches carry the same
// form of token, so that the same proof of ownership holds for both
// executors.
const launchTokenPrefix = "amibake-"

// Published is a recipe as SSM runs it.
type Published struct {
	// Name is content-addressed: DocumentPrefix and the SHA-256 of Content.
	Name    string
	Content string
	Doc     *document.Document
}

// PrepareOptions say how the recipe is published.
type PrepareOptions struct {
	// Tags (the provider's default_tags) go on every builder the execution
	// launches, with the execution's id and the managed marker.
	Tags map[string]string
	// RoleARN replaces the document's assumeRole: the role SSM Automation
	// runs the execution as.
	RoleARN string
}

// Prepare renders doc as the Automation document an SSM bake publishes. Each
// aws:runInstances step gets
//
//   - tag specifications for the instance and its volumes with the
//     execution id ({{automation:EXECUTION_ID}}, which SSM fills in), the
//     managed marker and opts.Tags, so that everything the execution launches
//     can be found, and
//   - a ClientToken "amibake-<execution id>-<8 hex>", which AWS records on
//     the instance at launch and nobody can change afterwards: the fact that
//     proves an instance was launched by that execution, as it does for the
//     local engine (actions.LaunchedBy). The hex is a digest of the step's
//     name and of the token the recipe gave, if any; a step that SSM retries
//     therefore launches once (RunInstances is idempotent per token).
//
// aws:createImage has no tag input in SSM: an image is known to be the
// execution's by its createImage step output or by its source instance (set
// by CreateImage), never by a tag.
func Prepare(doc *document.Document, o PrepareOptions) (*Published, error) {
	js, err := doc.CanonicalJSON()
	if err != nil {
		return nil, err
	}
	// A copy to rewrite: parsed back from the canonical form.
	out, err := document.Parse(js)
	if err != nil {
		return nil, fmt.Errorf("re-reading the canonical recipe: %w", err)
	}
	if o.RoleARN != "" {
		out.AssumeRole = o.RoleARN
	}
	tags := maps.Clone(o.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	tags[engine.TagExecutionID] = "{{automation:EXECUTION_ID}}"
	tags[engine.TagManaged] = "true"
	for i := range out.MainSteps {
		s := &out.MainSteps[i]
		if s.Action != "aws:runInstances" {
			continue
		}
		if s.Inputs == nil {
			s.Inputs = map[string]any{}
		}
		given, _ := s.Inputs["ClientToken"].(string)
		sum := sha256.Sum256([]byte(s.Name + "\x00" + given))
		s.Inputs["ClientToken"] = launchTokenPrefix + "{{automation:EXECUTION_ID}}-" + hex.EncodeToString(sum[:4])
		s.Inputs["TagSpecifications"] = withTags(s.Inputs["TagSpecifications"], tags, "instance", "volume")
	}
	content, err := out.CanonicalJSON()
	if err != nil {
		return nil, err
	}
	if err := document.CheckDocumentSize(len(content)); err != nil {
		return nil, fmt.Errorf("the recipe as published for SSM (with the tags and client tokens added to its aws:runInstances steps) is too large: %w", err)
	}
	sum := sha256.Sum256(content)
	return &Published{Name: DocumentPrefix + hex.EncodeToString(sum[:20]), Content: string(content), Doc: out}, nil
}

// withTags adds tags to the tag specifications of the given resource types,
// adding a specification for a type that has none. A value that is not a
// list of specifications (a {{ }} template standing for one) is left as it
// is: the client token still proves what the step launched.
func withTags(v any, tags map[string]string, types ...string) any {
	var specs []any
	switch t := v.(type) {
	case nil:
	case []any:
		specs = slices.Clone(t)
	default:
		return v
	}
	keys := slices.Sorted(maps.Keys(tags))
	for _, rt := range types {
		found := false
		for i, s := range specs {
			m, ok := s.(map[string]any)
			if !ok || m["ResourceType"] != rt {
				continue
			}
			found = true
			m = maps.Clone(m)
			list, _ := m["Tags"].([]any)
			list = slices.DeleteFunc(slices.Clone(list), func(e any) bool {
				tm, ok := e.(map[string]any)
				if !ok {
					return false
				}
				k, _ := tm["Key"].(string)
				_, ours := tags[k]
				return ours
			})
			for _, k := range keys {
				list = append(list, map[string]any{"Key": k, "Value": tags[k]})
			}
			m["Tags"] = list
			specs[i] = m
		}
		if !found {
			list := make([]any, 0, len(keys))
			for _, k := range keys {
				list = append(list, map[string]any{"Key": k, "Value": tags[k]})
			}
			specs = append(specs, map[string]any{"ResourceType": rt, "Tags": list})
		}
	}
	return specs
}

// documents counts, per SSM client and document name, the bakes of this
// process that use a published document, so that none is deleted while a
// bake here still needs it.
var documents = struct {
	sync.Mutex
	users map[API]map[string]int
	// published holds the documents this process knows exist: published by
	// one of its bakes and not deleted since.
	published map[API]map[string]bool
}{users: map[API]map[string]int{}, published: map[API]map[string]bool{}}

func knownPublished(api API, name string) bool {
	documents.Lock()
	defer documents.Unlock()
	return documents.published[api][name]
}

func setPublished(api API, name string, yes bool) {
	documents.Lock()
	defer documents.Unlock()
	if documents.published[api] == nil {
		documents.published[api] = map[string]bool{}
	}
	if yes {
		documents.published[api][name] = true
	} else {
		delete(documents.published[api], name)
	}
}

func acquire(api API, name string) {
	documents.Lock()
	defer documents.Unlock()
	if documents.users[api] == nil {
		documents.users[api] = map[string]int{}
	}
	documents.users[api][name]++
}

// release gives up a use and reports whether it was the process's last.
func release(api API, name string) bool {
	documents.Lock()
	defer documents.Unlock()
	n := documents.users[api][name] - 1
	if n <= 0 {
		delete(documents.users[api], name)
		return true
	}
	documents.users[api][name] = n
	return false
}

// publish makes sure the document exists with this content: created when it
// does not, reused when it does with the same content. A document of that
// name with other content is refused (the name is the hash of the content:
// someone else made it).
func (f *Follower) publish(ctx context.Context, p *Published, tags map[string]string, again bool) error {
	if !again && knownPublished(f.api, p.Name) {
		return nil
	}
	var ssmTags []ssmtypes.Tag
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		ssmTags = append(ssmTags, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	err := f.call(ctx, "CreateDocument", startRetries, func(ctx context.Context) error {
		_, err := f.api.CreateDocument(ctx, &ssm.CreateDocumentInput{
			Name:           aws.String(p.Name),
			Content:        aws.String(p.Content),
			DocumentType:   ssmtypes.DocumentTypeAutomation,
			DocumentFormat: ssmtypes.DocumentFormatJson,
			Tags:           ssmTags,
		})
		return err
	})
	if err == nil {
		setPublished(f.api, p.Name, true)
		return nil
	}
	if awsx.ErrorCode(err) != codeDocumentExists {
		return fmt.Errorf("CreateDocument %s: %w", p.Name, err)
	}
	var got *ssm.GetDocumentOutput
	err = f.call(ctx, "GetDocument", startRetries, func(ctx context.Context) (err error) {
		got, err = f.api.GetDocument(ctx, &ssm.GetDocumentInput{Name: aws.String(p.Name)})
		return err
	})
	if err != nil {
		return fmt.Errorf("GetDocument %s (it exists already): %w", p.Name, err)
	}
	if same, err := sameContent(aws.ToString(got.Content), p.Content); err != nil || !same {
		return fmt.Errorf("an SSM document named %s exists with other content than this recipe's; its name is the hash of the content this provider publishes, so someone else made it: delete it or find out who did", p.Name)
	}
	setPublished(f.api, p.Name, true)
	return nil
}

func sameContent(have, want string) (bool, error) {
	if have == want {
		return true, nil
	}
	d, err := document.ParseText(have)
	if err != nil {
		return false, err
	}
	js, err := d.CanonicalJSON()
	if err != nil {
		return false, err
	}
	return string(js) == want, nil
}

// liveStatuses are the statuses of an execution that may still run steps.
var liveStatuses = []string{
	"Pending", "InProgress", "Waiting", "Cancelling", "PendingApproval", "Approved", "Scheduled",
	"RunbookInProgress", "PendingChangeCalendarOverride", "ChangeCalendarOverrideApproved",
}

// retire deletes the document once no bake of this process uses it and no
// execution of it is still running anywhere, so that repeated bakes do not
// pile documents up toward SSM's per-account quota. A bake elsewhere that
// reuses it meanwhile publishes it again (its start answers
// AutomationDefinitionNotFoundException). Failures are returned for the log
// only.
func (f *Follower) retire(ctx context.Context, name string, acquired bool) error {
	if acquired && !release(f.api, name) {
		return nil
	}
	var live *ssm.DescribeAutomationExecutionsOutput
	err := f.call(ctx, "DescribeAutomationExecutions", startRetries, func(ctx context.Context) (err error) {
		live, err = f.api.DescribeAutomationExecutions(ctx, &ssm.DescribeAutomationExecutionsInput{
			Filters: []ssmtypes.AutomationExecutionFilter{
				{Key: ssmtypes.AutomationExecutionFilterKeyDocumentNamePrefix, Values: []string{name}},
				{Key: ssmtypes.AutomationExecutionFilterKeyExecutionStatus, Values: liveStatuses},
			},
			MaxResults: aws.Int32(1),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("checking for running executions of %s: %w", name, err)
	}
	for _, m := range live.AutomationExecutionMetadataList {
		if aws.ToString(m.DocumentName) == name {
			return nil
		}
	}
	documents.Lock()
	busy := documents.users[f.api][name] > 0
	documents.Unlock()
	if busy {
		return nil
	}
	setPublished(f.api, name, false)
	err = f.call(ctx, "DeleteDocument", startRetries, func(ctx context.Context) error {
		_, err := f.api.DeleteDocument(ctx, &ssm.DeleteDocumentInput{Name: aws.String(name)})
		return err
	})
	if err != nil && awsx.ErrorCode(err) != codeInvalidDocument {
		return fmt.Errorf("DeleteDocument %s: %w", name, err)
	}
	return nil
}
