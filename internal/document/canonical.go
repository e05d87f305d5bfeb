package document

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

// CanonicalJSON renders the document as SSM Automation JSON in a stable form:
// fixed field order (maps inside inputs sorted by key), empty optional fields
// left out, two-space indent. The same recipe written in HCL, JSON or YAML
// renders to the same bytes, so its hash identifies the recipe.
//
// Normalizations, each a pure SSM equivalence:
//   - a step without inputs gets "inputs": {} (SSM treats both alike);
//   - aws:runCommand Parameters values are lists of strings ("Important" and
//     ["Important"] mean the same to Run Command, 7200 and "7200" too);
//   - a StringList input given as one value becomes a one-element list (a
//     template standing alone in a list is spliced, so "{{ s.Ids }}" and
//     ["{{ s.Ids }}"] are the same), and its scalar elements become strings;
//   - numbers are int64 when integral (1.0 is 1); a schemaVersion written as
//     the number 0.3 is the string "0.3";
//   - the default of an Integer or Boolean parameter written as text ("5",
//     "true") is the number or boolean: SSM receives parameter values as text;
//   - so is an Integer or Boolean input written as such text (SSM reads it as
//     the number or boolean; HCL, where `true` and "true" are one value,
//     cannot tell them apart).
//
// Everything else, including defaults such as maxAttempts 1, is kept as given.
func (d *Document) CanonicalJSON() ([]byte, error) {
	var w canonicalWriter
	if err := w.value(d.canonical(), 0); err != nil {
		return nil, err
	}
	w.buf.WriteByte('\n')
	return w.buf.Bytes(), nil
}

// SHA256 is the hex SHA-256 of CanonicalJSON.
func (d *Document) SHA256() (string, error) {
	b, err := d.CanonicalJSON()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// ordered is a JSON object whose keys keep their order.
type ordered []kv

type kv struct {
	k string
	v any
}

func (o *ordered) add(k string, v any) { *o = append(*o, kv{k, v}) }
func (o *ordered) str(k, v string) {
	if v != "" {
		o.add(k, v)
	}
}

func (o *ordered) intp(k string, v *int64) {
	if v != nil {
		o.add(k, *v)
	}
}

func (o *ordered) boolp(k string, v *bool) {
	if v != nil {
		o.add(k, *v)
	}
}

func (d *Document) canonical() ordered {
	var o ordered
	o.str("schemaVersion", d.SchemaVersion)
	o.str("description", d.Description)
	o.str("assumeRole", d.AssumeRole)
	if len(d.Parameters) > 0 {
		ps := append([]Parameter(nil), d.Parameters...)
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
		var po ordered
		for _, p := range ps {
			po.add(p.Name, p.canonical())
		}
		o.add("parameters", po)
	}
	if len(d.Variables) > 0 {
		vs := append([]Variable(nil), d.Variables...)
		sort.SliceStable(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
		var vo ordered
		for _, v := range vs {
			var e ordered
			e.str("type", v.Type)
			e.str("description", v.Description)
			if v.HasDefault {
				e.add("default", NormalizeValue(v.Default))
			}
			vo.add(v.Name, e)
		}
		o.add("variables", vo)
	}
	if d.MainSteps != nil {
		steps := make([]any, len(d.MainSteps))
		for i := range d.MainSteps {
			steps[i] = d.MainSteps[i].canonical()
		}
		o.add("mainSteps", steps)
	}
	if len(d.Outputs) > 0 {
		o.add("outputs", NormalizeValue(d.Outputs))
	}
	if len(d.Files) > 0 {
		o.add("files", NormalizeValue(d.Files))
	}
	return o
}

func (p Parameter) canonical() ordered {
	var o ordered
	o.str("type", p.Type)
	o.str("description", p.Description)
	if p.HasDefault {
		o.add("default", canonicalDefault(p.Type, p.Default))
	}
	if len(p.AllowedValues) > 0 {
		o.add("allowedValues", NormalizeValue(p.AllowedValues))
	}
	o.str("allowedPattern", p.AllowedPattern)
	o.str("displayType", p.DisplayType)
	o.intp("minItems", p.MinItems)
	o.intp("maxItems", p.MaxItems)
	o.intp("minChars", p.MinChars)
	o.intp("maxChars", p.MaxChars)
	return o
}

func (s Step) canonical() ordered {
	var o ordered
	o.str("name", s.Name)
	o.str("action", s.Action)
	o.str("description", s.Description)
	o.intp("maxAttempts", s.MaxAttempts)
	o.intp("timeoutSeconds", s.TimeoutSeconds)
	o.str("onFailure", s.OnFailure)
	o.str("onCancel", s.OnCancel)
	o.boolp("isCritical", s.IsCritical)
	o.boolp("isEnd", s.IsEnd)
	o.str("nextStep", s.NextStep)
	o.add("inputs", canonicalInputs(s.Action, s.Inputs))
	if len(s.Outputs) > 0 {
		outs := make([]any, len(s.Outputs))
		for i, out := range s.Outputs {
			var e ordered
			e.add("Name", out.Name)
			e.add("Selector", out.Selector)
			e.add("Type", out.Type)
			outs[i] = e
		}
		o.add("outputs", outs)
	}
	return o
}

func canonicalDefault(typ string, v any) any {
	v = NormalizeValue(v)
	if s, ok := v.(string); ok && !HasTemplate(s) {
		switch typ {
		case "Integer":
			if i, err := coerceInteger(s); err == nil {
				return i
			}
		case "Boolean":
			if b, err := coerceBoolean(s); err == nil {
				return b
			}
		}
	}
	return v
}

// canonicalInputs applies the input normalizations listed on CanonicalJSON.
func canonicalInputs(action string, inputs map[string]any) map[string]any {
	out := make(map[string]any, len(inputs))
	for k, v := range inputs {
		out[k] = NormalizeValue(v)
	}
	spec, ok := LookupAction(action)
	if !ok {
		return out
	}
	for k, v := range out {
		is, ok := spec.Input(k)
		if !ok {
			continue
		}
		switch is.Type {
		case TypeInteger, TypeBoolean:
			if text, ok := v.(string); ok {
				out[k] = LiteralValue(text, is.Type)
			}
		case TypeStringList:
			out[k] = stringListForm(v)
		case TypeStringListMap:
			if m, ok := v.(map[string]any); ok {
				nm := make(map[string]any, len(m))
				for mk, mv := range m {
					nm[mk] = stringListForm(mv)
				}
				out[k] = nm
			}
		}
	}
	return out
}

// stringListForm turns a scalar into a one-element list and the scalar elements
// of a list into strings; other shapes stay as they are for validation to report.
func stringListForm(v any) any {
	switch t := v.(type) {
	case string, bool, int64, float64:
		s, _ := scalarText(t)
		return []any{s}
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			if isScalar(e) {
				out[i], _ = scalarText(e)
			} else {
				out[i] = e
			}
		}
		return out
	}
	return v
}

type canonicalWriter struct {
	buf bytes.Buffer
}

func (w *canonicalWriter) indent(n int) {
	w.buf.WriteByte('\n')
	for range n {
		w.buf.WriteString("  ")
	}
}

func (w *canonicalWriter) value(v any, level int) error {
	if level > maxDepth+10 {
		return fmt.Errorf("value nests deeper than %d levels", maxDepth)
	}
	switch t := v.(type) {
	case ordered:
		if len(t) == 0 {
			w.buf.WriteString("{}")
			return nil
		}
		w.buf.WriteByte('{')
		for i, e := range t {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			w.indent(level + 1)
			writeJSONString(&w.buf, e.k)
			w.buf.WriteString(": ")
			if err := w.value(e.v, level+1); err != nil {
				return err
			}
		}
		w.indent(level)
		w.buf.WriteByte('}')
	case map[string]any:
		o := make(ordered, 0, len(t))
		for _, k := range sortedKeys(t) {
			o = append(o, kv{k, t[k]})
		}
		return w.value(o, level)
	case []any:
		if len(t) == 0 {
			w.buf.WriteString("[]")
			return nil
		}
		w.buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			w.indent(level + 1)
			if err := w.value(e, level+1); err != nil {
				return err
			}
		}
		w.indent(level)
		w.buf.WriteByte(']')
	case string:
		writeJSONString(&w.buf, t)
	case bool:
		w.buf.WriteString(strconv.FormatBool(t))
	case int64:
		w.buf.WriteString(strconv.FormatInt(t, 10))
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return fmt.Errorf("the number %v cannot be written as JSON", t)
		}
		w.buf.WriteString(formatNumber(t))
	case nil:
		w.buf.WriteString("null")
	default:
		n := NormalizeValue(t)
		if n == nil {
			return fmt.Errorf("a value of type %T cannot be written as JSON", t)
		}
		return w.value(n, level)
	}
	return nil
}

// writeJSONString writes s as a JSON string without HTML escaping, so that
// scripts keep their < > & readable.
func writeJSONString(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20:
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xF])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString("\uFFFD") // as the parsers read invalid UTF-8, so the form is a fixed point
		case r == '\u2028' || r == '\u2029':
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}
