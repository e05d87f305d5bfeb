package document

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The conformance corpus: Automation documents published by others
// (testdata/conformance/README.md says where each comes from).
type conformanceEntry struct {
	File       string `json:"file"`
	Valid      bool   `json:"valid"`
	Repository string `json:"repository"`
	Commit     string `json:"commit"`
	Path       string `json:"path"`
	URL        string `json:"url"`
	License    string `json:"license"`
	// Valid documents: the warnings expected (path: message part, in order)
	// and the actions the local engine does not run.
	Warnings       []string `json:"warnings,omitempty"`
	LocalCannotRun []string `json:"local_cannot_run"`
	// Invalid documents: where and why they are refused.
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message,omitempty"`
}

func loadConformance(t *testing.T) []conformanceEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "conformance", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Documents []conformanceEntry `json:"documents"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.Documents
}

// Every file of the corpus is in the manifest with its source, and the
// corpus holds at least 30 published documents that SSM accepts.
func TestConformanceManifest(t *testing.T) {
	entries := loadConformance(t)
	listed := map[string]bool{}
	valid := 0
	for _, e := range entries {
		listed[e.File] = true
		if e.Valid {
			valid++
		}
		if e.Repository == "" || len(e.Commit) != 40 || e.Path == "" || e.License == "" || !strings.HasPrefix(e.URL, "https://github.com/"+e.Repository+"/blob/"+e.Commit+"/") {
			t.Errorf("%s: incomplete source %+v", e.File, e)
		}
	}
	if valid < 30 {
		t.Errorf("the corpus holds %d valid documents, want at least 30", valid)
	}
	root := filepath.Join("testdata", "conformance")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if (strings.HasPrefix(rel, "valid/") || strings.HasPrefix(rel, "invalid/")) && !listed[rel] {
			t.Errorf("%s is not in manifest.json", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every valid document parses, validates without errors (with only the
// warnings the manifest expects), and renders to canonical JSON that parses
// back to the same model and renders to the same bytes.
func TestConformanceValidDocuments(t *testing.T) {
	for _, e := range loadConformance(t) {
		if !e.Valid {
			continue
		}
		t.Run(e.File, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join("testdata", "conformance", e.File))
			if err != nil {
				t.Fatal(err)
			}
			d, err := Parse(text)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			ps := Validate(d)
			if errs := Errors(ps); len(errs) > 0 {
				t.Fatalf("SSM accepts this document, but it is refused:\n%s", problemsText(errs))
			}
			ws := Warnings(ps)
			if len(ws) != len(e.Warnings) {
				t.Errorf("want %d warnings, got %d:\n%s", len(e.Warnings), len(ws), problemsText(ws))
			} else {
				for i, want := range e.Warnings {
					path, msg, _ := strings.Cut(want, ": ")
					if strings.Join(ws[i].Path, ".") != path || !strings.Contains(ws[i].Message, msg) {
						t.Errorf("warning %d = %v, want path %s and message containing %q", i+1, ws[i], path, msg)
					}
				}
			}

			canon, err := d.CanonicalJSON()
			if err != nil {
				t.Fatalf("canonical JSON: %v", err)
			}
			d2, err := ParseJSON(canon)
			if err != nil {
				t.Fatalf("canonical JSON does not parse: %v\n%s", err, canon)
			}
			if errs := Errors(Validate(d2)); len(errs) > 0 {
				t.Errorf("canonical JSON does not validate:\n%s", problemsText(errs))
			}
			if !reflect.DeepEqual(semantic(d), semantic(d2)) {
				t.Errorf("canonical JSON does not parse back to the same document:\n%s", canon)
			}
			canon2, err := d2.CanonicalJSON()
			if err != nil || string(canon2) != string(canon) {
				t.Errorf("canonical JSON is not a fixed point (%v)", err)
			}

			// Executors: SSM runs every action of its catalogue; the local
			// engine's list is checked against the engine in its own tests.
			for _, a := range d.Actions() {
				if _, ok := LookupAction(a); !ok {
					t.Errorf("action %s is not in the catalogue", a)
				}
			}
			local := d.ActionsNotRunnable(func(a string) bool { return !slices.Contains(e.LocalCannotRun, a) })
			if len(local) != len(e.LocalCannotRun) {
				t.Errorf("the manifest says the local engine cannot run %v, but the document uses only %v of them", e.LocalCannotRun, local)
			}
		})
	}
}

// semantic is the model with what canonical JSON normalises normalised
// (CanonicalJSON lists it) and the source positions left out.
func semantic(d *Document) Document {
	c := *d
	c.fieldPos, c.warnings = nil, nil
	steps := make([]Step, len(d.MainSteps))
	for i, s := range d.MainSteps {
		s.Pos, s.fieldPos = Pos{}, nil
		s.Inputs = canonicalInputs(s.Action, s.Inputs)
		steps[i] = s
	}
	c.MainSteps = steps
	params := make([]Parameter, len(d.Parameters))
	for i, p := range d.Parameters {
		p.Pos = Pos{}
		if p.HasDefault {
			p.Default = canonicalDefault(p.Type, p.Default)
		}
		params[i] = p
	}
	slices.SortStableFunc(params, func(a, b Parameter) int { return strings.Compare(a.Name, b.Name) })
	c.Parameters = params
	vars := make([]Variable, len(d.Variables))
	for i, va := range d.Variables {
		va.Pos = Pos{}
		va.Default = NormalizeValue(va.Default)
		vars[i] = va
	}
	slices.SortStableFunc(vars, func(a, b Variable) int { return strings.Compare(a.Name, b.Name) })
	c.Variables = vars
	c.Files = NormalizeValue(d.Files).(map[string]any)
	return normalizeModel(c)
}

// normalizeModel makes empty and nil slices and maps alike, as canonical
// JSON leaves empty optional fields out.
func normalizeModel(d Document) Document {
	if len(d.Parameters) == 0 {
		d.Parameters = nil
	}
	if len(d.Variables) == 0 {
		d.Variables = nil
	}
	if len(d.Outputs) == 0 {
		d.Outputs = nil
	}
	if len(d.Files) == 0 {
		d.Files = nil
	}
	for i := range d.MainSteps {
		if len(d.MainSteps[i].Outputs) == 0 {
			d.MainSteps[i].Outputs = nil
		}
	}
	for i := range d.Parameters {
		if len(d.Parameters[i].AllowedValues) == 0 {
			d.Parameters[i].AllowedValues = nil
		}
	}
	return d
}

// Every invalid document is refused at the line and column the manifest
// gives, with the message it gives.
func TestConformanceInvalidDocuments(t *testing.T) {
	for _, e := range loadConformance(t) {
		if e.Valid {
			continue
		}
		t.Run(e.File, func(t *testing.T) {
			if e.Line == 0 || e.Message == "" {
				t.Fatalf("the manifest gives no line and message for %s", e.File)
			}
			text, err := os.ReadFile(filepath.Join("testdata", "conformance", e.File))
			if err != nil {
				t.Fatal(err)
			}
			d, err := Parse(text)
			if err != nil {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("want a *SyntaxError, got %v", err)
				}
				if se.Line != e.Line || se.Column != e.Column || !strings.Contains(se.Msg, e.Message) {
					t.Errorf("refused at %d:%d with %q, want %d:%d with %q", se.Line, se.Column, se.Msg, e.Line, e.Column, e.Message)
				}
				return
			}
			errs := Errors(Validate(d))
			if len(errs) == 0 {
				t.Fatal("the document is accepted")
			}
			for _, p := range errs {
				if p.Pos.Line == e.Line && p.Pos.Column == e.Column && strings.Contains(p.Error(), e.Message) {
					return
				}
			}
			t.Errorf("no error at %d:%d containing %q; got:\n%s", e.Line, e.Column, e.Message, problemsText(errs))
		})
	}
}
