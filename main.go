package main

import (
	"flag"
	"log"
	"os"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/amibake/terraform-provider-amibake/internal/provider"
)

// version is set by the release build (goreleaser ldflags).
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	quietSDKLogsUnlessAsked()

	// The framework's server with amibake's shortcuts on the refresh path
	// (provider.NewProtocol6), served as providerserver.Serve would.
	var opts []tf6server.ServeOpt
	if debug {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	err := tf6server.Serve("registry.terraform.io/amibake/amibake", provider.NewProtocol6(provider.New(version)()), opts...)
	if err != nil {
		log.Fatal(err.Error())
	}
}

// quietSDKLogsUnlessAsked turns the plugin SDK's own logging off when no
// TF_LOG variable is set (to anything but the empty string). Terraform shows a
// provider's log only when TF_LOG or TF_LOG_PROVIDER is set, yet the SDK logs
// at TRACE by default: on every request, and for every value of a state it
// converts, it formats a JSON line that Terraform then parses and drops. On a
// refresh of many images with inline steps that was about a quarter of the
// CPU time, the provider's and Terraform's together. With any TF_LOG variable
// set, logging is left as the variables say.
func quietSDKLogsUnlessAsked() {
	for _, kv := range os.Environ() {
		if name, value, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "TF_LOG") && value != "" {
			return
		}
	}
	_ = os.Setenv("TF_LOG_SDK", "off")
}
