package document

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// What an input that others can read says about who reads it and what to do
// instead (InputSpec.ReadableBy, set in the catalogue).
const (
	exposedInImage = "AMI names and descriptions can be read by anyone allowed ec2:DescribeImages in the account, " +
		"and by every account the image is shared with. Keep secrets out of them: name and describe images " +
		"with values that are not secret."
	exposedInTags = "Tags can be read by anyone allowed to describe the tagged resources (ec2:DescribeTags, " +
		"ec2:DescribeInstances, ec2:DescribeImages) and show in cost reports. Keep secrets out of tags."
	exposedInCommand = "The parameters and comment of a command are kept by Systems Manager and can be read by " +
		"anyone allowed ssm:ListCommands or ssm:GetCommandInvocation, and in the Run Command history. " +
		"Store the secret in SSM Parameter Store as a SecureString and have the command read it on the instance, " +
		"e.g. $(aws ssm get-parameter --with-decryption --name /app/secret --query Parameter.Value --output text); " +
		"the builder's instance profile needs ssm:GetParameter on the parameter (and kms:Decrypt for a customer managed key). " +
		"Pass the parameter's name, not its value."
)

// SecretExposures finds, without running anything, the step inputs through
// which a secret would become readable by others: an AMI name or description
// (createImage, copyImage), a tag (createTags, runInstances
// TagSpecifications), or a command's Parameters or Comment (runCommand). A
// secret is the value of a parameter named in sensitive, and flows through
// templates: into the default of another parameter that uses it (unless that
// parameter is in given, whose values replace defaults), and into the outputs
// of a step whose inputs use it (except ids, states and status codes, which
// AWS makes up). The secret fields of APIs that return secrets
// (SecretFields), selected as aws:executeAwsApi outputs, are secrets too.
// Each problem names the step and input, where the secret comes from, who
// can read it, and the safe way.
func SecretExposures(d *Document, sensitive, given []string) []Problem {
	if d == nil {
		return nil
	}
	// why[x] says where the secret in parameter or "step.Output" x comes from.
	params := map[string]string{}
	for _, p := range d.Parameters {
		if slices.Contains(sensitive, p.Name) {
			params[p.Name] = fmt.Sprintf("sensitive parameter %q", p.Name)
		}
	}
	for changed := true; changed; {
		changed = false
		for _, p := range d.Parameters {
			if _, done := params[p.Name]; done || !p.HasDefault || slices.Contains(given, p.Name) {
				continue
			}
			if from := taintedRef(NormalizeValue(p.Default), params, nil); from != "" {
				params[p.Name] = fmt.Sprintf("parameter %q, whose default uses %s", p.Name, from)
				changed = true
			}
		}
	}

	outputs := map[string]string{}
	for changed := true; changed; {
		changed = false
		for i := range d.MainSteps {
			s := &d.MainSteps[i]
			for name, why := range stepSecretOutputs(s, params, outputs) {
				if _, done := outputs[s.Name+"."+name]; !done {
					outputs[s.Name+"."+name] = why
					changed = true
				}
			}
		}
	}

	var problems []Problem
	for i := range d.MainSteps {
		s := &d.MainSteps[i]
		spec, _ := LookupAction(s.Action)
		for _, in := range spec.Inputs {
			v, ok := s.Inputs[in.Name]
			if in.ReadableBy == "" || !ok {
				continue
			}
			from := taintedRef(v, params, outputs)
			if from == "" {
				continue
			}
			path := []string{"inputs", in.Name}
			problems = append(problems, Problem{Step: s.Name, StepIndex: i, Path: path, Pos: stepPos(s, path),
				Message: fmt.Sprintf("would let others read the value of %s. %s", from, in.ReadableBy)})
		}
	}
	return problems
}

// taintedRef returns where the secret comes from for the first template in v
// that names a parameter in params or a step output in outputs; "" when none
// does.
func taintedRef(v any, params, outputs map[string]string) string {
	refs, _ := RefsIn(v) // malformed templates are reported by Validate
	for _, ref := range refs {
		switch ref.Kind {
		case RefParameter:
			if why, ok := params[ref.Name]; ok {
				return why
			}
		case RefStepOutput:
			if why, ok := outputs[ref.Step+"."+ref.Output]; ok {
				return fmt.Sprintf("step output %s.%s, which holds %s", ref.Step, ref.Output, why)
			}
		}
	}
	return ""
}

// stepSecretOutputs returns the outputs of s that may hold a secret, with
// where it comes from.
func stepSecretOutputs(s *Step, params, outputs map[string]string) map[string]string {
	out := map[string]string{}
	if s.Action == "aws:executeAwsApi" {
		service, _ := s.Inputs["Service"].(string)
		api, _ := s.Inputs["Api"].(string)
		if fields := SecretFields(service, api, s.Inputs); len(fields) > 0 {
			for _, o := range s.Outputs {
				if selectsSecret(o.Selector, fields) {
					out[o.Name] = fmt.Sprintf("the secret that %s %s returns", strings.ToLower(service), api)
				}
			}
		}
	}
	var from string
	for _, name := range sortedKeys(s.Inputs) {
		if from = taintedRef(s.Inputs[name], params, outputs); from != "" {
			break
		}
	}
	if from == "" {
		return out
	}
	echo := fmt.Sprintf("what step %q made of %s", s.Name, from)
	for _, o := range s.Outputs {
		if _, ok := out[o.Name]; !ok {
			out[o.Name] = echo
		}
	}
	if spec, ok := LookupAction(s.Action); ok {
		for _, o := range spec.Outputs {
			if _, ok := out[o.Name]; !ok && !madeByAWS(o.Name) {
				out[o.Name] = echo
			}
		}
	}
	return out
}

// madeByAWS tells the outputs that cannot hold an input's value: ids,
// states and status codes.
func madeByAWS(output string) bool {
	for _, suffix := range []string{"Id", "Ids", "State", "Status", "Code", "Arn"} {
		if strings.HasSuffix(output, suffix) {
			return true
		}
	}
	return false
}

var selectorIndex = regexp.MustCompile(`\[[^\]]*\]`)

// selectsSecret tells whether a JSONPath selector may select a secret field
// or an object that holds one.
func selectsSecret(selector string, fields []string) bool {
	norm := func(s string) string {
		s = strings.TrimSpace(s)
		s = strings.TrimPrefix(s, "$")
		s = strings.TrimPrefix(s, ".")
		return selectorIndex.ReplaceAllString(s, "[*]")
	}
	sel := norm(selector)
	if sel == "" || strings.Contains(selector, "..") || strings.Contains(strings.ReplaceAll(sel, "[*]", ""), "*") {
		return true // the whole response, any depth, or any member
	}
	for _, f := range fields {
		f = norm(f)
		if f == sel || strings.HasPrefix(f, sel+".") || strings.HasPrefix(f, sel+"[") || strings.HasPrefix(sel, f+".") {
			return true
		}
	}
	return false
}
