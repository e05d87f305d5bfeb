package document

import (
	"sort"
	"strings"
	"unicode"
)

// Input and output names, types, required flags and enums follow the AWS Systems
// Manager "Automation actions reference". Nested structures that SSM passes through
// to an AWS API unchanged are TypeJSON.

func in(name string, t InputType, desc string) InputSpec {
	return InputSpec{Name: name, Type: t, Description: desc}
}

func req(name string, t InputType, desc string) InputSpec {
	return InputSpec{Name: name, Type: t, Required: true, Description: desc}
}

func enum(s InputSpec, values ...string) InputSpec {
	s.Enum = values
	return s
}

// readable marks an input whose value others can read once the step has run;
// who says who and what to do instead.
func readable(s InputSpec, who string) InputSpec {
	s.ReadableBy = who
	return s
}

func out(name, t, desc string) OutputSpec {
	return OutputSpec{Name: name, Type: t, Description: desc}
}

// awsAPIInputs are the fixed inputs of the three actions that call an AWS API by name.
func awsAPIInputs(extra ...InputSpec) []InputSpec {
	return append([]InputSpec{
		req("Service", TypeString, "AWS service namespace, e.g. `ec2` or `ssm`."),
		req("Api", TypeString, "API operation name, e.g. `DescribeImages`."),
	}, extra...)
}

var propertyInputs = []InputSpec{
	req("PropertySelector", TypeString, "JSONPath to the response attribute to check, e.g. `$.Images[0].State`."),
	req("DesiredValues", TypeStringList, "Values the selected attribute must have."),
}

var catalog = []ActionSpec{
	{
		Name:        "aws:approve",
		Description: "Pauses the automation until designated principals approve or reject it.",
		Inputs: []InputSpec{
			in("NotificationArn", TypeString, "SNS topic ARN that receives approval requests."),
			in("Message", TypeString, "Text included in the approval request."),
			in("MinRequiredApprovals", TypeInteger, "Number of approvals needed to resume (default 1)."),
			req("Approvers", TypeStringList, "IAM users or roles that may approve or reject."),
		},
		Outputs: []OutputSpec{
			out("ApprovalStatus", "String", "Approved, Rejected or Waiting."),
			out("ApproverDecisions", "MapList", "Decision of each approver."),
		},
	},
	{
		Name:        "aws:assertAwsResourceProperty",
		Block:       "assert_aws_resource_property",
		Description: "Calls an AWS API and fails at once unless a response property has one of the desired values.",
		Inputs:      awsAPIInputs(propertyInputs...),
		OpenInputs:  true,
	},
	{
		Name:        "aws:branch",
		Block:       "branch",
		Description: "Evaluates choices and jumps to the step of the first one that is true.",
		Inputs: []InputSpec{
			req("Choices", TypeJSON, "List of choices: each has NextStep, Variable and an operator (or And/Or/Not)."),
			in("Default", TypeString, "Step to jump to when no choice is true."),
		},
	},
	{
		Name:        "aws:changeInstanceState",
		Block:       "change_instance_state",
		Description: "Changes or asserts the state of EC2 instances.",
		Inputs: []InputSpec{
			req("InstanceIds", TypeStringList, "IDs of the instances."),
			in("CheckStateOnly", TypeBoolean, "Only assert the desired state, by polling, without changing it."),
			enum(req("DesiredState", TypeString, "The desired state."), "running", "stopped", "terminated"),
			in("Force", TypeBoolean, "Force the instances to stop."),
			in("AdditionalInfo", TypeString, "Reserved."),
		},
	},
	{
		Name:        "aws:copyImage",
		Block:       "copy_image",
		Description: "Copies an AMI from any Region into the current Region, optionally encrypting it.",
		Inputs: []InputSpec{
			req("SourceRegion", TypeString, "Region of the source AMI."),
			req("SourceImageId", TypeString, "ID of the AMI to copy."),
			readable(req("ImageName", TypeString, "Name of the new AMI."), exposedInImage),
			readable(in("ImageDescription", TypeString, "Description of the new AMI."), exposedInImage),
			in("Encrypted", TypeBoolean, "Encrypt the snapshots of the copy."),
			in("KmsKeyId", TypeString, "ARN of the KMS key used to encrypt the snapshots."),
			in("ClientToken", TypeString, "Idempotency token."),
		},
		Outputs: []OutputSpec{
			out("ImageId", "String", "ID of the copied image."),
			out("ImageState", "String", "State of the copied image."),
		},
	},
	{
		Name:        "aws:createImage",
		Block:       "create_image",
		Description: "Creates an AMI from an instance that is running, stopping or stopped.",
		Inputs: []InputSpec{
			req("InstanceId", TypeString, "ID of the instance."),
			readable(req("ImageName", TypeString, "Name of the image."), exposedInImage),
			readable(in("ImageDescription", TypeString, "Description of the image."), exposedInImage),
			in("NoReboot", TypeBoolean, "Do not shut down the instance before creating the image."),
			in("BlockDeviceMappings", TypeJSON, "Block device mappings of the image."),
		},
		Outputs: []OutputSpec{
			out("ImageId", "String", "ID of the new image."),
			out("ImageState", "String", "State of the new image."),
		},
	},
	{
		Name:        "aws:createStack",
		Description: "Creates a CloudFormation stack from a template.",
		Inputs: []InputSpec{
			enum(in("Capabilities", TypeStringList, "Capabilities CloudFormation needs to create the stack."),
				"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"),
			in("ClientRequestToken", TypeString, "Idempotency token."),
			in("DisableRollback", TypeBoolean, "Do not roll back when creation fails."),
			in("NotificationARNs", TypeStringList, "SNS topics for stack events."),
			enum(in("OnFailure", TypeString, "What to do when creation fails."), "DO_NOTHING", "ROLLBACK", "DELETE"),
			in("Parameters", TypeMapList, "Stack parameters (ParameterKey, ParameterValue)."),
			in("ResourceTypes", TypeStringList, "Resource types the stack may create."),
			in("RoleARN", TypeString, "Role CloudFormation assumes."),
			req("StackName", TypeString, "Name of the stack."),
			in("StackPolicyBody", TypeString, "Stack policy."),
			in("StackPolicyURL", TypeString, "Location of the stack policy."),
			in("Tags", TypeMapList, "Tags of the stack (Key, Value)."),
			in("TemplateBody", TypeString, "Template text."),
			in("TemplateURL", TypeString, "Location of the template."),
			in("TimeoutInMinutes", TypeInteger, "Minutes before creation fails."),
		},
		Outputs: []OutputSpec{
			out("StackId", "String", "ID of the stack."),
			out("StackStatus", "String", "Status of the stack."),
			out("StackStatusReason", "String", "Reason for the status."),
		},
		RequireOneOf: [][]string{{"TemplateBody", "TemplateURL"}},
		Exclusive: [][]string{
			{"TemplateBody", "TemplateURL"},
			{"StackPolicyBody", "StackPolicyURL"},
			{"DisableRollback", "OnFailure"},
		},
	},
	{
		Name:        "aws:createTags",
		Block:       "create_tags",
		Description: "Creates tags on EC2 resources or Systems Manager managed instances.",
		Inputs: []InputSpec{
			req("ResourceIds", TypeStringList, "IDs of the resources to tag."),
			readable(req("Tags", TypeMapList, "Tags to add (Key, Value)."), exposedInTags),
			enum(in("ResourceType", TypeString, "Type of the resources (default EC2)."),
				"EC2", "ManagedInstance", "MaintenanceWindow", "Parameter"),
		},
	},
	{
		Name:        "aws:deleteImage",
		Block:       "delete_image",
		Description: "Deletes an AMI and all its snapshots.",
		Inputs: []InputSpec{
			req("ImageId", TypeString, "ID of the image."),
		},
	},
	{
		Name:        "aws:deleteStack",
		Description: "Deletes a CloudFormation stack.",
		Inputs: []InputSpec{
			in("ClientRequestToken", TypeString, "Idempotency token."),
			in("RetainResources", TypeStringList, "Logical IDs of resources to keep."),
			in("RoleARN", TypeString, "Role CloudFormation assumes."),
			req("StackName", TypeString, "Name or ID of the stack."),
		},
	},
	{
		Name:        "aws:executeAutomation",
		Description: "Runs a secondary automation runbook.",
		Inputs: []InputSpec{
			req("DocumentName", TypeString, "Name or ARN of the runbook."),
			in("DocumentVersion", TypeString, "Version of the runbook."),
			in("MaxConcurrency", TypeString, "Targets run in parallel (number or percentage)."),
			in("MaxErrors", TypeString, "Errors allowed before stopping (number or percentage)."),
			in("RuntimeParameters", TypeJSON, "Parameters of the runbook."),
			in("Tags", TypeMapList, "Tags of the automation (Key, Value)."),
			in("TargetLocations", TypeJSON, "Accounts and Regions to run in."),
			in("TargetMaps", TypeJSON, "Maps of runbook parameters to targets."),
			in("TargetParameterName", TypeString, "Parameter used as the target resource."),
			in("Targets", TypeJSON, "Key/Values criteria selecting targets."),
		},
		Outputs: []OutputSpec{
			out("Output", "StringList", "Outputs of the secondary automation."),
			out("ExecutionId", "String", "ID of the secondary automation."),
			out("Status", "String", "Status of the secondary automation."),
		},
		Exclusive: [][]string{{"Targets", "TargetMaps"}},
	},
	{
		Name:        "aws:executeAwsApi",
		Block:       "execute_aws_api",
		Description: "Calls an AWS API operation; outputs are selected from the response by JSONPath.",
		Inputs:      awsAPIInputs(),
		OpenInputs:  true,
		UserOutputs: true,
	},
	{
		Name:        "aws:executeScript",
		Description: "Runs a Python or PowerShell script.",
		Inputs: []InputSpec{
			req("Runtime", TypeString, "Runtime, e.g. python3.8 or PowerShell 7.0."),
			in("Handler", TypeString, "Function to call (Python)."),
			in("Script", TypeString, "Embedded script."),
			in("Attachment", TypeString, "Attached script file or zip."),
			in("InputPayload", TypeJSON, "Object passed to the handler."),
		},
		Outputs: []OutputSpec{
			out("Payload", "StringMap", "The object returned by the script."),
		},
		UserOutputs:  true,
		RequireOneOf: [][]string{{"Script", "Attachment"}},
	},
	{
		Name:        "aws:executeStateMachine",
		Description: "Runs an AWS Step Functions state machine.",
		Inputs: []InputSpec{
			req("stateMachineArn", TypeString, "ARN of the state machine."),
			in("name", TypeString, "Name of the execution."),
			in("input", TypeString, "JSON input of the execution."),
		},
		Outputs: []OutputSpec{
			out("executionArn", "String", "ARN of the execution."),
			out("input", "String", "Input of the execution."),
			out("name", "String", "Name of the execution."),
			out("output", "String", "Output of the execution."),
			out("startDate", "String", "Start of the execution."),
			out("stateMachineArn", "String", "ARN of the state machine."),
			out("status", "String", "Status of the execution."),
			out("stopDate", "String", "End of the execution."),
		},
	},
	{
		Name:        "aws:invokeLambdaFunction",
		Block:       "invoke_lambda_function",
		Description: "Invokes a Lambda function.",
		Inputs: []InputSpec{
			req("FunctionName", TypeString, "Name of the function."),
			in("Qualifier", TypeString, "Version or alias."),
			enum(in("InvocationType", TypeString, "Invocation type (default RequestResponse)."), "RequestResponse", "Event", "DryRun"),
			enum(in("LogType", TypeString, "Tail returns the last 4 KB of the log."), "None", "Tail"),
			in("ClientContext", TypeString, "Client-specific information."),
			in("InputPayload", TypeJSON, "Object passed to the handler; wins over Payload."),
			in("Payload", TypeString, "JSON text passed to the handler."),
		},
		Outputs: []OutputSpec{
			out("StatusCode", "Integer", "HTTP status code."),
			out("FunctionError", "String", "Set when the function failed."),
			out("LogResult", "String", "Base64 log tail."),
			out("Payload", "String", "JSON returned by the function."),
		},
		UserOutputs: true,
	},
	{
		Name:        "aws:invokeWebhook",
		Description: "Calls an Automation webhook integration.",
		Inputs: []InputSpec{
			req("IntegrationName", TypeString, "Name of the integration."),
			in("Body", TypeString, "Request body."),
		},
		Outputs: []OutputSpec{
			out("Response", "String", "Text of the response."),
			out("ResponseCode", "Integer", "HTTP status code."),
		},
	},
	{
		Name:        "aws:loop",
		Description: "Iterates over a subset of steps.",
		Inputs: []InputSpec{
			in("Iterators", TypeStringList, "Items to iterate over (for each)."),
			enum(in("IteratorDataType", TypeString, "Type of the iterators (default String)."), "Boolean", "Integer", "String", "StringMap"),
			in("LoopCondition", TypeJSON, "Condition evaluated after each iteration (do while)."),
			in("MaxIterations", TypeInteger, "Most iterations (default 100)."),
			req("Steps", TypeJSON, "Steps run in each iteration."),
		},
		Outputs: []OutputSpec{
			out("CurrentIteration", "Integer", "Number of the current iteration."),
			out("CurrentIteratorValue", "String", "Value of the current iterator."),
		},
		RequireOneOf: [][]string{{"Iterators", "LoopCondition"}},
		Exclusive:    [][]string{{"Iterators", "LoopCondition"}},
	},
	{
		Name:        "aws:pause",
		Description: "Pauses the automation until it is resumed.",
	},
	{
		Name:        "aws:runCommand",
		Block:       "run_command",
		Description: "Runs a Command document on managed instances.",
		Inputs: []InputSpec{
			req("DocumentName", TypeString, "Name or ARN of the Command document."),
			in("InstanceIds", TypeStringList, "Instances to run on (at most 50)."),
			in("Targets", TypeJSON, "Key/Values criteria selecting instances."),
			readable(in("Parameters", TypeStringListMap, "Parameters of the Command document."), exposedInCommand),
			in("CloudWatchOutputConfig", TypeJSON, "Send output to CloudWatch Logs."),
			readable(in("Comment", TypeString, "Information about the command."), exposedInCommand),
			in("DocumentHash", TypeString, "Hash of the document."),
			enum(in("DocumentHashType", TypeString, "Type of the hash."), "Sha256", "Sha1"),
			in("DocumentVersion", TypeString, "Version of the document."),
			in("MaxConcurrency", TypeString, "Instances run on in parallel."),
			in("MaxErrors", TypeString, "Errors allowed before stopping."),
			in("NotificationConfig", TypeJSON, "Notifications about the command."),
			in("OutputS3BucketName", TypeString, "S3 bucket for the output."),
			in("OutputS3KeyPrefix", TypeString, "S3 key prefix for the output."),
			in("ServiceRoleArn", TypeString, "Role for notifications."),
			in("TimeoutSeconds", TypeInteger, "Seconds to deliver the command to the agent."),
		},
		Outputs: []OutputSpec{
			out("CommandId", "String", "ID of the command."),
			out("Status", "String", "Status of the command."),
			out("ResponseCode", "Integer", "Exit code of the command."),
			out("Output", "String", "Output of the command."),
		},
		RequireOneOf: [][]string{{"InstanceIds", "Targets"}},
		Exclusive:    [][]string{{"InstanceIds", "Targets"}},
	},
	{
		Name:        "aws:runInstances",
		Block:       "run_instances",
		Description: "Launches EC2 instances.",
		Inputs: []InputSpec{
			in("AdditionalInfo", TypeString, "Reserved."),
			in("BlockDeviceMappings", TypeJSON, "Block devices of the instance."),
			in("ClientToken", TypeString, "Idempotency token."),
			in("DisableApiTermination", TypeBoolean, "Protect the instance from API termination."),
			in("EbsOptimized", TypeBoolean, "EBS optimization."),
			in("IamInstanceProfileArn", TypeString, "ARN of the instance profile."),
			in("IamInstanceProfileName", TypeString, "Name of the instance profile."),
			req("ImageId", TypeString, "ID of the AMI."),
			enum(in("InstanceInitiatedShutdownBehavior", TypeString, "Whether a shutdown stops or terminates."), "stop", "terminate"),
			in("InstanceType", TypeString, "Instance type (default m1.small)."),
			in("KernelId", TypeString, "ID of the kernel."),
			in("KeyName", TypeString, "Name of the key pair."),
			in("MaxInstanceCount", TypeInteger, "Most instances to launch."),
			in("MetadataOptions", TypeJSON, "Instance metadata options (HttpTokens, ...)."),
			in("MinInstanceCount", TypeInteger, "Fewest instances to launch."),
			in("Monitoring", TypeBoolean, "Detailed monitoring."),
			in("NetworkInterfaces", TypeJSON, "Network interfaces."),
			in("Placement", TypeJSON, "Placement of the instance."),
			in("PrivateIpAddress", TypeString, "Primary IPv4 address."),
			in("RamdiskId", TypeString, "ID of the RAM disk."),
			in("SecurityGroupIds", TypeStringList, "IDs of the security groups."),
			in("SecurityGroups", TypeStringList, "Names of the security groups."),
			in("SubnetId", TypeString, "ID of the subnet."),
			readable(in("TagSpecifications", TypeJSON, "Tags applied at launch."), exposedInTags),
			in("UserData", TypeString, "Base64-encoded user data."),
		},
		Outputs: []OutputSpec{
			out("InstanceIds", "StringList", "IDs of the instances."),
			out("InstanceStates", "StringList", "States of the instances."),
		},
		Exclusive: [][]string{{"IamInstanceProfileArn", "IamInstanceProfileName"}},
	},
	{
		Name:        "aws:sleep",
		Block:       "sleep",
		Description: "Waits for a duration or until a time.",
		Inputs: []InputSpec{
			in("Duration", TypeString, "ISO 8601 duration, e.g. PT10M."),
			in("Timestamp", TypeString, "ISO 8601 timestamp, e.g. 2024-01-01T00:00:00Z."),
		},
		RequireOneOf: [][]string{{"Duration", "Timestamp"}},
		Exclusive:    [][]string{{"Duration", "Timestamp"}},
	},
	{
		Name:        "aws:updateVariable",
		Description: "Updates the value of a runbook variable.",
		Inputs: []InputSpec{
			req("Name", TypeString, "The variable, written variable:NAME."),
			req("Value", TypeJSON, "The new value; its type must match the variable's."),
		},
	},
	{
		Name:        "aws:waitForAwsResourceProperty",
		Block:       "wait_for_aws_resource_property",
		Description: "Calls an AWS API until a response property has one of the desired values.",
		Inputs:      awsAPIInputs(propertyInputs...),
		OpenInputs:  true,
	},
}

var catalogByName = func() map[string]int {
	sort.Slice(catalog, func(i, j int) bool { return catalog[i].Name < catalog[j].Name })
	m := make(map[string]int, len(catalog))
	for i, a := range catalog {
		m[a.Name] = i
	}
	return m
}()

// Actions returns SSM's whole action vocabulary, sorted by name. The slice is a
// copy; the specs share their inner slices, which callers must not modify.
func Actions() []ActionSpec {
	return append([]ActionSpec(nil), catalog...)
}

// LookupAction finds an action by its SSM name, e.g. "aws:runInstances".
func LookupAction(name string) (ActionSpec, bool) {
	i, ok := catalogByName[name]
	if !ok {
		return ActionSpec{}, false
	}
	return catalog[i], true
}

func actionNames() []string {
	names := make([]string, len(catalog))
	for i, a := range catalog {
		names[i] = a.Name
	}
	return names
}

// Input finds an input spec by its SSM name.
func (a ActionSpec) Input(name string) (InputSpec, bool) {
	for _, s := range a.Inputs {
		if s.Name == name {
			return s, true
		}
	}
	return InputSpec{}, false
}

// Output finds an output spec by name.
func (a ActionSpec) Output(name string) (OutputSpec, bool) {
	for _, o := range a.Outputs {
		if o.Name == name {
			return o, true
		}
	}
	return OutputSpec{}, false
}

// SnakeCase converts an SSM name to the HCL attribute name:
// "IamInstanceProfileName" -> "iam_instance_profile_name",
// "NotificationARNs" -> "notification_arns", "OutputS3BucketName" -> "output_s3_bucket_name".
func SnakeCase(ssmName string) string {
	r := []rune(ssmName)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) {
			if i > 0 {
				prev := r[i-1]
				nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
				// A plural "s" after an acronym ("ARNs") belongs to the acronym.
				if nextLower && r[i+1] == 's' && (i+2 == len(r) || unicode.IsUpper(r[i+2])) && unicode.IsUpper(prev) {
					nextLower = false
				}
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
					b.WriteByte('_')
				}
			}
			b.WriteRune(unicode.ToLower(c))
			continue
		}
		if c == '-' || c == ' ' || c == ':' {
			b.WriteByte('_')
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
