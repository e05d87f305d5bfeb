package ssmemu

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// The wire format is AWS JSON 1.1, as every SSM operation uses it: POST /
// with X-Amz-Target "AmazonSSM.<Operation>" and a JSON body; an error is an
// HTTP 4xx/5xx whose body names the error's shape in __type.
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html
// https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html

const (
	targetPrefix = "AmazonSSM."
	jsonType     = "application/x-amz-json-1.1"
)

// apiError is an error answered in the wire format.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// errorf makes an HTTP 400 error; every SSM error of the operations emulated
// here is a 400 but InternalServerError.
func errorf(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error codes, as the API reference names them on each operation's page.
const (
	codeAutomationDefinitionNotFound        = "AutomationDefinitionNotFoundException"
	codeAutomationDefinitionVersionNotFound = "AutomationDefinitionVersionNotFoundException"
	codeAutomationExecutionLimitExceeded    = "AutomationExecutionLimitExceededException"
	codeAutomationExecutionNotFound         = "AutomationExecutionNotFoundException"
	codeAutomationStepNotFound              = "AutomationStepNotFoundException"
	codeIdempotentParameterMismatch         = "IdempotentParameterMismatch"
	codeInternalServerError                 = "InternalServerError"
	codeInvalidAutomationExecutionParams    = "InvalidAutomationExecutionParametersException"
	codeInvalidAutomationSignal             = "InvalidAutomationSignalException"
	codeInvalidAutomationStatusUpdate       = "InvalidAutomationStatusUpdateException"
	codeInvalidFilterKey                    = "InvalidFilterKey"
	codeInvalidFilterValue                  = "InvalidFilterValue"
	codeInvalidNextToken                    = "InvalidNextToken"
	codeInvalidResourceID                   = "InvalidResourceId"
	codeThrottling                          = "ThrottlingException"
	codeValidation                          = "ValidationException"
	codeSerialization                       = "SerializationException"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(map[string]string{"__type": codeInternalServerError, "message": err.Error()})
	}
	w.Header().Set("Content-Type", jsonType)
	w.Header().Set("X-Amzn-RequestId", uuid.NewString())
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, e *apiError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]string{"__type": e.Code, "message": e.Message})
}

// epoch is a timestamp as AWS JSON 1.1 sends it: seconds since the epoch, a
// JSON number with a fraction.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(fmt.Sprintf("%.3f", float64(ms)/1000)), nil
}

func (t *epoch) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	sec, frac := math.Modf(f)
	*t = epoch(time.Unix(int64(sec), int64(frac*1e9)).UTC())
	return nil
}

func stamp(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

// Shapes of the requests and responses, with the member names of the API
// reference. Only the members the emulator reads or fills are declared.

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type target struct {
	Key    string   `json:"Key,omitempty"`
	Values []string `json:"Values,omitempty"`
}

type startInput struct {
	DocumentName        string                `json:"DocumentName"`
	DocumentVersion     string                `json:"DocumentVersion,omitempty"`
	Parameters          map[string][]string   `json:"Parameters,omitempty"`
	ClientToken         string                `json:"ClientToken,omitempty"`
	Mode                string                `json:"Mode,omitempty"`
	TargetParameterName string                `json:"TargetParameterName,omitempty"`
	Targets             []target              `json:"Targets,omitempty"`
	TargetMaps          []map[string][]string `json:"TargetMaps,omitempty"`
	MaxConcurrency      string                `json:"MaxConcurrency,omitempty"`
	MaxErrors           string                `json:"MaxErrors,omitempty"`
	TargetLocations     []json.RawMessage     `json:"TargetLocations,omitempty"`
	TargetLocationsURL  string                `json:"TargetLocationsURL,omitempty"`
	Tags                []tag                 `json:"Tags,omitempty"`
	AlarmConfiguration  json.RawMessage       `json:"AlarmConfiguration,omitempty"`
}

type startOutput struct {
	AutomationExecutionID string `json:"AutomationExecutionId"`
}

type executionIDInput struct {
	AutomationExecutionID string `json:"AutomationExecutionId"`
}

type stopInput struct {
	AutomationExecutionID string `json:"AutomationExecutionId"`
	Type                  string `json:"Type,omitempty"`
}

type signalInput struct {
	AutomationExecutionID string              `json:"AutomationExecutionId"`
	SignalType            string              `json:"SignalType"`
	Payload               map[string][]string `json:"Payload,omitempty"`
}

type filter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

type describeInput struct {
	Filters    []filter `json:"Filters,omitempty"`
	MaxResults *int     `json:"MaxResults,omitempty"`
	NextToken  string   `json:"NextToken,omitempty"`
}

type describeStepsInput struct {
	AutomationExecutionID string   `json:"AutomationExecutionId"`
	Filters               []filter `json:"Filters,omitempty"`
	MaxResults            *int     `json:"MaxResults,omitempty"`
	NextToken             string   `json:"NextToken,omitempty"`
	ReverseOrder          bool     `json:"ReverseOrder,omitempty"`
}

type tagsInput struct {
	ResourceType string   `json:"ResourceType"`
	ResourceID   string   `json:"ResourceId"`
	Tags         []tag    `json:"Tags,omitempty"`
	TagKeys      []string `json:"TagKeys,omitempty"`
}

// stepExecutionOut is the StepExecution shape.
type stepExecutionOut struct {
	StepName           string              `json:"StepName,omitempty"`
	Action             string              `json:"Action,omitempty"`
	StepExecutionID    string              `json:"StepExecutionId,omitempty"`
	StepStatus         string              `json:"StepStatus,omitempty"`
	ExecutionStartTime *epoch              `json:"ExecutionStartTime,omitempty"`
	ExecutionEndTime   *epoch              `json:"ExecutionEndTime,omitempty"`
	Inputs             map[string]string   `json:"Inputs,omitempty"`
	Outputs            map[string][]string `json:"Outputs,omitempty"`
	FailureMessage     string              `json:"FailureMessage,omitempty"`
	MaxAttempts        *int64              `json:"MaxAttempts,omitempty"`
	TimeoutSeconds     *int64              `json:"TimeoutSeconds,omitempty"`
	OnFailure          string              `json:"OnFailure,omitempty"`
	IsCritical         *bool               `json:"IsCritical,omitempty"`
	IsEnd              *bool               `json:"IsEnd,omitempty"`
	NextStep           string              `json:"NextStep,omitempty"`
}

// executionOut is the AutomationExecution shape (GetAutomationExecution).
type executionOut struct {
	AutomationExecutionID     string              `json:"AutomationExecutionId"`
	AutomationExecutionStatus string              `json:"AutomationExecutionStatus"`
	DocumentName              string              `json:"DocumentName"`
	DocumentVersion           string              `json:"DocumentVersion,omitempty"`
	ExecutionStartTime        *epoch              `json:"ExecutionStartTime,omitempty"`
	ExecutionEndTime          *epoch              `json:"ExecutionEndTime,omitempty"`
	Mode                      string              `json:"Mode,omitempty"`
	Parameters                map[string][]string `json:"Parameters,omitempty"`
	Outputs                   map[string][]string `json:"Outputs,omitempty"`
	FailureMessage            string              `json:"FailureMessage,omitempty"`
	CurrentStepName           string              `json:"CurrentStepName,omitempty"`
	CurrentAction             string              `json:"CurrentAction,omitempty"`
	StepExecutions            []stepExecutionOut  `json:"StepExecutions"`
	StepExecutionsTruncated   bool                `json:"StepExecutionsTruncated"`
}

// metadataOut is the AutomationExecutionMetadata shape
// (DescribeAutomationExecutions).
type metadataOut struct {
	AutomationExecutionID     string              `json:"AutomationExecutionId"`
	AutomationExecutionStatus string              `json:"AutomationExecutionStatus"`
	AutomationType            string              `json:"AutomationType"`
	DocumentName              string              `json:"DocumentName"`
	DocumentVersion           string              `json:"DocumentVersion,omitempty"`
	ExecutionStartTime        *epoch              `json:"ExecutionStartTime,omitempty"`
	ExecutionEndTime          *epoch              `json:"ExecutionEndTime,omitempty"`
	Mode                      string              `json:"Mode,omitempty"`
	Outputs                   map[string][]string `json:"Outputs,omitempty"`
	FailureMessage            string              `json:"FailureMessage,omitempty"`
	CurrentStepName           string              `json:"CurrentStepName,omitempty"`
	CurrentAction             string              `json:"CurrentAction,omitempty"`
}
