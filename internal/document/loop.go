package document

import (
	"errors"
	"fmt"
)

// LoopSteps decodes the steps nested in an aws:loop step's Steps input, as
// the local engine runs them. raw is the input as written (templates inside
// the nested steps are left for each iteration to resolve).
func LoopSteps(raw any) ([]Step, error) {
	list, ok := NormalizeValue(raw).([]any)
	if !ok {
		return nil, fmt.Errorf("input Steps must be a list of steps, but it is %s", kindOf(raw))
	}
	if len(list) == 0 {
		return nil, errors.New("input Steps is empty: a loop needs at least one step")
	}
	dc := &decoder{doc: &Document{fieldPos: map[string]Pos{}}}
	out := make([]Step, 0, len(list))
	for j, e := range list {
		st, err := dc.step(valueToNode(e), []string{"Steps", fmt.Sprintf("[%d]", j)})
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				return nil, fmt.Errorf("input Steps[%d]: %s", j, se.Msg)
			}
			return nil, fmt.Errorf("input Steps[%d]: %w", j, err)
		}
		st.Pos = Pos{}
		out = append(out, st)
	}
	return out, nil
}
