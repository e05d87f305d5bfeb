package provider

import (
	"context"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/amibake/terraform-provider-amibake/internal/engine"
)

// logEvent turns an engine progress event into a tflog line.
func logEvent(ctx context.Context, e engine.Event, secrets *engine.Redactor) {
	fields := map[string]any{"step": e.Step, "action": e.Action}
	if e.Attempt > 0 {
		fields["attempt"] = e.Attempt
	}
	if e.Elapsed > 0 {
		fields["elapsed"] = e.Elapsed.Round(time.Millisecond).String()
	}
	for k, v := range e.Fields {
		fields[k] = secrets.RedactValue(v)
	}
	msg := strings.ReplaceAll(e.Kind, "_", " ")
	if e.Kind == engine.EventLog {
		if m, ok := e.Fields["message"].(string); ok {
			msg = secrets.Redact(m)
		}
	}
	if e.Kind == engine.EventAttemptFailed {
		tflog.Warn(ctx, msg, fields)
		return
	}
	tflog.Info(ctx, msg, fields)
}
