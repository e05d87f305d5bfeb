package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode"

	"github.com/theory/jsonpath"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// executeAwsAPI is aws:executeAwsApi: any API of a supported service, called
// by name; outputs are picked from the response by the step's selectors.
type executeAwsAPI struct{}

func init() { register("aws:executeAwsApi", executeAwsAPI{}) }

func (executeAwsAPI) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	resp, secrets, err := callAPI(ctx, env, in)
	if err != nil {
		return Result{Secrets: secrets}, err
	}
	outs, err := selectOutputs(resp, step.Outputs)
	if err != nil {
		return Result{Secrets: secrets}, err
	}
	return Result{Outputs: outs, Secrets: secrets}, nil
}

// controlInputs are the generic actions' own inputs; everything else is the
// API's.
var controlInputs = map[string]bool{"Service": true, "Api": true, "PropertySelector": true, "DesiredValues": true}

// callAPI calls in["Api"] on the client for in["Service"] with the remaining
// inputs as the request, and returns the response as JSON-like values
// (map[string]any, []any, string, json.Number, bool, nil), and the secrets in
// it: the values of the fields that document.SecretFields names for the API
// (a decrypted SecureString, a secret access key, a KMS plaintext).
func callAPI(ctx context.Context, env *Env, in map[string]any) (any, []string, error) {
	doc, err := callAPIRaw(ctx, env, in)
	if err != nil {
		return nil, nil, err
	}
	var secrets []string
	for _, field := range document.SecretFields(str(in, "Service"), str(in, "Api"), in) {
		nodes, err := selectNodes(doc, field)
		if err != nil {
			continue
		}
		for _, n := range nodes {
			secrets = appendStrings(secrets, n)
		}
	}
	return doc, secrets, nil
}

// appendStrings appends the non-empty strings inside v.
func appendStrings(out []string, v any) []string {
	switch t := v.(type) {
	case string:
		if t != "" {
			out = append(out, t)
		}
	case []any:
		for _, e := range t {
			out = appendStrings(out, e)
		}
	case map[string]any:
		for _, e := range t {
			out = appendStrings(out, e)
		}
	}
	return out
}

func callAPIRaw(ctx context.Context, env *Env, in map[string]any) (any, error) {
	service := strings.ToLower(str(in, "Service"))
	api := apiName(str(in, "Api"))
	if service == "" || api == "" {
		return nil, fmt.Errorf("inputs Service and Api are required")
	}
	client, ok := env.Clients.Raw[service]
	if !ok || client == nil {
		known := make([]string, 0, len(env.Clients.Raw))
		for k := range env.Clients.Raw {
			known = append(known, k)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("input Service: %q is not supported here (supported: %s)", service, strings.Join(known, ", "))
	}
	m := reflect.ValueOf(client).MethodByName(api)
	if !m.IsValid() {
		return nil, fmt.Errorf("input Api: %s has no API %q", service, api)
	}
	mt := m.Type()
	ctxType := reflect.TypeOf((*context.Context)(nil)).Elem()
	errType := reflect.TypeOf((*error)(nil)).Elem()
	if mt.NumIn() < 2 || mt.In(0) != ctxType || mt.In(1).Kind() != reflect.Pointer || mt.In(1).Elem().Kind() != reflect.Struct ||
		mt.NumOut() != 2 || mt.Out(1) != errType {
		return nil, fmt.Errorf("input Api: %s.%s is not an API operation", service, api)
	}
	params := map[string]any{}
	for k, v := range in {
		if !controlInputs[k] {
			params[k] = v
		}
	}
	req := reflect.New(mt.In(1).Elem())
	if err := bindValue(req.Elem(), params, api+"Input"); err != nil {
		return nil, fmt.Errorf("inputs: %w", err)
	}
	res := m.Call([]reflect.Value{reflect.ValueOf(ctx), req})
	if err, _ := res[1].Interface().(error); err != nil {
		return nil, fmt.Errorf("%s %s: %w", service, api, err)
	}
	raw, err := json.Marshal(res[0].Interface())
	if err != nil {
		return nil, fmt.Errorf("%s %s: encoding the response: %w", service, api, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s %s: decoding the response: %w", service, api, err)
	}
	return doc, nil
}

// apiName accepts DescribeImages, describeImages and describe_images.
func apiName(s string) string {
	var b strings.Builder
	up := true
	for _, r := range strings.TrimSpace(s) {
		if r == '_' || r == '-' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// selectNodes evaluates a JSONPath selector ("$.Images[0].State"; the "$."
// may be left out) against a response.
func selectNodes(doc any, selector string) ([]any, error) {
	sel := strings.TrimSpace(selector)
	if !strings.HasPrefix(sel, "$") {
		sel = "$." + strings.TrimPrefix(sel, ".")
	}
	p, err := jsonpath.Parse(sel)
	if err != nil {
		return nil, fmt.Errorf("selector %q: %w", selector, err)
	}
	nodes := p.Select(doc)
	out := make([]any, len(nodes))
	for i, n := range nodes {
		out[i] = document.NormalizeValue(n)
	}
	return out, nil
}

func selectOutputs(doc any, outs []document.StepOutput) (map[string]any, error) {
	res := make(map[string]any, len(outs))
	for _, o := range outs {
		nodes, err := selectNodes(doc, o.Selector)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", o.Name, err)
		}
		if len(nodes) == 0 {
			return nil, fmt.Errorf("output %s: selector %s matched nothing in the response", o.Name, o.Selector)
		}
		v, err := convertOutput(nodes, o.Type)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", o.Name, err)
		}
		res[o.Name] = v
	}
	return res, nil
}

// convertOutput shapes the selected nodes into the declared output type.
func convertOutput(nodes []any, typ string) (any, error) {
	first := nodes[0]
	switch typ {
	case "", "String":
		if l, ok := first.([]any); ok && len(l) == 1 {
			first = l[0]
		}
		s, _ := scalarString(first)
		return s, nil
	case "Integer":
		return toInt(first)
	case "Boolean":
		var b bool
		err := bindValue(reflect.ValueOf(&b).Elem(), first, "value")
		return b, err
	case "StringList":
		items := nodes
		if l, ok := first.([]any); ok && len(nodes) == 1 {
			items = l
		}
		out := make([]any, len(items))
		for i, e := range items {
			out[i], _ = scalarString(e)
		}
		return out, nil
	case "StringMap":
		m, ok := first.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("want an object for a StringMap, got %s", describe(first))
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[k], _ = scalarString(e)
		}
		return out, nil
	case "MapList":
		if l, ok := first.([]any); ok && len(nodes) == 1 {
			return l, nil
		}
		return nodes, nil
	}
	return nil, fmt.Errorf("unknown output type %q", typ)
}
