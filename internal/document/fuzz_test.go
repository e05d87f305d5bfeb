package document

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func addSeeds(f *testing.F, patterns ...string) {
	for _, pattern := range patterns {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// checkDocument is what every parsed input must satisfy: errors are
// SyntaxErrors with a position (or the LimitError of text over 64 KB), and a
// parsed document validates, renders and re-parses to the same canonical form.
func checkDocument(t *testing.T, d *Document, err error) {
	var le *LimitError
	if errors.As(err, &le) {
		return
	}
	if err != nil {
		var se *SyntaxError
		if !errors.As(err, &se) || se.Line < 1 || se.Column < 1 || se.Msg == "" {
			t.Fatalf("error is not a positioned SyntaxError: %#v", err)
		}
		return
	}
	for _, p := range Validate(d) {
		if p.Message == "" {
			t.Fatalf("problem without message: %#v", p)
		}
	}
	_, _ = ParameterValues(d, map[string]string{"x": "1"})
	c1, err := d.CanonicalJSON()
	if err != nil {
		return // values JSON cannot hold
	}
	d2, err := ParseJSON(c1)
	if err != nil {
		t.Fatalf("canonical JSON does not parse: %v\n%s", err, c1)
	}
	c2, err := d2.CanonicalJSON()
	if err != nil || !bytes.Equal(c1, c2) {
		t.Fatalf("canonical JSON is not a fixed point (%v):\n%s\n---\n%s", err, c1, c2)
	}
}

func FuzzParseJSON(f *testing.F) {
	addSeeds(f, "testdata/good/*.json", "testdata/bad/*.json")
	f.Add([]byte(`{"mainSteps": [{"name": "t", "inputs": ["K": 1]}]}`))
	f.Add([]byte(`{"a": "\ud800\udc00 \u00e9 \\"}`))
	f.Add([]byte("{\"description\": \"\xff \u2028\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseJSON(data)
		checkDocument(t, d, err)
	})
}

func FuzzParseYAML(f *testing.F) {
	addSeeds(f, "testdata/good/*.yaml", "testdata/bad/*.yaml")
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("mainSteps:\n- <<: {name: a}\n  action: aws:sleep\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseYAML(data)
		checkDocument(t, d, err)
	})
}

type fuzzScope struct{}

func (fuzzScope) Lookup(ref Ref) (any, error) {
	switch {
	case strings.HasPrefix(ref.Name, "L"):
		return []any{"a", "b"}, nil
	case strings.HasPrefix(ref.Name, "M"):
		return map[string]any{"k": int64(1)}, nil
	case ref.Kind == RefStepOutput:
		return []any{ref.Output}, nil
	case strings.HasPrefix(ref.Name, "E"):
		return nil, errors.New("no value")
	}
	return ref.Name, nil
}

func FuzzTemplates(f *testing.F) {
	for _, s := range []string{
		"{{ AmiId }}", "x-{{global:DATE_TIME}}-{{ launch.InstanceIds }}", "{{ssm:/a/b}}", "{{", "}}{{ }}",
		"{{ {{ a }} }}", "{{ variable:V }}", "{{ L1 }}", "a{{M}}b", "{{ E }}", "{{automation:EXECUTION_ID}}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, v := range []any{s, []any{s, "x"}, map[string]any{"k": []any{s}}} {
			refs, err := RefsIn(v)
			if err == nil {
				for _, r := range refs {
					if r.Kind < RefParameter || r.Kind > RefSSM || !strings.HasPrefix(r.Raw, "{{") || !strings.HasSuffix(r.Raw, "}}") {
						t.Fatalf("bad ref %#v from %q", r, s)
					}
				}
			}
			got, rerr := Resolve(v, fuzzScope{})
			if err != nil && rerr == nil {
				t.Fatalf("RefsIn fails (%v) but Resolve does not", err)
			}
			if rerr == nil && err == nil && len(refs) == 0 && !equalValues(got, NormalizeValue(v)) {
				t.Fatalf("text without templates changed: %#v -> %#v", v, got)
			}
			for _, typ := range []InputType{TypeString, TypeInteger, TypeBoolean, TypeStringList, TypeStringMap, TypeMapList, TypeStringListMap, TypeJSON} {
				_, _ = Coerce(got, typ)
			}
		}
	})
}

func equalValues(a, b any) bool {
	ca, err1 := (&Document{Files: map[string]any{"v": a}}).CanonicalJSON()
	cb, err2 := (&Document{Files: map[string]any{"v": b}}).CanonicalJSON()
	return err1 == nil && err2 == nil && bytes.Equal(ca, cb)
}

// modelSize is what a parsed document holds, as ValueSize measures values.
func modelSize(d *Document) int64 {
	n := ValueSize(d.Files) + int64(len(d.SchemaVersion)+len(d.Description)+len(d.AssumeRole))
	for _, o := range d.Outputs {
		n += int64(len(o))
	}
	for _, p := range d.Parameters {
		n += int64(len(p.Name)+len(p.Type)+len(p.Description)+len(p.AllowedPattern)) + ValueSize(p.Default)
		for _, a := range p.AllowedValues {
			n += int64(len(a))
		}
	}
	for _, v := range d.Variables {
		n += int64(len(v.Name)+len(v.Type)+len(v.Description)) + ValueSize(v.Default)
	}
	for _, s := range d.MainSteps {
		n += int64(len(s.Name)+len(s.Action)+len(s.Description)+len(s.OnFailure)+len(s.OnCancel)+len(s.NextStep)) + ValueSize(s.Inputs)
		for _, o := range s.Outputs {
			n += int64(len(o.Name) + len(o.Selector) + len(o.Type))
		}
	}
	return n
}

// maxParseAlloc bounds what parsing, validating and rendering any text within
// MaxDocumentBytes may allocate.
const maxParseAlloc = 128 << 20

// FuzzParseBounds checks the bounds on any text: over 64 KB it is refused
// before it is read; within, what the parsed document holds stays within the
// alias bound (each expanded value counts at most four times: a list's
// brackets, a null's four letters), and parsing, validating and rendering it
// allocate a bounded amount.
func FuzzParseBounds(f *testing.F) {
	addSeeds(f, "testdata/good/*", "testdata/bad/*")
	f.Add(yamlAliasDocument(1000, 20, 10, 2))
	f.Add(yamlAliasDocument(100, 50, 50, 50))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("a: &a x\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: {<<: *c}\n"))
	f.Add(defaultsBomb(2, 50))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d *Document
		var err error
		var problems []Problem
		alloc := allocated(func() {
			d, err = Parse(data)
			if err == nil {
				problems = Validate(d)
				_, _ = d.CanonicalJSON()
			}
		})
		if len(data) > MaxDocumentBytes {
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("%d bytes: got %v, want a *LimitError", len(data), err)
			}
			return
		}
		if alloc > maxParseAlloc {
			t.Fatalf("%d bytes of text allocated %d bytes", len(data), alloc)
		}
		if err != nil {
			return
		}
		if n := modelSize(d); n > 4*MaxExpandedBytes {
			t.Fatalf("%d bytes of text hold %d bytes once parsed", len(data), n)
		}
		for _, p := range problems {
			if len(p.Error()) > 4096 {
				t.Fatalf("problem of %d bytes: %.200s", len(p.Error()), p.Error())
			}
		}
	})
}

// rawScope resolves parameters from values and everything else to its own
// template text, the length the estimate gives it.
type rawScope map[string]any

func (s rawScope) Lookup(ref Ref) (any, error) {
	if ref.Kind == RefParameter {
		if v, ok := s[ref.Name]; ok {
			return v, nil
		}
		return nil, errors.New("not resolved yet")
	}
	return ref.Raw, nil
}

// FuzzDefaultExpansion builds parameters whose defaults repeat the one before
// (the first default is fuzzed text, the others fan copies of the previous
// parameter around fuzzed glue), then resolves them as the engine does. No
// resolved value may exceed its bound, the estimate must be an upper bound of
// what resolution produces, and a document the estimate accepts must resolve
// without reaching a bound.
func FuzzDefaultExpansion(f *testing.F) {
	f.Add("AAAAAAAA", "", uint8(3), uint8(200))
	f.Add("x{{ global:DATE }}", "-", uint8(4), uint8(20))
	f.Add("{{ P1 }}", "", uint8(2), uint8(2))
	f.Add(strings.Repeat("y", 1000), " ", uint8(2), uint8(255))
	f.Fuzz(func(t *testing.T, first, glue string, levels, fan uint8) {
		if len(first) > MaxDocumentBytes || len(glue) > 64 {
			return
		}
		levels = levels%6 + 1
		d := &Document{SchemaVersion: "0.3", Parameters: []Parameter{{Name: "P0", Type: "String", Default: first, HasDefault: true}}}
		for l := 1; l <= int(levels); l++ {
			d.Parameters = append(d.Parameters, Parameter{Name: "P" + strconv.Itoa(l), Type: "String", HasDefault: true,
				Default: strings.Repeat(glue+"{{ P"+strconv.Itoa(l-1)+" }}", int(fan))})
		}
		var problems []Problem
		values := rawScope{}
		budget := NewBudget(MaxInputSetBytes)
		limited, failed := false, false
		e := newEstimator(d, nil)
		alloc := allocated(func() {
			problems = ExpansionProblems(d, nil)
			for _, p := range d.Parameters {
				v, err := budget.Resolve(p.Default, values)
				var le *LimitError
				switch {
				case errors.As(err, &le):
					limited = true
					return
				case err != nil:
					failed = true
					return
				}
				if n := ValueSize(v); n > MaxValueBytes {
					t.Fatalf("%s resolved to %d bytes", p.Name, n)
				} else if est := e.param(p.Name); n > est {
					t.Fatalf("%s resolved to %d bytes, more than the estimate %d", p.Name, n, est)
				}
				values[p.Name] = v
			}
		})
		if alloc > 64<<20 {
			t.Fatalf("resolution allocated %d bytes", alloc)
		}
		if len(problems) == 0 && limited && !failed {
			t.Fatalf("the estimate accepts the defaults, but resolving them reaches a bound")
		}
	})
}
