package ssmemu

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// get is GetAutomationExecution.
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetAutomationExecution.html
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_AutomationExecution.html
// StepExecutions holds the first StepExecutionsInGet step executions;
// StepExecutionsTruncated says when there are more ("If true, use the
// DescribeAutomationStepExecutions API operation to get the full list of step
// executions"). Outputs are the document's declared outputs, keyed
// "step.Output".
func (e *Emulator) get(_ context.Context, in *executionIDInput) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, err := e.findLocked(in.AutomationExecutionID)
	if err != nil {
		return nil, err
	}
	out := executionOut{
		AutomationExecutionID:     x.id,
		AutomationExecutionStatus: x.status,
		DocumentName:              x.docName,
		DocumentVersion:           x.docVersion,
		ExecutionStartTime:        stamp(x.started),
		ExecutionEndTime:          stamp(x.ended),
		Mode:                      "Auto",
		Parameters:                x.params,
		Outputs:                   x.declaredOutputs(),
		FailureMessage:            x.failureMessage,
		CurrentStepName:           x.currentStep,
		CurrentAction:             x.currentAction,
		StepExecutions:            []stepExecutionOut{},
	}
	for i, s := range x.steps {
		if i == e.cfg.StepExecutionsInGet {
			out.StepExecutionsTruncated = true
			break
		}
		out.StepExecutions = append(out.StepExecutions, s.out())
	}
	return map[string]any{"AutomationExecution": out}, nil
}

// declaredOutputs are the values of the document's outputs; one whose step
// has not succeeded shows noOutputYet.
func (x *execution) declaredOutputs() map[string][]string {
	if len(x.doc.Outputs) == 0 {
		return nil
	}
	out := make(map[string][]string, len(x.doc.Outputs))
	for _, name := range x.doc.Outputs {
		if v, ok := x.outputs[name]; ok {
			out[name] = stringValues(v)
		} else {
			out[name] = []string{noOutputYet}
		}
	}
	return out
}

func (s *stepExecution) out() stepExecutionOut {
	o := stepExecutionOut{
		StepExecutionID:    s.id,
		StepStatus:         s.status,
		ExecutionStartTime: stamp(s.started),
		ExecutionEndTime:   stamp(s.ended),
		Inputs:             s.inputs,
		Outputs:            s.outputs,
		FailureMessage:     s.failureMessage,
	}
	if st := s.step; st != nil {
		o.StepName, o.Action = st.Name, st.Action
		o.MaxAttempts, o.TimeoutSeconds = st.MaxAttempts, st.TimeoutSeconds
		o.OnFailure, o.IsEnd, o.NextStep = st.OnFailure, st.IsEnd, st.NextStep
		critical := st.OnFailure != "Continue"
		if st.IsCritical != nil {
			critical = *st.IsCritical
		}
		o.IsCritical = &critical
	}
	return o
}

// pageSize reads MaxResults: 1 to 50 on both describe operations. AWS does
// not publish the size of a page without MaxResults; the emulator returns
// 10, so that a client that does not follow NextToken misses results here
// as it could on AWS.
func pageSize(n *int) (int, error) {
	if n == nil {
		return 10, nil
	}
	if *n < 1 || *n > 50 {
		return 0, errorf(codeValidation, "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50", *n)
	}
	return *n, nil
}

// Page tokens are opaque to clients: the kind of listing and where the
// next page starts. A token of another listing, or not one of ours, answers
// InvalidNextToken ("The specified token isn't valid").
func pageToken(kind string, n int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(n, 10)))
}

func readPageToken(kind, token string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil {
		if rest, ok := strings.CutPrefix(string(b), kind+":"); ok {
			if n, err := strconv.ParseInt(rest, 10, 64); err == nil && n >= 0 {
				return n, nil
			}
		}
	}
	return 0, errorf(codeInvalidNextToken, "The specified token isn't valid.")
}

// describe is DescribeAutomationExecutions.
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeAutomationExecutions.html
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_AutomationExecutionFilter.html
// Filters: ExecutionId, ExecutionStatus, DocumentNamePrefix, TagKey,
// StartTimeBefore, StartTimeAfter, CurrentAction, AutomationType,
// ParentExecutionId; values of one filter are alternatives, filters
// together must all hold (AWS does not spell this out; it is how its other
// filtered lists behave). Keys of features the emulator lacks
// (TargetResourceGroup, AutomationSubtype, OpsItemId) match nothing. An
// unknown key answers InvalidFilterKey, a bad value InvalidFilterValue.
// Executions come newest first (AWS does not say in what order).
func (e *Emulator) describe(_ context.Context, in *describeInput) (any, error) {
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	match, err := executionFilter(in.Filters)
	if err != nil {
		return nil, err
	}
	after := int64(-1)
	if in.NextToken != "" {
		if after, err = readPageToken("executions", in.NextToken); err != nil {
			return nil, err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prune(e.cfg.Now())
	var all []*execution
	for _, x := range e.executions {
		if (after < 0 || x.seq < after) && match(x) {
			all = append(all, x)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seq > all[j].seq })
	out := struct {
		AutomationExecutionMetadataList []metadataOut `json:"AutomationExecutionMetadataList"`
		NextToken                       string        `json:"NextToken,omitempty"`
	}{AutomationExecutionMetadataList: []metadataOut{}}
	for i, x := range all {
		if i == size {
			out.NextToken = pageToken("executions", all[i-1].seq)
			break
		}
		out.AutomationExecutionMetadataList = append(out.AutomationExecutionMetadataList, metadataOut{
			AutomationExecutionID:     x.id,
			AutomationExecutionStatus: x.status,
			AutomationType:            "Local",
			DocumentName:              x.docName,
			DocumentVersion:           x.docVersion,
			ExecutionStartTime:        stamp(x.started),
			ExecutionEndTime:          stamp(x.ended),
			Mode:                      "Auto",
			Outputs:                   x.declaredOutputs(),
			FailureMessage:            x.failureMessage,
			CurrentStepName:           x.currentStep,
			CurrentAction:             x.currentAction,
		})
	}
	return out, nil
}

func executionFilter(filters []filter) (func(*execution) bool, error) {
	var tests []func(*execution) bool
	for _, f := range filters {
		if err := checkFilterValues(f); err != nil {
			return nil, err
		}
		values := f.Values
		var t func(*execution) bool
		switch f.Key {
		case "ExecutionId":
			t = func(x *execution) bool { return slices.Contains(values, x.id) }
		case "ExecutionStatus":
			for _, v := range values {
				if !slices.Contains(allStatuses, v) {
					return nil, errorf(codeInvalidFilterValue, "%q is not an automation execution status", v)
				}
			}
			t = func(x *execution) bool { return slices.Contains(values, x.status) }
		case "DocumentNamePrefix":
			t = func(x *execution) bool {
				return slices.ContainsFunc(values, func(p string) bool { return strings.HasPrefix(x.docName, p) })
			}
		case "TagKey":
			t = func(x *execution) bool {
				return slices.ContainsFunc(x.tags, func(tg tag) bool { return slices.Contains(values, tg.Key) })
			}
		case "CurrentAction":
			t = func(x *execution) bool { return slices.Contains(values, x.currentAction) }
		case "AutomationType":
			t = func(*execution) bool { return slices.Contains(values, "Local") }
		case "StartTimeBefore", "StartTimeAfter":
			at, err := filterTime(f.Key, values)
			if err != nil {
				return nil, err
			}
			before := f.Key == "StartTimeBefore"
			t = func(x *execution) bool { return startedBeforeAfter(x.started, at, before) }
		case "ParentExecutionId", "TargetResourceGroup", "AutomationSubtype", "OpsItemId":
			t = func(*execution) bool { return false }
		default:
			return nil, errorf(codeInvalidFilterKey, "%q is not a filter key of DescribeAutomationExecutions", f.Key)
		}
		tests = append(tests, t)
	}
	return func(x *execution) bool {
		for _, t := range tests {
			if !t(x) {
				return false
			}
		}
		return true
	}, nil
}

// checkFilterValues applies the constraints of a filter's Values: "Array
// Members: Minimum number of 1 item. Maximum number of 10 items. Length
// Constraints: Minimum length of 1. Maximum length of 150." (the
// AutomationExecutionFilter and StepExecutionFilter pages); a request that
// breaks a constraint gets ValidationException.
func checkFilterValues(f filter) error {
	if len(f.Values) < 1 || len(f.Values) > 10 {
		return errorf(codeValidation, "1 validation error detected: the filter %s has %d values; it takes 1 to 10", f.Key, len(f.Values))
	}
	for _, v := range f.Values {
		if len(v) < 1 || len(v) > 150 {
			return errorf(codeValidation, "1 validation error detected: a value of the filter %s is %d characters long; values are 1 to 150", f.Key, len(v))
		}
	}
	return nil
}

// filterTime reads the one timestamp of a StartTimeBefore/After filter.
// The reference gives no format; the emulator takes RFC 3339
// (2024-01-02T15:04:05Z), the form AWS's examples of these filters use.
func filterTime(key string, values []string) (time.Time, error) {
	if len(values) != 1 {
		return time.Time{}, errorf(codeInvalidFilterValue, "The filter %s takes one timestamp", key)
	}
	t, err := time.Parse(time.RFC3339, values[0])
	if err != nil {
		return time.Time{}, errorf(codeInvalidFilterValue, "The filter %s takes a timestamp like 2024-01-02T15:04:05Z, not %q", key, values[0])
	}
	return t, nil
}

func startedBeforeAfter(started, at time.Time, before bool) bool {
	if started.IsZero() {
		return false
	}
	if before {
		return started.Before(at)
	}
	return started.After(at)
}

// describeSteps is DescribeAutomationStepExecutions.
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeAutomationStepExecutions.html
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StepExecutionFilter.html
// Step executions in order of start, or the reverse with ReverseOrder
// ("Indicates whether to list step executions in reverse order by start
// time"), MaxResults 1 to 50 a page, NextToken to go on. Filters:
// StartTimeBefore, StartTimeAfter, StepExecutionStatus, StepExecutionId,
// StepName, Action; the Parent* keys (steps inside aws:loop, which the
// emulator does not run) match nothing.
func (e *Emulator) describeSteps(_ context.Context, in *describeStepsInput) (any, error) {
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	match, err := stepFilter(in.Filters)
	if err != nil {
		return nil, err
	}
	var from int64
	if in.NextToken != "" {
		if from, err = readPageToken("steps", in.NextToken); err != nil {
			return nil, err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	x, err := e.findLocked(in.AutomationExecutionID)
	if err != nil {
		return nil, err
	}
	steps := slices.Clone(x.steps)
	if in.ReverseOrder {
		slices.Reverse(steps)
	}
	steps = slices.DeleteFunc(steps, func(s *stepExecution) bool { return !match(s) })
	if from > int64(len(steps)) {
		return nil, errorf(codeInvalidNextToken, "The specified token isn't valid.")
	}
	out := struct {
		StepExecutions []stepExecutionOut `json:"StepExecutions"`
		NextToken      string             `json:"NextToken,omitempty"`
	}{StepExecutions: []stepExecutionOut{}}
	end := min(int(from)+size, len(steps))
	for _, s := range steps[from:end] {
		out.StepExecutions = append(out.StepExecutions, s.out())
	}
	if end < len(steps) {
		out.NextToken = pageToken("steps", int64(end))
	}
	return out, nil
}

func stepFilter(filters []filter) (func(*stepExecution) bool, error) {
	var tests []func(*stepExecution) bool
	for _, f := range filters {
		if err := checkFilterValues(f); err != nil {
			return nil, err
		}
		values := f.Values
		var t func(*stepExecution) bool
		switch f.Key {
		case "StepExecutionStatus":
			for _, v := range values {
				if !slices.Contains(allStatuses, v) {
					return nil, errorf(codeInvalidFilterValue, "%q is not a step execution status", v)
				}
			}
			t = func(s *stepExecution) bool { return slices.Contains(values, s.status) }
		case "StepExecutionId":
			t = func(s *stepExecution) bool { return slices.Contains(values, s.id) }
		case "StepName":
			t = func(s *stepExecution) bool { return s.step != nil && slices.Contains(values, s.step.Name) }
		case "Action":
			t = func(s *stepExecution) bool { return s.step != nil && slices.Contains(values, s.step.Action) }
		case "StartTimeBefore", "StartTimeAfter":
			at, err := filterTime(f.Key, values)
			if err != nil {
				return nil, err
			}
			before := f.Key == "StartTimeBefore"
			t = func(s *stepExecution) bool { return startedBeforeAfter(s.started, at, before) }
		case "ParentStepExecutionId", "ParentStepIteration", "ParentStepIteratorValue":
			t = func(*stepExecution) bool { return false }
		default:
			return nil, errorf(codeInvalidFilterKey, "%q is not a filter key of DescribeAutomationStepExecutions", f.Key)
		}
		tests = append(tests, t)
	}
	return func(s *stepExecution) bool {
		for _, t := range tests {
			if !t(s) {
				return false
			}
		}
		return true
	}, nil
}

// tagHandler serves the tag operations for ResourceType Automation, whose
// resources moto does not have; tags given to StartAutomationExecution are
// the execution's.
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListTagsForResource.html
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_AddTagsToResource.html
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_RemoveTagsFromResource.html
// An unknown execution answers InvalidResourceId.
func (e *Emulator) tagHandler(op string) func(context.Context, []byte) (any, error) {
	return decode(func(_ context.Context, in *tagsInput) (any, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.prune(e.cfg.Now())
		x, ok := e.executions[in.ResourceID]
		if !ok {
			return nil, errorf(codeInvalidResourceID, "The resource ID %q isn't valid. Verify that you entered the correct ID and try again.", in.ResourceID)
		}
		switch op {
		case "ListTagsForResource":
			list := slices.Clone(x.tags)
			if list == nil {
				list = []tag{}
			}
			return map[string]any{"TagList": list}, nil
		case "AddTagsToResource":
			for _, t := range in.Tags {
				i := slices.IndexFunc(x.tags, func(o tag) bool { return o.Key == t.Key })
				if i >= 0 {
					x.tags[i] = t
				} else {
					x.tags = append(x.tags, t)
				}
			}
		case "RemoveTagsFromResource":
			x.tags = slices.DeleteFunc(x.tags, func(o tag) bool { return slices.Contains(in.TagKeys, o.Key) })
		default:
			return nil, fmt.Errorf("no tag operation %s", op)
		}
		return struct{}{}, nil
	})
}
