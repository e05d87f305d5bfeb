package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
)

// TestAccExamples holds every configuration under examples/ to what a user
// copying it would see: it must be `fmt`-clean and pass `validate` (schema,
// types and the provider's plan-time checks) with the provider built from this
// repository. The CLI is TF_ACC_TERRAFORM_PATH, so `make testacc-tofu` runs the
// same check under OpenTofu. Nothing is downloaded: the provider comes from a
// dev_overrides CLI configuration, which needs no `init`.
func TestAccExamples(t *testing.T) {
	testAccPreCheck(t)
	cli := acctest.TerraformPath()
	root := repoFile(t, ".")
	dirs := exampleDirs(t, filepath.Join(root, "examples"))
	if len(dirs) == 0 {
		t.Fatal("no example configurations found under examples/")
	}
	cliConfig := devOverrideConfig(t, buildProviderBinary(t, root))

	// The checks must be able to fail: planted bad examples prove it each run.
	t.Run("rejects/unformatted", func(t *testing.T) {
		dir := t.TempDir()
		writeExampleFile(t, filepath.Join(dir, "main.tf"), "resource \"amibake_document\" \"x\" {\n    description = \"badly indented\"\n  step {\n    name = \"wait\"\n    sleep {\n      duration = \"PT1M\"\n    }\n  }\n}\n")
		err := checkExample(cli, cliConfig, dir)
		if err == nil || !strings.Contains(err.Error(), "fmt") {
			t.Fatalf("an unformatted example passed: %v", err)
		}
	})
	t.Run("rejects/invalid", func(t *testing.T) {
		dir := t.TempDir()
		// Formatted, but the step names an input run_instances does not have.
		writeExampleFile(t, filepath.Join(dir, "main.tf"), "resource \"amibake_document\" \"x\" {\n  step {\n    name = \"launch\"\n    run_instances {\n      image = \"ami-12c6146b\"\n    }\n  }\n}\n")
		err := checkExample(cli, cliConfig, dir)
		if err == nil || !strings.Contains(err.Error(), "validate") {
			t.Fatalf("an invalid example passed: %v", err)
		}
	})

	// The README's HCL is an example too.
	for i, block := range terraformBlocks(t, filepath.Join(root, "README.md")) {
		t.Run(fmt.Sprintf("README.md/block-%d", i+1), func(t *testing.T) {
			dir := t.TempDir()
			writeExampleFile(t, filepath.Join(dir, "main.tf"), block)
			if err := checkExample(cli, cliConfig, dir); err != nil {
				t.Error(err)
			}
		})
	}

	have := versionOfCLI(t, cli, cliConfig)
	for _, dir := range dirs {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			if need, ok := requiredCLI(t, dir); ok && versionLess(have, need) {
				// A feature of newer CLIs (identity import, write-only
				// arguments): this CLI can check the formatting only.
				if out, err := runCLI(cli, cliConfig, dir, "fmt", "-check", "-recursive", "-diff", "-no-color", "."); err != nil {
					t.Errorf("%s fmt -check: %v (run `make fmt`)\n%s", filepath.Base(cli), err, out)
				}
				t.Skipf("the example requires CLI version %d.%d.%d or later, this one is %d.%d.%d: formatting checked, validate skipped",
					need[0], need[1], need[2], have[0], have[1], have[2])
			}
			if err := checkExample(cli, cliConfig, dir); err != nil {
				t.Error(err)
			}
		})
	}
}

// requiredVersionRE matches an example's `required_version = ">= X.Y.Z"`.
var requiredVersionRE = regexp.MustCompile(`required_version\s*=\s*">=\s*(\d+)\.(\d+)(?:\.(\d+))?"`)

// requiredCLI is the least CLI version the .tf files of dir declare.
func requiredCLI(t *testing.T, dir string) ([3]int, bool) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := requiredVersionRE.FindStringSubmatch(string(data)); m != nil {
			return parseVersion(strings.Join(m[1:], ".")), true
		}
	}
	return [3]int{}, false
}

// versionOfCLI asks the CLI for its version.
func versionOfCLI(t *testing.T, cli, cliConfig string) [3]int {
	t.Helper()
	out, err := runCLI(cli, cliConfig, t.TempDir(), "version", "-json")
	if err != nil {
		t.Fatalf("%s version -json: %v\n%s", cli, err, out)
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version == "" {
		t.Fatalf("%s version -json: %v\n%s", cli, err, out)
	}
	return parseVersion(v.Version)
}

// parseVersion reads "X.Y.Z" (a missing or non-numeric part is 0).
func parseVersion(s string) [3]int {
	var v [3]int
	for i, p := range strings.SplitN(strings.SplitN(s, "-", 2)[0], ".", 3) {
		v[i], _ = strconv.Atoi(p)
	}
	return v
}

func versionLess(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// checkExample runs `fmt -check` on the example where it is and `validate` on
// a copy, so that no .terraform folder is ever left in the repository.
func checkExample(cli, cliConfig, dir string) error {
	if out, err := runCLI(cli, cliConfig, dir, "fmt", "-check", "-recursive", "-diff", "-no-color", "."); err != nil {
		return fmt.Errorf("%s fmt -check: %v (run `make fmt`)\n%s", filepath.Base(cli), err, out)
	}
	work, err := os.MkdirTemp("", "amibake-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := os.CopyFS(work, os.DirFS(dir)); err != nil {
		return fmt.Errorf("copying %s: %w", dir, err)
	}
	if out, err := runCLI(cli, cliConfig, work, "validate", "-no-color"); err != nil {
		return fmt.Errorf("%s validate: %v\n%s", filepath.Base(cli), err, out)
	}
	return nil
}

func runCLI(cli, cliConfig, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Dir = dir
	cmd.Env = append(withoutEnv(os.Environ(), "TF_CLI_CONFIG_FILE", "TF_LOG", "TF_DATA_DIR"),
		"TF_CLI_CONFIG_FILE="+cliConfig,
		"CHECKPOINT_DISABLE=1",
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
	)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// exampleDirs lists the directories under root that hold .tf files.
func exampleDirs(t *testing.T, root string) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != root {
			return filepath.SkipDir // .terraform from trying an example by hand
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".tf") {
			seen[filepath.Dir(path)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dirs := make([]string, 0, len(seen))
	for d := range seen {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	return dirs
}

// terraformBlocks returns the ```terraform fenced blocks of a Markdown file.
func terraformBlocks(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur *strings.Builder
	for _, line := range strings.SplitAfter(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && trimmed == "```terraform":
			cur = &strings.Builder{}
		case cur != nil && trimmed == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line)
		}
	}
	if cur != nil {
		t.Fatalf("%s: unterminated ```terraform block", path)
	}
	return blocks
}

// buildProviderBinary builds this repository's provider once, as a user's
// `go build` would, into a folder for dev_overrides.
func buildProviderBinary(t *testing.T, root string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the provider for the examples: %v", err)
	}
	dir := t.TempDir()
	name := "terraform-provider-amibake"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", filepath.Join(dir, name), ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the provider failed: %v\n%s", err, out)
	}
	return dir
}

// devOverrideConfig writes a CLI configuration that serves the provider from
// dir. Both registry hosts are listed (Terraform and OpenTofu), and both
// namespaces: resource and data source examples follow the registry's
// convention of omitting required_providers, so the CLI infers hashicorp/amibake.
func devOverrideConfig(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("provider_installation {\n  dev_overrides {\n")
	for _, host := range []string{"registry.terraform.io", "registry.opentofu.org"} {
		for _, ns := range []string{"amibake", "hashicorp"} {
			fmt.Fprintf(&b, "    %q = %q\n", host+"/"+ns+"/amibake", filepath.ToSlash(dir))
		}
	}
	b.WriteString("  }\n  direct {}\n}\n")
	path := filepath.Join(t.TempDir(), "dev.tfrc")
	writeExampleFile(t, path, b.String())
	return path
}

func writeExampleFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
