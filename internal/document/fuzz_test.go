package document

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
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
// SyntaxErrors with a position, and a parsed document validates, renders and
// re-parses to the same canonical form.
func checkDocument(t *testing.T, d *Document, err error) {
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
			if rerr == nil && err == nil && len(refs) == 0 && !equalValues(got, normalizeValue(v)) {
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
