// Package document is the model of an SSM Automation document (schemaVersion 0.3):
// parsing from JSON or YAML, canonical rendering, static validation and the {{ }}
// template language. It depends on neither Terraform nor AWS.
package document

// Document is a parsed Automation document.
//
// Values inside Inputs, Parameter.Default and Variable.Default are normalized
// JSON-like Go values: string, bool, int64, float64, []any, map[string]any, nil.
type Document struct {
	SchemaVersion string
	Description   string
	AssumeRole    string
	Parameters    []Parameter // in source order; rendered sorted by name
	Variables     []Variable  // top-level "variables" (updateVariable targets)
	MainSteps     []Step
	Outputs       []string       // "step.Output"
	Files         map[string]any // kept as given

	// fieldPos holds source positions of fields ("schemaVersion", "outputs.0",
	// "parameters.x.default") for precise problem reports; nil for HCL.
	fieldPos map[string]Pos
	// warnings are what the parser read as SSM does but the author may not
	// mean (a step's "isEnd": "true"); Validate reports them.
	warnings []Problem
}

// Parameter is one entry of the document's "parameters" map.
type Parameter struct {
	Name           string
	Type           string // String, StringList, Integer, Boolean, StringMap, MapList
	Description    string
	Default        any // nil when absent
	HasDefault     bool
	AllowedValues  []string
	AllowedPattern string
	DisplayType    string
	MinItems       *int64
	MaxItems       *int64
	MinChars       *int64
	MaxChars       *int64
	Pos            Pos
}

// Variable is one entry of the document's top-level "variables" map.
type Variable struct {
	Name        string
	Type        string
	Description string
	Default     any
	HasDefault  bool
	Pos         Pos
}

// Step is one entry of "mainSteps".
type Step struct {
	Name           string
	Action         string // e.g. "aws:runInstances"
	Description    string
	Inputs         map[string]any
	MaxAttempts    *int64
	TimeoutSeconds *int64
	OnFailure      string // "", "Abort", "Continue", "step:NAME"
	OnCancel       string // "", "Abort", "step:NAME"
	IsCritical     *bool
	IsEnd          *bool
	NextStep       string
	Outputs        []StepOutput // user-defined outputs (executeAwsApi and friends)
	Pos            Pos

	// fieldPos holds source positions of fields ("onFailure", "inputs.ImageId");
	// nil for HCL.
	fieldPos map[string]Pos
}

// StepOutput is a user-declared output of a step, selected by JSONPath.
type StepOutput struct {
	Name     string
	Selector string
	Type     string
}

// Pos is a 1-based line and column in the source text; zero when the step was
// not parsed from text (HCL).
type Pos struct {
	Line   int
	Column int
}
