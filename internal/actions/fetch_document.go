package actions

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// FetchDocument returns the content of an SSM Automation document by name.
func FetchDocument(ctx context.Context, clients *awsx.Clients, name string) (string, error) {
	out, err := clients.SSM.GetDocument(ctx, &ssm.GetDocumentInput{Name: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("GetDocument %s: %w", name, err)
	}
	if out.DocumentType != "" && out.DocumentType != ssmtypes.DocumentTypeAutomation {
		return "", fmt.Errorf("SSM document %s is of type %s, not Automation", name, out.DocumentType)
	}
	return aws.ToString(out.Content), nil
}
