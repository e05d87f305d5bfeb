package document

import (
	"fmt"
	"strconv"
	"strings"
)

var (
	documentFields  = []string{"schemaVersion", "description", "assumeRole", "parameters", "variables", "mainSteps", "outputs", "files"}
	parameterFields = []string{"type", "description", "default", "allowedValues", "allowedPattern", "displayType", "minItems", "maxItems", "minChars", "maxChars"}
	variableFields  = []string{"type", "description", "default"}
	stepFields      = []string{"name", "action", "description", "inputs", "maxAttempts", "timeoutSeconds", "onFailure", "onCancel", "isCritical", "isEnd", "nextStep", "outputs"}
	outputFields    = []string{"Name", "Selector", "Type"}
)

// decoder turns a node tree into a Document, checking the shape of every field.
type decoder struct {
	yaml bool // phrase fixes in YAML terms
	doc  *Document
}

// warn records something SSM accepts but converts, for Validate to report.
// path is where the decoder is: ["mainSteps", "[i]", field] for a step field.
func (dc *decoder) warn(pos Pos, path []string, step, msg string) {
	p := Problem{Severity: SeverityWarning, StepIndex: -1, Message: msg, Pos: pos}
	switch {
	case len(path) >= 3 && path[0] == "mainSteps":
		p.Step, p.StepIndex, p.Path = step, ordinalIndex(path[1]), path[2:]
	case len(path) >= 1 && path[0] == "mainSteps":
		p.Path = path[:1]
	default:
		p.Path = append([]string(nil), path...)
		if len(path) >= 2 && path[0] == "Steps" {
			p.Path = path[2:] // a step nested in aws:loop: the loop reports the rest
		}
	}
	p.Path = append([]string(nil), p.Path...)
	dc.doc.warnings = append(dc.doc.warnings, p)
}

func ordinalIndex(idx string) int {
	n, err := strconv.Atoi(strings.Trim(idx, "[]"))
	if err != nil {
		return -1
	}
	return n
}

func decodeDocument(root *node, yaml bool) (*Document, error) {
	dc := &decoder{yaml: yaml, doc: &Document{fieldPos: map[string]Pos{}}}
	if root.kind != kindObject {
		return nil, syntaxErrorAt(root.pos, "the document must be %s at the top level, but it is %s", dc.kindName(kindObject), dc.kindName(root.kind))
	}
	d := dc.doc
	d.fieldPos[""] = root.pos // where problems about missing fields point
	for _, f := range root.fields {
		d.fieldPos[f.key] = f.keyPos
		path := []string{f.key}
		var err error
		switch f.key {
		case "schemaVersion":
			// YAML reads an unquoted 0.3 as a number; its spelling is what counts.
			if f.val.kind == kindNumber {
				d.SchemaVersion = f.val.raw
				break
			}
			d.SchemaVersion, err = dc.str(f.val, path, "")
		case "description":
			d.Description, err = dc.str(f.val, path, "")
		case "assumeRole":
			d.AssumeRole, err = dc.str(f.val, path, "")
		case "parameters":
			err = dc.parameters(f.val)
		case "variables":
			err = dc.variables(f.val)
		case "mainSteps":
			err = dc.mainSteps(f.val)
		case "outputs":
			d.Outputs, err = dc.stringList(f.val, path, "")
			for i, it := range f.val.items {
				d.fieldPos["outputs."+strconv.Itoa(i)] = it.pos
			}
		case "files":
			if f.val.kind == kindNull {
				break
			}
			if err = dc.want(f.val, kindObject, path, ""); err == nil {
				d.Files = f.val.toValue().(map[string]any)
			}
		default:
			err = syntaxErrorAt(f.keyPos, "unknown top-level field %s%s", QuoteValue(f.key), hintList(f.key, documentFields, "the fields of a document"))
		}
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (dc *decoder) kindName(k nodeKind) string {
	if dc.yaml {
		switch k {
		case kindObject:
			return "a mapping (key: value lines)"
		case kindList:
			return "a list (lines starting with - )"
		}
	}
	return k.describe()
}

// want checks the kind of a node and explains a mismatch with a fix.
func (dc *decoder) want(n *node, k nodeKind, path []string, step string) error {
	if n.kind == k {
		return nil
	}
	where := describePath(path, step)
	msg := fmt.Sprintf("%s must be %s, but it is %s", where, dc.kindName(k), dc.kindName(n.kind))
	if !dc.yaml && (k == kindObject || k == kindList) {
		msg += "; write " + fixHint(path)
	}
	if k == kindNumber && n.kind == kindString {
		msg += "; write the number without quotes"
	}
	if k == kindBool && n.kind == kindString {
		msg += "; write true or false without quotes"
	}
	return syntaxErrorAt(n.pos, "%s", msg)
}

func (dc *decoder) str(n *node, path []string, step string) (string, error) {
	if n.kind == kindNull {
		return "", nil
	}
	if err := dc.want(n, kindString, path, step); err != nil {
		return "", err
	}
	return n.value.(string), nil
}

func (dc *decoder) integer(n *node, path []string, step string) (*int64, error) {
	if n.kind == kindNull {
		return nil, nil
	}
	if n.kind == kindString {
		// SSM reads a whole number written as text ("3") as the number.
		if i, err := strconv.ParseInt(strings.TrimSpace(n.value.(string)), 10, 64); err == nil {
			dc.warn(n.pos, path, step, fmt.Sprintf("%s is the text %s, where a number belongs; SSM reads it as the number %d: write it without quotes",
				describePath(path, step), QuoteValue(n.value.(string)), i))
			return &i, nil
		}
	}
	if err := dc.want(n, kindNumber, path, step); err != nil {
		return nil, err
	}
	i, ok := n.value.(int64)
	if !ok {
		return nil, syntaxErrorAt(n.pos, "%s must be a whole number, but it is %s", describePath(path, step), n.raw)
	}
	return &i, nil
}

func (dc *decoder) boolean(n *node, path []string, step string) (*bool, error) {
	if n.kind == kindNull {
		return nil, nil
	}
	if n.kind == kindString {
		// SSM reads "true" and "false" written as text as the booleans;
		// Amazon-owned runbooks write "isCritical": "true".
		switch t := strings.ToLower(strings.TrimSpace(n.value.(string))); t {
		case "true", "false":
			b := t == "true"
			dc.warn(n.pos, path, step, fmt.Sprintf("%s is the text %s, where a boolean belongs; SSM reads it as %t: write it without quotes",
				describePath(path, step), QuoteValue(n.value.(string)), b))
			return &b, nil
		}
	}
	if err := dc.want(n, kindBool, path, step); err != nil {
		return nil, err
	}
	b := n.value.(bool)
	return &b, nil
}

// stringList reads a list of scalars; numbers and booleans keep their spelling.
func (dc *decoder) stringList(n *node, path []string, step string) ([]string, error) {
	if n.kind == kindNull {
		return nil, nil
	}
	if err := dc.want(n, kindList, path, step); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(n.items))
	for i, it := range n.items {
		switch it.kind {
		case kindString:
			out = append(out, it.value.(string))
		case kindNumber, kindBool:
			out = append(out, it.raw)
		default:
			return nil, syntaxErrorAt(it.pos, "%s must hold strings, but element %d is %s", describePath(path, step), i+1, dc.kindName(it.kind))
		}
	}
	return out, nil
}

func (dc *decoder) parameters(n *node) error {
	if n.kind == kindNull {
		return nil
	}
	if err := dc.want(n, kindObject, []string{"parameters"}, ""); err != nil {
		return err
	}
	for _, f := range n.fields {
		path := []string{"parameters", f.key}
		if err := dc.want(f.val, kindObject, path, ""); err != nil {
			return err
		}
		p := Parameter{Name: f.key, Pos: f.keyPos}
		for _, pf := range f.val.fields {
			fp := append(append([]string(nil), path...), pf.key)
			dc.doc.fieldPos[strings.Join(fp, ".")] = pf.keyPos
			var err error
			switch pf.key {
			case "type":
				p.Type, err = dc.str(pf.val, fp, "")
			case "description":
				p.Description, err = dc.str(pf.val, fp, "")
			case "default":
				p.Default, p.HasDefault = pf.val.toValue(), true
			case "allowedValues":
				p.AllowedValues, err = dc.stringList(pf.val, fp, "")
			case "allowedPattern":
				p.AllowedPattern, err = dc.str(pf.val, fp, "")
			case "displayType":
				p.DisplayType, err = dc.str(pf.val, fp, "")
			case "minItems":
				p.MinItems, err = dc.integer(pf.val, fp, "")
			case "maxItems":
				p.MaxItems, err = dc.integer(pf.val, fp, "")
			case "minChars":
				p.MinChars, err = dc.integer(pf.val, fp, "")
			case "maxChars":
				p.MaxChars, err = dc.integer(pf.val, fp, "")
			default:
				err = syntaxErrorAt(pf.keyPos, "unknown field %s in parameter %s%s", QuoteValue(pf.key), QuoteValue(f.key), hintList(pf.key, parameterFields, "the fields of a parameter"))
			}
			if err != nil {
				return err
			}
		}
		dc.doc.Parameters = append(dc.doc.Parameters, p)
	}
	return nil
}

func (dc *decoder) variables(n *node) error {
	if n.kind == kindNull {
		return nil
	}
	if err := dc.want(n, kindObject, []string{"variables"}, ""); err != nil {
		return err
	}
	for _, f := range n.fields {
		path := []string{"variables", f.key}
		if err := dc.want(f.val, kindObject, path, ""); err != nil {
			return err
		}
		v := Variable{Name: f.key, Pos: f.keyPos}
		for _, vf := range f.val.fields {
			fp := append(append([]string(nil), path...), vf.key)
			var err error
			switch vf.key {
			case "type":
				v.Type, err = dc.str(vf.val, fp, "")
			case "description":
				v.Description, err = dc.str(vf.val, fp, "")
			case "default":
				v.Default, v.HasDefault = vf.val.toValue(), true
			default:
				err = syntaxErrorAt(vf.keyPos, "unknown field %s in variable %s%s", QuoteValue(vf.key), QuoteValue(f.key), hintList(vf.key, variableFields, "the fields of a variable"))
			}
			if err != nil {
				return err
			}
		}
		dc.doc.Variables = append(dc.doc.Variables, v)
	}
	return nil
}

func (dc *decoder) mainSteps(n *node) error {
	if n.kind == kindNull {
		return nil
	}
	if err := dc.want(n, kindList, []string{"mainSteps"}, ""); err != nil {
		return err
	}
	dc.doc.MainSteps = make([]Step, 0, len(n.items))
	for i, it := range n.items {
		s, err := dc.step(it, []string{"mainSteps", fmt.Sprintf("[%d]", i)})
		if err != nil {
			return err
		}
		dc.doc.MainSteps = append(dc.doc.MainSteps, s)
	}
	return nil
}

// step decodes one step object; path locates it for messages.
func (dc *decoder) step(n *node, path []string) (Step, error) {
	if err := dc.want(n, kindObject, path, ""); err != nil {
		return Step{}, err
	}
	s := Step{Pos: n.pos, Inputs: map[string]any{}, fieldPos: map[string]Pos{}}
	if nn := n.lookup("name"); nn != nil && nn.kind == kindString {
		s.Name = nn.value.(string)
	}
	sub := func(key string) []string { return append(append([]string(nil), path...), key) }
	for _, f := range n.fields {
		s.fieldPos[f.key] = f.keyPos
		fp := sub(f.key)
		var err error
		switch f.key {
		case "name":
			s.Name, err = dc.str(f.val, fp, s.Name)
		case "action":
			s.Action, err = dc.str(f.val, fp, s.Name)
		case "description":
			s.Description, err = dc.str(f.val, fp, s.Name)
		case "inputs":
			if f.val.kind == kindNull {
				break
			}
			if err = dc.want(f.val, kindObject, fp, s.Name); err == nil {
				for _, in := range f.val.fields {
					s.fieldPos["inputs."+in.key] = in.keyPos
					s.Inputs[in.key] = in.val.toValue()
				}
			}
		case "maxAttempts":
			s.MaxAttempts, err = dc.integer(f.val, fp, s.Name)
		case "timeoutSeconds":
			s.TimeoutSeconds, err = dc.integer(f.val, fp, s.Name)
		case "onFailure":
			s.OnFailure, err = dc.str(f.val, fp, s.Name)
		case "onCancel":
			s.OnCancel, err = dc.str(f.val, fp, s.Name)
		case "isCritical":
			s.IsCritical, err = dc.boolean(f.val, fp, s.Name)
		case "isEnd":
			s.IsEnd, err = dc.boolean(f.val, fp, s.Name)
		case "nextStep":
			s.NextStep, err = dc.str(f.val, fp, s.Name)
		case "outputs":
			s.Outputs, err = dc.stepOutputs(f.val, fp, s.Name, s.fieldPos)
		default:
			where := "step " + QuoteValue(s.Name)
			if s.Name == "" {
				where = describePath(path, "")
			}
			err = syntaxErrorAt(f.keyPos, "unknown field %s in %s%s", QuoteValue(f.key), where, hintList(f.key, stepFields, "the fields of a step"))
		}
		if err != nil {
			return Step{}, err
		}
	}
	return s, nil
}

func (dc *decoder) stepOutputs(n *node, path []string, step string, pos map[string]Pos) ([]StepOutput, error) {
	if n.kind == kindNull {
		return nil, nil
	}
	if err := dc.want(n, kindList, path, step); err != nil {
		return nil, err
	}
	outs := make([]StepOutput, 0, len(n.items))
	for i, it := range n.items {
		ip := append(append([]string(nil), path...), fmt.Sprintf("[%d]", i))
		if err := dc.want(it, kindObject, ip, step); err != nil {
			return nil, err
		}
		pos["outputs."+strconv.Itoa(i)] = it.pos
		var o StepOutput
		for _, f := range it.fields {
			fp := append(append([]string(nil), ip...), f.key)
			var err error
			switch f.key {
			case "Name":
				o.Name, err = dc.str(f.val, fp, step)
			case "Selector":
				o.Selector, err = dc.str(f.val, fp, step)
			case "Type":
				o.Type, err = dc.str(f.val, fp, step)
			default:
				err = syntaxErrorAt(f.keyPos, "unknown field %s in output %d of step %s%s; an output has Name, Selector and Type",
					QuoteValue(f.key), i+1, QuoteValue(step), didYouMean(f.key, outputFields))
			}
			if err != nil {
				return nil, err
			}
		}
		outs = append(outs, o)
	}
	return outs, nil
}

// describePath names a place in a document for messages, e.g. `"inputs" of step
// "createTags"`. Path elements are keys or "[i]".
func describePath(path []string, step string) string {
	stepRef := func(idx string) string {
		if step != "" {
			return "step " + QuoteValue(step)
		}
		return "step " + ordinal(idx) + " of mainSteps"
	}
	switch {
	case len(path) == 0:
		return "the document"
	case len(path) == 1:
		return QuoteValue(path[0])
	case (path[0] == "parameters" || path[0] == "variables") && len(path) == 2:
		return strings.TrimSuffix(path[0], "s") + " " + QuoteValue(path[1])
	case (path[0] == "parameters" || path[0] == "variables") && len(path) >= 3:
		return fmt.Sprintf("%s of %s %s", QuoteValue(joinPath(path[2:])), strings.TrimSuffix(path[0], "s"), QuoteValue(path[1]))
	case path[0] == "mainSteps" && len(path) == 2:
		return stepRef(path[1])
	case path[0] == "mainSteps" && len(path) >= 4 && path[2] == "inputs":
		return fmt.Sprintf("input %s of %s", QuoteValue(joinPath(path[3:])), stepRef(path[1]))
	case path[0] == "mainSteps" && len(path) >= 3:
		return fmt.Sprintf("%s of %s", QuoteValue(joinPath(path[2:])), stepRef(path[1]))
	}
	return QuoteValue(joinPath(path))
}

// joinPath renders ["a", "[2]", "b"] as a[2].b.
func joinPath(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if i > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func ordinal(idx string) string {
	n, err := strconv.Atoi(strings.Trim(idx, "[]"))
	if err != nil {
		return idx
	}
	return strconv.Itoa(n + 1)
}

// expectedKind is the kind the document schema requires at path, or kindNull
// when the schema does not say.
func expectedKind(path []string) nodeKind {
	n := len(path)
	switch {
	case n == 0:
		return kindObject
	case n == 1:
		switch path[0] {
		case "parameters", "variables", "files":
			return kindObject
		case "mainSteps", "outputs":
			return kindList
		}
	case n == 2 && (path[0] == "parameters" || path[0] == "variables"):
		return kindObject
	case n == 3 && path[0] == "parameters" && path[2] == "allowedValues":
		return kindList
	case n == 2 && path[0] == "mainSteps":
		return kindObject
	case n == 3 && path[0] == "mainSteps":
		switch path[2] {
		case "inputs":
			return kindObject
		case "outputs":
			return kindList
		}
	case n == 4 && path[0] == "mainSteps" && path[2] == "outputs":
		return kindObject
	}
	return kindNull
}

// fixHint shows how the value at path is written correctly.
func fixHint(path []string) string {
	key := "the value"
	if len(path) > 0 && !strings.HasPrefix(path[len(path)-1], "[") {
		key = QuoteValue(path[len(path)-1]) + ":"
	}
	switch expectedKind(path) {
	case kindObject:
		return key + " { ... }"
	case kindList:
		return key + " [ ... ]"
	}
	return key + " ..."
}
