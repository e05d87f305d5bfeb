// Command floor is amibake served with the same schemas and the same server
// (provider.NewProtocol6), except that a refresh of amibake_image answers with
// the state it was given: no Read, no AWS call. The refresh benchmark times it
// next to the real provider to show what no Read at all would cost, the floor
// that Terraform's own handling of the schema and the provider process set.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/amibake/terraform-provider-amibake/internal/provider"
)

func main() {
	server := provider.NewProtocol6(provider.New("floor")())
	err := tf6server.Serve("registry.terraform.io/amibake/floor", func() tfprotov6.ProviderServer {
		return noRead{server()}
	})
	if err != nil {
		log.Fatal(err)
	}
}

type noRead struct{ tfprotov6.ProviderServer }

func (s noRead) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	if req.TypeName != "amibake_image" {
		return s.ProviderServer.ReadResource(ctx, req)
	}
	return &tfprotov6.ReadResourceResponse{NewState: req.CurrentState, Private: req.Private}, nil
}
