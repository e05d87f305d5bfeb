package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// The documents that exhausted the provider's memory before the bounds.

// aliasBomb is YAML of about 55 KB: a 54,000-byte string behind 100 aliases,
// 100 aliases of those and 9 of those, 5.5 GB once expanded.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("schemaVersion: '0.3'\nmainSteps:\n- name: nap\n  action: aws:sleep\n  inputs: {Duration: PT1S}\nfiles:\n")
	b.WriteString("  a: &a \"" + strings.Repeat("A", 54_000) + "\"\n")
	for _, l := range []struct {
		name, ref string
		n         int
	}{{"b", "a", 100}, {"c", "b", 100}, {"d", "c", 9}} {
		b.WriteString("  " + l.name + ": &" + l.name + " [" + strings.TrimSuffix(strings.Repeat("*"+l.ref+",", l.n), ",") + "]\n")
	}
	return b.String()
}

// defaultsBomb is JSON of about 19 KB whose parameter defaults repeat the
// parameter before a thousand times per level: 8 GB once resolved.
func defaultsBomb() string {
	var b strings.Builder
	b.WriteString(`{"schemaVersion": "0.3", "parameters": {"P0": {"type": "String", "default": "AAAAAAAA"}`)
	for l := 1; l <= 3; l++ {
		b.WriteString(`, "P` + strconv.Itoa(l) + `": {"type": "String", "default": "` + strings.Repeat("{{P"+strconv.Itoa(l-1)+"}}", 1000) + `"}`)
	}
	b.WriteString(`}, "mainSteps": [{"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}`)
	return b.String()
}

// oversized is a valid document of 50 MB.
func oversized(n int) string {
	head, tail := `{"schemaVersion": "0.3", "description": "`, `", "mainSteps": [{"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

func TestBuildRecipeRefusesBombs(t *testing.T) {
	bombs := []struct {
		name, text, summary, detail string
	}{
		{"YAML aliases", aliasBomb(), "Invalid Document", "the alias *a makes the document more than 262,144 bytes once aliases are expanded"},
		{"repeating defaults", defaultsBomb(), "Invalid Recipe", `the default of parameter "P2" would be about 8,000,000 bytes`},
		{"50 MB", oversized(50 << 20), "Document Too Large", "The document is 52,428,800 bytes, more than 65,536 bytes, SSM's limit for the content of a document (64 KB)"},
	}
	for _, b := range bombs {
		t.Run(b.name, func(t *testing.T) {
			text := types.StringValue(b.text)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, _, diags := buildRecipe(context.Background(), "content", text, recipeModel{}, true)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes: refused in %v, %d KB allocated, %d KB heap in use", len(b.text), elapsed, alloc>>10, after.HeapInuse>>10)
			if len(diags) != 1 || diags[0].Summary() != b.summary || !strings.Contains(diags[0].Detail(), b.detail) {
				t.Fatalf("diagnostics %v\nwant one %q containing %s", diags, b.summary, b.detail)
			}
			if alloc > 200<<20 {
				t.Errorf("allocated %d bytes, want under 200 MB", alloc)
			}
			if elapsed > 20*time.Second {
				t.Errorf("took %v", elapsed)
			}
		})
	}
}

func TestImportTextReadsNoMoreThanTheLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(p, []byte(oversized(10<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := importText("file:" + p)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "the document is 10,485,760 bytes, more than 65,536 bytes") {
		t.Fatalf("err = %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("allocated %d bytes reading a 10 MB file", alloc)
	}
	if _, err := importText(repoFile(t, "examples/documents/patch-ami.json")); err != nil {
		t.Errorf("a document of ordinary size: %v", err)
	}
}

// TestAccBoundedInput feeds the bombs and the bounds' edges to Terraform: each
// fails at plan, with a message that says which bound and what to do.
func TestAccBoundedInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := write("big.json", oversized(document.MaxDocumentBytes+1))
	aliases := write("aliases.yaml", aliasBomb())
	defaults := write("defaults.json", defaultsBomb())
	cases := []struct {
		name, config string
		want         []string // phrases, in order; Terraform wraps lines anywhere between words
	}{
		{"document over 64 KB", fmt.Sprintf(`
resource "amibake_document" "big" {
  content = file(%q)
}
`, big), []string{"Document Too Large", "The document is 65,537 bytes, more than 65,536 bytes, SSM's limit for the content of a document (64 KB)"}},
		{"YAML alias bomb", fmt.Sprintf(`
data "amibake_document" "aliases" {
  content = file(%q)
}
`, aliases), []string{"Invalid Document", "line 8, column 19: the alias *a makes the document more than 262,144 bytes once aliases are expanded"}},
		{"repeating defaults", fmt.Sprintf(`
resource "amibake_image" "bomb" {
  document = file(%q)
}
`, defaults), []string{"Invalid Recipe", `parameters.P2.default: the default of parameter "P2" would be about 8,000,000 bytes`}},
		{"max_attempts over the ceiling", fmt.Sprintf(`
resource "amibake_image" "retries" {
%s
  step {
    name         = "nap"
    max_attempts = 11
    sleep {
      duration = "PT1S"
    }
  }
}
`, launchAndImageSteps("retries")), []string{"Invalid Step", `step "nap": maxAttempts: maxAttempts is 11, more than 10, the most attempts a step may make`}},
		{"parameter value over 256 KB", fmt.Sprintf(`
resource "amibake_image" "param" {
  parameter {
    name = "note"
    type = "String"
  }
%s
  parameters = { note = format("%%0%dd", 0) }
}
`, launchAndImageSteps("param"), document.MaxValueBytes+1), []string{"Value Too Large", `the value given for parameter "note" is 262,145 bytes, more than 262,144 bytes, the limit for one value`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { testAccPreCheck(t) },
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      config(tc.config),
					PlanOnly:    true,
					ExpectError: phrases(tc.want...),
				}},
			})
		})
	}
}

// phrases matches the given phrases in order, with any white space (Terraform
// wraps diagnostics) between their words.
func phrases(ps ...string) *regexp.Regexp {
	quoted := make([]string, len(ps))
	for i, p := range ps {
		quoted[i] = strings.Join(strings.Fields(regexp.QuoteMeta(p)), `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(quoted, ".*"))
}
