package acctest

import (
	"os"
	"runtime"
	"testing"
)

// ProviderNamespace is the registry namespace the provider is reattached
// under; TF_ACC_PROVIDER_NAMESPACE must name it.
const ProviderNamespace = "amibake"

// RequiredProviders is the terraform block for configurations that carry
// their own (ConfigDirectory, ConfigFile, or a Config with other terraform
// settings). For a plain TestStep.Config terraform-plugin-testing writes the
// same block itself from TF_ACC_PROVIDER_NAMESPACE.
const RequiredProviders = `terraform {
  required_providers {
    amibake = {
      source = "amibake/amibake"
    }
  }
}
`

// TerraformPath is the Terraform CLI the acceptance tests drive
// (TF_ACC_TERRAFORM_PATH), or "" when unset.
func TerraformPath() string {
	return os.Getenv("TF_ACC_TERRAFORM_PATH")
}

// PreCheck skips the test unless TF_ACC is set, and fails it with what to do
// when TF_ACC is set but the environment would make terraform-plugin-testing
// try to download Terraform or look for the provider under the wrong name.
func PreCheck(tb testing.TB) {
	tb.Helper()
	if os.Getenv("TF_ACC") == "" {
		tb.Skip("acceptance test: set TF_ACC=1 (make testacc)")
		return
	}
	path := TerraformPath()
	if path == "" {
		tb.Fatal("TF_ACC is set but TF_ACC_TERRAFORM_PATH is not: run `make tools` once, then `make testacc`, " +
			"or export TF_ACC_TERRAFORM_PATH=$PWD/.tools/bin/terraform (Terraform cannot be downloaded here)")
		return
	}
	info, err := os.Stat(path)
	if err != nil {
		tb.Fatalf("TF_ACC_TERRAFORM_PATH=%s: %v; run `make tools` to build Terraform into .tools/bin", path, err)
		return
	}
	if info.IsDir() || (runtime.GOOS != "windows" && info.Mode().Perm()&0o111 == 0) {
		tb.Fatalf("TF_ACC_TERRAFORM_PATH=%s is not an executable file", path)
		return
	}
	if ns := os.Getenv("TF_ACC_PROVIDER_NAMESPACE"); ns != ProviderNamespace {
		tb.Fatalf("TF_ACC_PROVIDER_NAMESPACE is %q, want %q: configurations declare source \"amibake/amibake\" "+
			"and Terraform would report an inconsistent dependency lock file (make testacc sets it)", ns, ProviderNamespace)
	}
}
