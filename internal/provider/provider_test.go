package provider

import (
	"fmt"
	"os"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/amibake/terraform-provider-amibake/internal/testsupport/acctest"
)

// testMoto is the AWS emulator shared by every acceptance test of this package.
var testMoto *acctest.Moto

func TestMain(m *testing.M) {
	if os.Getenv("TF_ACC") == "" {
		os.Exit(m.Run())
	}
	moto, stop, err := acctest.SharedMoto()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot start the AWS emulator for acceptance tests:", err)
		os.Exit(1)
	}
	testMoto = moto
	for k, v := range moto.Env() {
		os.Setenv(k, v)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// protoV6ProviderFactories serve the provider in-process to the Terraform CLI.
var protoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"amibake": NewProtocol6WithError(New("test")()),
}

func testAccPreCheck(t *testing.T) {
	t.Helper()
	acctest.PreCheck(t)
}
