package document

// InputType is the type of an action input, as validation and the HCL schema see it.
type InputType string

const (
	TypeString        InputType = "String"
	TypeInteger       InputType = "Integer"
	TypeBoolean       InputType = "Boolean"
	TypeStringList    InputType = "StringList"    // list of strings
	TypeStringMap     InputType = "StringMap"     // map of strings
	TypeMapList       InputType = "MapList"       // list of maps of strings, e.g. Tags
	TypeStringListMap InputType = "StringListMap" // map of string lists, e.g. runCommand Parameters
	TypeJSON          InputType = "JSON"          // any JSON value; jsonencode() in HCL
)

// InputSpec describes one input of an action.
type InputSpec struct {
	Name        string // SSM name, e.g. "ImageId"
	Type        InputType
	Required    bool
	Enum        []string // allowed literal values (templates are always allowed)
	Description string
	// ReadableBy, when set, says who can read the input's value once the step
	// has run (an AMI name, a tag) and what to do instead: a sensitive value
	// reaching it is refused at plan time (SecretExposures).
	ReadableBy string
}

// OutputSpec describes one output an action produces.
type OutputSpec struct {
	Name        string // e.g. "InstanceIds"
	Type        string // String, StringList, Integer, Boolean, StringMap, MapList
	Description string
}

// ActionSpec is the static description of one SSM Automation action: the single
// source that validation, rendering and the HCL schema read.
type ActionSpec struct {
	Name         string // "aws:runInstances"
	Block        string // HCL sub-block name, "run_instances"; empty when written through the generic inputs
	Description  string
	Inputs       []InputSpec
	Outputs      []OutputSpec
	UserOutputs  bool       // the step may declare outputs with selectors
	OpenInputs   bool       // inputs beyond Inputs are accepted (executeAwsApi: the API's own)
	RequireOneOf [][]string // at least one of each group must be set
	Exclusive    [][]string // at most one of each group may be set
}
