package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// The conformance corpus written as HCL recipes: every valid document whose
// actions all have a block is written as `parameter` and `step` blocks (never
// `action` + `inputs`), the HCL is read as Terraform reads it (HCL syntax,
// jsonencode, conversion to the schema's types) and converted by the
// provider, and the result renders to the document's own canonical JSON.

const corpusDir = "../document/testdata/conformance"

// corpusDocument is one valid document of the corpus.
type corpusDocument struct {
	file string
	doc  *document.Document
}

// hclCorpus are the valid documents of the corpus that HCL blocks can write:
// every step's action has a block, and there are no top-level variables or
// files (which the HCL recipe has no place for).
func hclCorpus(t *testing.T) (writable []corpusDocument, skipped []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Documents []struct {
			File  string `json:"file"`
			Valid bool   `json:"valid"`
		} `json:"documents"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Documents {
		if !e.Valid {
			continue
		}
		text, err := os.ReadFile(filepath.Join(corpusDir, e.File))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := document.Parse(text)
		if err != nil {
			t.Fatalf("%s: %v", e.File, err)
		}
		if reason := unwritable(doc); reason != "" {
			skipped = append(skipped, e.File+": "+reason)
			continue
		}
		writable = append(writable, corpusDocument{file: e.File, doc: doc})
	}
	// Besides the corpus: the provider's own examples, and a document whose
	// typed inputs hold templates and literals as text.
	for _, file := range []string{
		"../../examples/documents/patch-ami.json",
		"../../examples/documents/patch-ami.yaml",
		"../../examples/resources/amibake_image/update-ami.json",
		"testdata/typed-templates.json",
	} {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := document.Parse(text)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if errs := document.Errors(document.Validate(doc)); len(errs) > 0 {
			t.Fatalf("%s: %v", file, errs)
		}
		writable = append(writable, corpusDocument{file: file, doc: doc})
	}
	return writable, skipped
}

func unwritable(doc *document.Document) string {
	if len(doc.Variables) > 0 {
		return "top-level variables"
	}
	if len(doc.Files) > 0 {
		return "attached files"
	}
	for _, s := range doc.MainSteps {
		if spec, ok := document.LookupAction(s.Action); !ok || spec.Block == "" {
			return s.Action + " has no block"
		}
	}
	return ""
}

func TestRecipeCorpusAsHCL(t *testing.T) {
	docs, skipped := hclCorpus(t)
	if len(docs) < 15 {
		t.Errorf("only %d documents of the corpus can be written as HCL blocks", len(docs))
	}
	t.Logf("%d documents written as HCL; not writable: %d\n%s", len(docs), len(skipped), strings.Join(skipped, "\n"))
	for _, cd := range docs {
		t.Run(cd.file, func(t *testing.T) {
			want, err := cd.doc.CanonicalJSON()
			if err != nil {
				t.Fatal(err)
			}
			body, err := recipeHCL(cd.doc)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(body, "inputs") && regexpInputsAttr(body) {
				t.Fatalf("the recipe falls back to action + inputs:\n%s", body)
			}
			r := readRecipeHCL(t, body)
			got, unknown, diags := r.toDocument(context.Background())
			if diags.HasError() || unknown {
				t.Fatalf("unknown %v, diagnostics %v\n%s", unknown, diags, body)
			}
			canon, err := got.CanonicalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(canon) != string(want) {
				t.Errorf("the HCL recipe renders differently.\nHCL:\n%s\ngot:\n%s\nwant:\n%s", body, canon, want)
			}
		})
	}
}

// regexpInputsAttr reports whether a step sets the generic `inputs` attribute.
func regexpInputsAttr(body string) bool {
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "inputs ") || strings.HasPrefix(strings.TrimSpace(line), "action ") {
			return true
		}
	}
	return false
}

// recipeHCL writes a document as the body of an HCL recipe.
func recipeHCL(doc *document.Document) (string, error) {
	var b strings.Builder
	attr := func(indent int, name string, v any) {
		fmt.Fprintf(&b, "%s%s = %s\n", strings.Repeat("  ", indent), name, hclValue(v, indent))
	}
	str := func(indent int, name, v string) {
		if v != "" {
			attr(indent, name, v)
		}
	}
	str(0, "description", doc.Description)
	str(0, "assume_role", doc.AssumeRole)
	if len(doc.Outputs) > 0 {
		attr(0, "outputs", toAny(doc.Outputs))
	}
	for _, p := range doc.Parameters {
		b.WriteString("\nparameter {\n")
		str(1, "name", p.Name)
		str(1, "type", p.Type)
		str(1, "description", p.Description)
		if p.HasDefault {
			switch d := p.Default.(type) {
			case []any, map[string]any:
				fmt.Fprintf(&b, "  default = jsonencode(%s)\n", hclValue(d, 1))
			default:
				attr(1, "default", d)
			}
		}
		if len(p.AllowedValues) > 0 {
			attr(1, "allowed_values", toAny(p.AllowedValues))
		}
		str(1, "allowed_pattern", p.AllowedPattern)
		str(1, "display_type", p.DisplayType)
		for name, n := range map[string]*int64{"min_items": p.MinItems, "max_items": p.MaxItems, "min_chars": p.MinChars, "max_chars": p.MaxChars} {
			if n != nil {
				attr(1, name, *n)
			}
		}
		b.WriteString("}\n")
	}
	for _, s := range doc.MainSteps {
		spec, _ := document.LookupAction(s.Action)
		b.WriteString("\nstep {\n")
		str(1, "name", s.Name)
		str(1, "description", s.Description)
		if s.TimeoutSeconds != nil {
			attr(1, "timeout_seconds", *s.TimeoutSeconds)
		}
		if s.MaxAttempts != nil {
			attr(1, "max_attempts", *s.MaxAttempts)
		}
		str(1, "on_failure", s.OnFailure)
		str(1, "on_cancel", s.OnCancel)
		if s.IsCritical != nil {
			attr(1, "is_critical", *s.IsCritical)
		}
		if s.IsEnd != nil {
			attr(1, "is_end", *s.IsEnd)
		}
		str(1, "next_step", s.NextStep)
		for _, o := range s.Outputs {
			fmt.Fprintf(&b, "  output {\n    name = %s\n    selector = %s\n    type = %s\n  }\n", hclValue(o.Name, 2), hclValue(o.Selector, 2), hclValue(o.Type, 2))
		}
		fmt.Fprintf(&b, "  %s {\n", spec.Block)
		extra := map[string]any{}
		for _, k := range sortedInputNames(s.Inputs) {
			v := s.Inputs[k]
			in, ok := spec.Input(k)
			if !ok {
				if !spec.OpenInputs {
					return "", fmt.Errorf("step %s: input %s is not an input of %s", s.Name, k, s.Action)
				}
				extra[k] = v
				continue
			}
			name := document.SnakeCase(k)
			switch in.Type {
			case document.TypeJSON:
				if text, ok := v.(string); ok {
					attr(2, name, text)
				} else {
					fmt.Fprintf(&b, "    %s = jsonencode(%s)\n", name, hclValue(v, 2))
				}
			case document.TypeStringList:
				attr(2, name, listForm(v))
			case document.TypeStringListMap:
				m, ok := v.(map[string]any)
				if !ok {
					return "", fmt.Errorf("step %s: %s is not an object", s.Name, k)
				}
				lm := map[string]any{}
				for mk, mv := range m {
					lm[mk] = listForm(mv)
				}
				attr(2, name, lm)
			default:
				attr(2, name, v)
			}
		}
		if len(extra) > 0 {
			fmt.Fprintf(&b, "    %s = jsonencode(%s)\n", apiInputsAttribute, hclValue(extra, 2))
		}
		b.WriteString("  }\n}\n")
	}
	return b.String(), nil
}

func sortedInputNames(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// listForm writes a single value of a list input as a one-element list,
// which SSM and the canonical form treat alike.
func listForm(v any) any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// hclValue writes a JSON-like Go value as an HCL expression.
func hclValue(v any, indent int) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return hclString(t)
	case bool:
		return strconv.FormatBool(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = hclValue(e, indent+1)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		if len(t) == 0 {
			return "{}"
		}
		pad := strings.Repeat("  ", indent+1)
		var b strings.Builder
		b.WriteString("{\n")
		for _, k := range sortedInputNames(t) {
			fmt.Fprintf(&b, "%s%s = %s\n", pad, hclString(k), hclValue(t[k], indent+1))
		}
		b.WriteString(strings.Repeat("  ", indent) + "}")
		return b.String()
	}
	panic(fmt.Sprintf("no HCL for %T", v))
}

// hclString quotes a string for HCL: escapes, and no interpolation.
func hclString(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "${", "$${")
	return strings.ReplaceAll(q, "%{", "%%{")
}

// readRecipeHCL reads an HCL recipe body as Terraform would for the recipe
// schema, into the model the provider converts.
func readRecipeHCL(t *testing.T, body string) recipeModel {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(body), "recipe.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("%s\n%s", diags, body)
	}
	root := f.Body.(*hclsyntax.Body)
	blocks := recipeBlocks()
	paramType := blocks["parameter"].Type().(types.ListType).ElemType
	stepType := blocks["step"].Type().(types.ListType).ElemType.(types.ObjectType)
	attrs := recipeAttributes()
	r := nullRecipe()
	if a, ok := root.Attributes["description"]; ok {
		r.Description = hclAttr(t, a, attrs["description"].GetType()).(types.String)
	}
	if a, ok := root.Attributes["assume_role"]; ok {
		r.AssumeRole = hclAttr(t, a, attrs["assume_role"].GetType()).(types.String)
	}
	if a, ok := root.Attributes["outputs"]; ok {
		r.Outputs = hclAttr(t, a, attrs["outputs"].GetType()).(types.List)
	}
	var params, steps []attr.Value
	for _, blk := range root.Blocks {
		switch blk.Type {
		case "parameter":
			params = append(params, hclObject(t, blk.Body, paramType, nil))
		case "step":
			steps = append(steps, hclObject(t, blk.Body, stepType, func(inner *hclsyntax.Block, typ attr.Type) attr.Value {
				if inner.Type == "output" {
					return nil // gathered below
				}
				return hclObject(t, inner.Body, typ, nil)
			}))
		}
	}
	if len(params) > 0 {
		r.Parameter = types.ListValueMust(paramType, params)
	}
	if len(steps) > 0 {
		r.Step = types.ListValueMust(stepType, steps)
	}
	return r
}

// hclObject reads a block body as an object of type typ: attributes, and
// nested blocks through nested (lists of `output` blocks are gathered here).
func hclObject(t *testing.T, body *hclsyntax.Body, typ attr.Type, nested func(*hclsyntax.Block, attr.Type) attr.Value) types.Object {
	t.Helper()
	ot := typ.(types.ObjectType)
	set := map[string]attr.Value{}
	for name, a := range body.Attributes {
		at, ok := ot.AttrTypes[name]
		if !ok {
			t.Fatalf("unsupported argument %q", name)
		}
		set[name] = hclAttr(t, a, at)
	}
	lists := map[string][]attr.Value{}
	for _, blk := range body.Blocks {
		at, ok := ot.AttrTypes[blk.Type]
		if !ok {
			t.Fatalf("unsupported block %q", blk.Type)
		}
		if lt, isList := at.(types.ListType); isList {
			lists[blk.Type] = append(lists[blk.Type], hclObject(t, blk.Body, lt.ElemType, nil))
			continue
		}
		set[blk.Type] = nested(blk, at)
	}
	for name, elems := range lists {
		set[name] = types.ListValueMust(ot.AttrTypes[name].(types.ListType).ElemType, elems)
	}
	return objectOf(t, typ, set)
}

var hclFunctions = map[string]function.Function{"jsonencode": stdlib.JSONEncodeFunc}

// hclAttr evaluates an attribute and converts it to the schema type, as
// Terraform does (true and 5 become "true" and "5" for a string).
func hclAttr(t *testing.T, a *hclsyntax.Attribute, typ attr.Type) attr.Value {
	t.Helper()
	ctx := context.Background()
	v, diags := a.Expr.Value(&hcl.EvalContext{Functions: hclFunctions})
	if diags.HasErrors() {
		t.Fatalf("%s: %s", a.Name, diags)
	}
	tfType := typ.TerraformType(ctx)
	typeJSON, err := tfType.MarshalJSON() //nolint:staticcheck // the type's JSON is cty's
	if err != nil {
		t.Fatal(err)
	}
	ctyType, err := ctyjson.UnmarshalType(typeJSON)
	if err != nil {
		t.Fatal(err)
	}
	cv, err := convert.Convert(v, ctyType)
	if err != nil {
		t.Fatalf("%s: Terraform would refuse the value: %v", a.Name, err)
	}
	js, err := ctyjson.Marshal(cv, ctyType)
	if err != nil {
		t.Fatal(err)
	}
	tv, err := tftypes.ValueFromJSONWithOpts(js, tfType, tftypes.ValueFromJSONOpts{}) //nolint:staticcheck // test only
	if err != nil {
		t.Fatal(err)
	}
	out, err := typ.ValueFromTerraform(ctx, tv)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The same HCL recipes go through Terraform itself, all in one configuration:
// each amibake_document renders its document's own canonical JSON.
func TestAccDocument_corpusAsHCL(t *testing.T) {
	docs, _ := hclCorpus(t)
	var cfg strings.Builder
	var checks []resource.TestCheckFunc
	for i, cd := range docs {
		want, err := cd.doc.CanonicalJSON()
		if err != nil {
			t.Fatal(err)
		}
		body, err := recipeHCL(cd.doc)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&cfg, "# %s\nresource \"amibake_document\" \"d%d\" {\n%s}\n\n", cd.file, i, body)
		checks = append(checks, resource.TestCheckResourceAttr(fmt.Sprintf("amibake_document.d%d", i), "json", string(want)))
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config(cfg.String()),
			Check:  resource.ComposeAggregateTestCheckFunc(checks...),
		}},
	})
}
