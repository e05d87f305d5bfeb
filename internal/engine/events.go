package engine

import (
	"maps"
	"strings"
	"time"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// Event kinds.
const (
	EventStepStart     = "step_start"
	EventStepEnd       = "step_end"
	EventAttemptFailed = "attempt_failed"
	EventCleanup       = "cleanup"
	EventSweep         = "sweep"
	// EventLog carries a progress message from inside an action (Fields["message"]).
	EventLog = "log"
)

// Event is one progress report. Fields hold snake_case keys: status, attempts,
// error, ids such as instance_ids or image_id, and what cleanup or sweep removed.
type Event struct {
	Kind    string
	Step    string
	Action  string
	Attempt int
	Elapsed time.Duration
	Fields  map[string]any
}

func (r *runner) emit(e Event) {
	if r.o.OnEvent == nil {
		return
	}
	if e.Fields == nil {
		e.Fields = map[string]any{}
	}
	e.Fields = r.redactValue(e.Fields).(map[string]any)
	// Actions may log from their own goroutines while they poll.
	top := r.top()
	top.eventMu.Lock()
	defer top.eventMu.Unlock()
	r.o.OnEvent(e)
}

// eventLogger is the actions.Logger of one step: its messages become log events.
type eventLogger struct {
	r            *runner
	step, action string
}

func (l *eventLogger) Info(msg string, fields map[string]any) {
	f := maps.Clone(fields)
	if f == nil {
		f = map[string]any{}
	}
	f["message"] = msg
	l.r.emit(Event{Kind: EventLog, Step: l.step, Action: l.action, Fields: f})
}

// idFields picks the outputs that name AWS resources, for the step_end event.
func idFields(outputs map[string]any, into map[string]any) {
	for k, v := range outputs {
		if strings.HasSuffix(k, "Id") || strings.HasSuffix(k, "Ids") {
			into[document.SnakeCase(k)] = v
		}
	}
}
