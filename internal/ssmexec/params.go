package ssmexec

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/amibake/terraform-provider-amibake/internal/document"
)

// Parameters converts the bake's parameter values (text, as Terraform gives
// them) to StartAutomationExecution's Parameters, a map of string lists: a
// StringList's elements one per string, any other type as one string (a
// StringMap or MapList as its JSON text). Parameters not given are left out:
// SSM applies the document's defaults itself, resolving {{ssm:...}}
// references server-side.
func Parameters(doc *document.Document, given map[string]string) (map[string][]string, error) {
	values, problems := document.ParameterValues(doc, given)
	if len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = p.Error()
		}
		return nil, fmt.Errorf("invalid parameters: %s", strings.Join(msgs, "; "))
	}
	types := map[string]string{}
	for _, p := range doc.Parameters {
		types[p.Name] = p.Type
	}
	out := make(map[string][]string, len(given))
	for _, name := range slices.Sorted(maps.Keys(given)) {
		text := given[name]
		switch types[name] {
		case "StringList":
			list, _ := values[name].([]any)
			strs := make([]string, 0, len(list))
			for _, e := range list {
				strs = append(strs, fmt.Sprint(e))
			}
			out[name] = strs
		case "Integer", "Boolean":
			out[name] = []string{strings.TrimSpace(text)}
		default:
			out[name] = []string{text}
		}
	}
	return out, nil
}
