package document

import (
	"math"
	"sort"
	"strconv"
)

// node is a parsed value with its source position. Both parsers produce nodes so
// that one decoder checks the shape of a document and reports positions the same
// way for JSON and YAML.
type node struct {
	kind   nodeKind
	pos    Pos
	raw    string // source text of a scalar (numbers keep their spelling)
	value  any    // scalars: string, bool, int64, float64 or nil
	fields []field
	items  []*node
}

type field struct {
	key    string
	keyPos Pos
	val    *node
}

type nodeKind int

const (
	kindNull nodeKind = iota
	kindString
	kindNumber
	kindBool
	kindObject
	kindList
)

// describe names a kind for messages.
func (k nodeKind) describe() string {
	switch k {
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "true or false"
	case kindObject:
		return "an object ({ ... })"
	case kindList:
		return "a list ([ ... ])"
	default:
		return "null"
	}
}

func (n *node) lookup(key string) *node {
	for _, f := range n.fields {
		if f.key == key {
			return f.val
		}
	}
	return nil
}

// toValue converts a node to the normalized Go value of the model.
func (n *node) toValue() any {
	switch n.kind {
	case kindObject:
		m := make(map[string]any, len(n.fields))
		for _, f := range n.fields {
			m[f.key] = f.val.toValue()
		}
		return m
	case kindList:
		l := make([]any, len(n.items))
		for i, it := range n.items {
			l[i] = it.toValue()
		}
		return l
	default:
		return n.value
	}
}

// valueToNode is the inverse of toValue, without positions. Validation uses it to
// decode steps nested in values (aws:loop Steps) with the same decoder.
func valueToNode(v any) *node {
	v = NormalizeValue(v)
	switch t := v.(type) {
	case map[string]any:
		n := &node{kind: kindObject}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			n.fields = append(n.fields, field{key: k, val: valueToNode(t[k])})
		}
		return n
	case []any:
		n := &node{kind: kindList}
		for _, it := range t {
			n.items = append(n.items, valueToNode(it))
		}
		return n
	case string:
		return &node{kind: kindString, value: t, raw: t}
	case bool:
		return &node{kind: kindBool, value: t, raw: strconv.FormatBool(t)}
	case int64, float64:
		return &node{kind: kindNumber, value: t, raw: formatNumber(t)}
	default:
		return &node{kind: kindNull}
	}
}

// normalNumber applies the model's number rule: integral values become int64.
func normalNumber(f float64) any {
	if f == math.Trunc(f) && f >= -9.2e18 && f <= 9.2e18 {
		return int64(f)
	}
	return f
}
