package document

import "fmt"

// Advice lists what is valid but very likely to fail once the bake has spent
// money: warnings, not errors. Today one case: an aws:runCommand step that
// targets instances launched by an aws:runInstances step of the same document
// without an instance profile. Such a builder's SSM agent cannot register with
// Systems Manager, so the command can only wait until its step times out.
func Advice(d *Document) []Problem {
	if d == nil {
		return nil
	}
	noProfile := map[string]bool{} // runInstances steps launching without a profile
	for _, s := range d.MainSteps {
		if s.Action != "aws:runInstances" {
			continue
		}
		_, name := s.Inputs["IamInstanceProfileName"]
		_, arn := s.Inputs["IamInstanceProfileArn"]
		if !name && !arn {
			noProfile[s.Name] = true
		}
	}
	var out []Problem
	for i, s := range d.MainSteps {
		if s.Action != "aws:runCommand" {
			continue
		}
		refs, err := RefsIn(s.Inputs["InstanceIds"])
		if err != nil {
			continue
		}
		for _, r := range refs {
			if r.Kind == RefStepOutput && noProfile[r.Step] {
				out = append(out, Problem{
					Step: s.Name, StepIndex: i, Path: []string{"inputs", "InstanceIds"}, Pos: s.Pos,
					Message: fmt.Sprintf("the command targets the instances of step %s, which launches them without an instance profile: "+
						"their SSM agent cannot register with Systems Manager, so the command would wait until the step times out. "+
						"Give step %s IamInstanceProfileName (iam_instance_profile_name in HCL) naming a profile whose role has the "+
						"AmazonSSMManagedInstanceCore policy", QuoteValue(r.Step), QuoteValue(r.Step)),
				})
				break
			}
		}
	}
	return out
}
