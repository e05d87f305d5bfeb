package engine

import (
	"fmt"
	"strings"

	"github.com/amibake/terraform-provider-amibake/internal/actions"
	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// Refusal is a step that the local engine cannot run, found before the run.
type Refusal struct {
	// Index is the step's place in mainSteps; for a step nested in an
	// aws:loop, the loop's.
	Index int
	// Step names the step; a nested one as loop/step.
	Step   string
	Action string
	// Reason completes "step X uses ACTION, which ...", and says what to do.
	Reason string
}

func (r Refusal) Error() string {
	return fmt.Sprintf("step %s uses %s, which %s", document.QuoteValue(r.Step), r.Action, r.Reason)
}

// needsPerson are the actions that wait for someone to act on the run.
var needsPerson = map[string]string{
	"aws:approve": "waits for people to approve or reject the run",
	"aws:pause":   "waits for someone to resume the run",
}

// LocalRefusals lists the steps of doc, nested ones included, that the local
// engine cannot run: those that need a person, those that need SSM
// Automation's own engine (a secondary automation over targets, accounts or
// Regions), and actions it does not implement. Each says to run the recipe
// with executor = "ssm", which runs them all.
func LocalRefusals(doc *document.Document) []Refusal {
	var out []Refusal
	var walk func(steps []document.Step, index int, prefix string, depth int)
	walk = func(steps []document.Step, index int, prefix string, depth int) {
		for i := range steps {
			s := &steps[i]
			at := index
			if at < 0 {
				at = i
			}
			if reason := refusal(s); reason != "" {
				out = append(out, Refusal{Index: at, Step: prefix + s.Name, Action: s.Action, Reason: reason})
			}
			if s.Action == "aws:loop" && depth < 10 {
				if nested, err := document.LoopSteps(s.Inputs["Steps"]); err == nil {
					walk(nested, at, prefix+s.Name+"/", depth+1)
				}
			}
		}
	}
	if doc != nil {
		walk(doc.MainSteps, -1, "", 0)
	}
	return out
}

const useSSM = `; run the recipe with executor = "ssm", where SSM Automation runs it`

func refusal(s *document.Step) string {
	if what, ok := needsPerson[s.Action]; ok {
		return "cannot run locally: it " + what + ", and a terraform apply has no one to wait for" + useSSM
	}
	if s.Action == "aws:executeAutomation" {
		var used []string
		for _, k := range actions.AWSEngineInputs {
			if v, ok := s.Inputs[k]; ok && document.Given(v) {
				used = append(used, k)
			}
		}
		if len(used) > 0 {
			return fmt.Sprintf("cannot run locally with %s: running the secondary automation over targets, accounts or Regions "+
				"takes SSM Automation's own engine", strings.Join(used, ", ")) + useSSM
		}
	}
	if !CanRun(s.Action) {
		if _, known := document.LookupAction(s.Action); known {
			return "amibake_image cannot run locally yet" + useSSM
		}
	}
	return ""
}

// LocalNote says, for the actions reference, what limits the local engine
// with an action: "" when it runs the action whole.
func LocalNote(action string) string {
	switch {
	case needsPerson[action] != "":
		return "no: it " + needsPerson[action] + "; use `executor = \"ssm\"`"
	case action == "aws:executeAutomation":
		return "yes, by name from SSM; with " + strings.Join(actions.AWSEngineInputs[:4], ", ") + " only SSM runs it"
	case action == "aws:executeScript":
		return "yes, with `python3` (boto3 for AWS calls) or `pwsh` on the machine that runs Terraform"
	case !CanRun(action):
		return "not yet; use `executor = \"ssm\"`"
	}
	return ""
}
