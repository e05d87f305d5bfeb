package actions

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The engine hands an action its inputs resolved and coerced to the types the
// catalogue declares (document.Coerce): a String input is a string, a
// StringList a []any of strings, an Integer an int64, a Boolean a bool. These
// read them as such; what an action passes through to an API is bound to the
// SDK's structs (bind.go).

// str returns the String input k ("" when absent).
func str(in map[string]any, k string) string {
	s, _ := in[k].(string)
	return s
}

// strPtr is str as an SDK pointer, nil when empty.
func strPtr(in map[string]any, k string) *string {
	if s := str(in, k); s != "" {
		return aws.String(s)
	}
	return nil
}

// required returns the String input k or an error naming it.
func required(in map[string]any, k string) (string, error) {
	s := str(in, k)
	if s == "" {
		return "", fmt.Errorf("input %s is required", k)
	}
	return s, nil
}

// strList returns the StringList input k, without empty strings.
func strList(in map[string]any, k string) []string {
	l, ok := in[k].([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, _ := e.(string); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// boolean returns the Boolean input k and whether it was given.
func boolean(in map[string]any, k string) (v, given bool) {
	v, given = in[k].(bool)
	return v, given
}

// integer returns the Integer input k and whether it was given.
func integer(in map[string]any, k string) (n int64, given bool) {
	n, given = in[k].(int64)
	return n, given
}
