package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// WebhookIntegrationPrefix is where Automation keeps its webhook integrations:
// one SecureString parameter each, named after the integration, whose value
// is JSON with url and optionally description, headers and payload (AWS
// Systems Manager User Guide, "Creating webhook integrations for
// Automation").
const WebhookIntegrationPrefix = "/d9d01087-4a3f-49e0-b0b4-d568d7826553/ssm/integrations/webhook/"

// maxWebhookResponse bounds the Response output.
const maxWebhookResponse = 100 * 1024

// webhookClient calls webhooks; a variable so that tests can trust their
// own servers.
var webhookClient = &http.Client{}

// invokeWebhook is aws:invokeWebhook: the integration is read from Parameter
// Store and its URL called with POST, Body (else the integration's payload)
// as the request body and the integration's headers. The URL and headers,
// which commonly hold the webhook's secret, are hidden wherever the run is
// reported. A response of 400 or above fails the step.
type invokeWebhook struct{}

func init() { register("aws:invokeWebhook", invokeWebhook{}) }

type webhookIntegration struct {
	URL     string          `json:"url"`
	Headers json.RawMessage `json:"headers"`
	Payload json.RawMessage `json:"payload"`
}

func (invokeWebhook) Run(ctx context.Context, env *Env, step *document.Step, in map[string]any) (Result, error) {
	name, err := required(in, "IntegrationName")
	if err != nil {
		return Result{}, err
	}
	if env == nil || env.Clients == nil || env.Clients.SSM == nil {
		return Result{}, errors.New("no SSM client to read the integration with")
	}
	out, err := env.Clients.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(WebhookIntegrationPrefix + name), WithDecryption: aws.Bool(true)})
	if err != nil {
		if awsx.ErrorCode(err) == "ParameterNotFound" {
			return Result{}, fmt.Errorf("input IntegrationName: there is no webhook integration named %q (no parameter %s%s)", name, WebhookIntegrationPrefix, name)
		}
		return Result{}, fmt.Errorf("reading integration %q: %w", name, err)
	}
	var raw string
	if out.Parameter != nil {
		raw = aws.ToString(out.Parameter.Value)
	}
	secrets := []string{raw}
	var integ webhookIntegration
	if err := json.Unmarshal([]byte(raw), &integ); err != nil || integ.URL == "" {
		return Result{Secrets: secrets}, fmt.Errorf("integration %q is not a webhook integration (JSON with a url)", name)
	}
	headers, err := webhookHeaders(integ.Headers)
	if err != nil {
		return Result{Secrets: secrets}, fmt.Errorf("integration %q: %w", name, err)
	}
	secrets = append(secrets, integ.URL)
	for _, v := range headers {
		secrets = append(secrets, v)
	}

	body, given := in["Body"].(string)
	if !given && len(integ.Payload) > 0 {
		var s string
		if json.Unmarshal(integ.Payload, &s) == nil {
			body = s
		} else {
			body = string(integ.Payload)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, integ.URL, strings.NewReader(body))
	if err != nil {
		return Result{Secrets: secrets}, fmt.Errorf("integration %q: its url is not usable", name)
	}
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		req.Header.Set(k, headers[k])
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := webhookClient.Do(req)
	if err != nil {
		// The error quotes the URL; it is among the secrets.
		return Result{Secrets: secrets}, fmt.Errorf("calling webhook integration %q: %w", name, err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookResponse))
	if err != nil {
		return Result{Secrets: secrets}, fmt.Errorf("reading the answer of webhook integration %q: %w", name, err)
	}
	outs := map[string]any{"Response": string(bytes.ToValidUTF8(text, []byte("?"))), "ResponseCode": int64(resp.StatusCode)}
	if resp.StatusCode >= 400 {
		return Result{Outputs: outs, Secrets: secrets}, fmt.Errorf("webhook integration %q answered HTTP %d: %s", name, resp.StatusCode, tail(string(text), tailLines, tailBytes))
	}
	return Result{Outputs: outs, Secrets: secrets}, nil
}

// webhookHeaders reads an integration's headers: an object of names to
// values, or a list of {"name"/"key": ..., "value": ...} objects.
func webhookHeaders(raw json.RawMessage) (map[string]string, error) {
	out := map[string]string{}
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err == nil {
		return m, nil
	}
	var l []map[string]string
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, errors.New("headers must be an object of names to values, or a list of name/value objects")
	}
	for _, h := range l {
		k := h["name"]
		if k == "" {
			k = h["key"]
		}
		if k == "" {
			k = h["Name"] + h["Key"]
		}
		v := h["value"]
		if v == "" {
			v = h["Value"]
		}
		if k != "" {
			out[k] = v
		}
	}
	return out, nil
}
