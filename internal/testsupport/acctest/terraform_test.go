package acctest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recordingTB records what PreCheck asks of the test instead of stopping it.
type recordingTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skip(args ...any) {
	r.skipped, r.msg = true, fmt.Sprint(args...)
}
func (r *recordingTB) Fatal(args ...any) {
	r.failed, r.msg = true, fmt.Sprint(args...)
}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
}

func TestPreCheck(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "terraform")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		acc, path string
		namespace string
		skip      bool
		fail      bool
		msg       string
	}{
		{name: "no TF_ACC", path: exe, namespace: "amibake", skip: true, msg: "TF_ACC=1"},
		{name: "no terraform path", acc: "1", namespace: "amibake", fail: true, msg: "TF_ACC_TERRAFORM_PATH is not"},
		{name: "missing binary", acc: "1", path: filepath.Join(dir, "nope"), namespace: "amibake", fail: true, msg: "make tools"},
		{name: "directory", acc: "1", path: dir, namespace: "amibake", fail: true, msg: "not an executable"},
		{name: "not executable", acc: "1", path: plain, namespace: "amibake", fail: true, msg: "not an executable"},
		{name: "no namespace", acc: "1", path: exe, fail: true, msg: "TF_ACC_PROVIDER_NAMESPACE"},
		{name: "wrong namespace", acc: "1", path: exe, namespace: "hashicorp", fail: true, msg: `"hashicorp"`},
		{name: "ready", acc: "1", path: exe, namespace: "amibake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "not executable" && runtime.GOOS == "windows" {
				t.Skip("no execute bit on Windows")
			}
			t.Setenv("TF_ACC", tt.acc)
			t.Setenv("TF_ACC_TERRAFORM_PATH", tt.path)
			t.Setenv("TF_ACC_PROVIDER_NAMESPACE", tt.namespace)
			if got := TerraformPath(); got != tt.path {
				t.Errorf("TerraformPath() = %q, want %q", got, tt.path)
			}
			r := &recordingTB{TB: t}
			PreCheck(r)
			if r.skipped != tt.skip || r.failed != tt.fail {
				t.Fatalf("PreCheck skipped=%v failed=%v (%q), want skipped=%v failed=%v", r.skipped, r.failed, r.msg, tt.skip, tt.fail)
			}
			if !strings.Contains(r.msg, tt.msg) {
				t.Errorf("PreCheck message %q does not mention %q", r.msg, tt.msg)
			}
		})
	}
}
