package document

import "sort"

// Actions lists the actions the document's steps use, steps nested in
// aws:loop included, sorted and without repeats.
func (d *Document) Actions() []string {
	seen := map[string]bool{}
	var walk func(steps []Step, depth int)
	walk = func(steps []Step, depth int) {
		for i := range steps {
			s := &steps[i]
			if s.Action != "" {
				seen[s.Action] = true
			}
			if s.Action == "aws:loop" && depth < maxDepth {
				v := &validator{d: d}
				var inner []Step
				for _, is := range v.loopSteps(s, nil) {
					inner = append(inner, is.step)
				}
				walk(inner, depth+1)
			}
		}
	}
	walk(d.MainSteps, 0)
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// ActionsNotRunnable lists the actions of the document that an executor
// cannot run, given what it can run (for the local engine, engine.CanRun):
// an empty list means the executor runs the whole document. SSM's own
// Automation runs every action of the catalogue.
func (d *Document) ActionsNotRunnable(canRun func(action string) bool) []string {
	var out []string
	for _, a := range d.Actions() {
		if !canRun(a) {
			out = append(out, a)
		}
	}
	return out
}
