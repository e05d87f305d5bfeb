package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// AWSEngineInputs are the inputs of aws:executeAutomation that fan the
// secondary automation out over targets, accounts or Regions: only SSM
// Automation's own engine does that.
var AWSEngineInputs = []string{"Targets", "TargetMaps", "TargetLocations", "TargetParameterName", "MaxConcurrency", "MaxErrors"}

// executeAutomation is aws:executeAutomation: the secondary runbook is read
// from SSM by name (GetDocument) and run by the same engine, in the same run:
// what it creates goes into the run's ledger and is cleaned up with the rest.
// Outputs: ExecutionId and Status of the secondary automation, and Output,
// the values of its declared outputs in order, lists flattened.
type executeAutomation struct{}

func init() { register("aws:executeAutomation", executeAutomation{}) }

func (executeAutomation) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	if env == nil || env.Run == nil {
		return Result{}, errors.New("aws:executeAutomation runs only inside a run")
	}
	for _, k := range AWSEngineInputs {
		if document.Given(in[k]) {
			return Result{}, fmt.Errorf("input %s needs SSM Automation's own engine; run the recipe with executor = \"ssm\"", k)
		}
	}
	name, err := required(in, "DocumentName")
	if err != nil {
		return Result{}, err
	}
	content, files, err := getAutomationDocument(ctx, env, name, str(in, "DocumentVersion"))
	if err != nil {
		return Result{}, err
	}
	doc, err := document.Parse([]byte(content))
	if err != nil {
		return Result{}, fmt.Errorf("secondary runbook %s: %w", name, err)
	}
	if errs := document.Errors(document.Validate(doc)); len(errs) > 0 {
		msgs := make([]string, 0, min(len(errs), 5))
		for _, p := range errs[:min(len(errs), 5)] {
			msgs = append(msgs, p.Error())
		}
		return Result{}, fmt.Errorf("secondary runbook %s is not valid: %s", name, strings.Join(msgs, "; "))
	}
	params, err := runtimeParameters(in["RuntimeParameters"])
	if err != nil {
		return Result{}, err
	}
	res, err := env.Run.RunAutomation(ctx, doc, params, files)
	outs := map[string]any{"ExecutionId": res.ExecutionID, "Status": res.Status, "Output": outputTexts(res.Outputs)}
	if err != nil {
		return Result{Outputs: outs}, fmt.Errorf("secondary automation %s (%s) ended %s: %w", name, res.ExecutionID, res.Status, err)
	}
	return Result{Outputs: outs}, nil
}

// getAutomationDocument reads an Automation document and the URLs of its
// attachments from SSM.
func getAutomationDocument(ctx context.Context, env *Env, name, version string) (string, Attachments, error) {
	if env.Clients == nil || env.Clients.SSM == nil {
		return "", nil, errors.New("no SSM client to read the secondary runbook with")
	}
	in := &ssm.GetDocumentInput{Name: aws.String(name)}
	if version != "" {
		in.DocumentVersion = aws.String(version)
	}
	out, err := env.Clients.SSM.GetDocument(ctx, in)
	if err != nil {
		return "", nil, fmt.Errorf("reading secondary runbook %s (SSM GetDocument): %w", name, err)
	}
	if out.DocumentType != "" && out.DocumentType != ssmtypes.DocumentTypeAutomation {
		return "", nil, fmt.Errorf("SSM document %s is of type %s; aws:executeAutomation runs Automation runbooks", name, out.DocumentType)
	}
	urls := map[string]string{}
	for _, a := range out.AttachmentsContent {
		if n, u := aws.ToString(a.Name), aws.ToString(a.Url); n != "" && u != "" {
			urls[n] = u
		}
	}
	var files Attachments
	if len(urls) > 0 {
		files = URLAttachments(nil, urls)
	}
	return aws.ToString(out.Content), files, nil
}

// runtimeParameters turns RuntimeParameters into the text the engine takes
// for each parameter: strings as they are, anything else as JSON.
func runtimeParameters(v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("input RuntimeParameters must be a map of parameter names to values, but it is %s", describe(v))
	}
	out := make(map[string]string, len(m))
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch t := m[k].(type) {
		case string:
			out[k] = t
		default:
			b, err := json.Marshal(t)
			if err != nil {
				return nil, fmt.Errorf("input RuntimeParameters.%s: %w", k, err)
			}
			out[k] = string(b)
		}
	}
	return out, nil
}

// outputTexts flattens the secondary automation's outputs into one list of
// strings, as SSM reports outputs (a list of values each): a list output
// gives its elements, anything else itself; values that are not strings are
// rendered as JSON.
func outputTexts(vals []any) []any {
	out := make([]any, 0, len(vals))
	text := func(v any) any {
		if s, ok := v.(string); ok {
			return s
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	for _, v := range vals {
		if l, ok := v.([]any); ok {
			for _, e := range l {
				out = append(out, text(e))
			}
			continue
		}
		out = append(out, text(v))
	}
	return out
}
