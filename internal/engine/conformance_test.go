package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// Which executor runs each published document of the conformance corpus:
// SSM runs them all; the local engine runs those whose every action it
// implements. The corpus's manifest records the actions it lacks; this test
// holds the record to the engine.
func TestConformanceCorpusExecutors(t *testing.T) {
	root := filepath.Join("..", "document", "testdata", "conformance")
	b, err := os.ReadFile(filepath.Join(root, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Documents []struct {
			File           string   `json:"file"`
			Valid          bool     `json:"valid"`
			LocalCannotRun []string `json:"local_cannot_run"`
		} `json:"documents"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	local := 0
	for _, e := range m.Documents {
		if !e.Valid {
			continue
		}
		text, err := os.ReadFile(filepath.Join(root, e.File))
		if err != nil {
			t.Fatal(err)
		}
		d, err := document.Parse(text)
		if err != nil {
			t.Fatalf("%s: %v", e.File, err)
		}
		got := d.ActionsNotRunnable(CanRun)
		want := e.LocalCannotRun
		if len(got) == 0 && len(want) == 0 {
			local++
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the local engine cannot run %v; the manifest says %v", e.File, got, want)
		}
	}
	t.Logf("the local engine runs %d of the corpus's valid documents; SSM runs them all", local)
}
