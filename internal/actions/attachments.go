package actions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Attachments returns the content of a file the document attaches (a name of
// its top-level files). It is nil when the run knows no attachments.
type Attachments func(ctx context.Context, name string) ([]byte, error)

// MaxAttachmentBytes bounds one attachment, SSM's own limit for a document
// attachment being far above any script a step runs.
const MaxAttachmentBytes = 64 << 20

// URLAttachments serves attachments from the presigned URLs that SSM
// GetDocument returns in AttachmentsContent, keyed by name.
func URLAttachments(client *http.Client, urls map[string]string) Attachments {
	if client == nil {
		client = http.DefaultClient
	}
	return func(ctx context.Context, name string) ([]byte, error) {
		u, ok := urls[name]
		if !ok {
			return nil, fmt.Errorf("the document has no attachment named %q", name)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("attachment %q: %w", name, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("downloading attachment %q: %w", name, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("downloading attachment %q: HTTP %d", name, resp.StatusCode)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAttachmentBytes+1))
		if err != nil {
			return nil, fmt.Errorf("downloading attachment %q: %w", name, err)
		}
		if len(data) > MaxAttachmentBytes {
			return nil, fmt.Errorf("attachment %q is larger than %d bytes", name, MaxAttachmentBytes)
		}
		return data, nil
	}
}

// CheckedAttachments verifies what from returns against the sha256 checksum
// the document's files section gives for it ("files": {"name":
// {"checksums": {"sha256": "..."}}}), as SSM does when it stores them.
func CheckedAttachments(from Attachments, files map[string]any) Attachments {
	if from == nil {
		return nil
	}
	return func(ctx context.Context, name string) ([]byte, error) {
		data, err := from(ctx, name)
		if err != nil {
			return nil, err
		}
		want := fileChecksum(files, name)
		if want == "" {
			return data, nil
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, want) {
			return nil, fmt.Errorf("attachment %q has sha256 %s, but the document's files section says %s", name, got, want)
		}
		return data, nil
	}
}

func fileChecksum(files map[string]any, name string) string {
	f, _ := files[name].(map[string]any)
	sums, _ := f["checksums"].(map[string]any)
	s, _ := sums["sha256"].(string)
	return s
}
