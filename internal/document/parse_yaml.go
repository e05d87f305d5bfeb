package document

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxYAMLValues bounds alias expansion ("billion laughs"); SSM documents are
// far smaller (64 KB of content).
const maxYAMLValues = 100_000

// ParseYAML parses an Automation document written in YAML. Syntax and shape
// errors are *SyntaxError values with line and column; text over
// MaxDocumentBytes is refused with a *LimitError before it is read.
func ParseYAML(text []byte) (*Document, error) {
	if err := CheckDocumentSize(len(text)); err != nil {
		return nil, err
	}
	root, err := parseYAMLNodes(text)
	if err != nil {
		return nil, err
	}
	return decodeDocument(root, true)
}

func parseYAMLNodes(text []byte) (root *node, err error) {
	// The YAML library has panicked on hostile input in the past; a document
	// must never take the provider down.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &SyntaxError{Line: 1, Column: 1, Msg: fmt.Sprintf("the YAML parser cannot read this text (%v)", r)}
		}
	}()
	text = stripBOM(text)
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &SyntaxError{Line: 1, Column: 1, Msg: "the document is empty"}
		}
		return nil, yamlSyntaxError(text, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, syntaxErrorAt(Pos{Line: extra.Line, Column: extra.Column},
			"a second YAML document starts here (---); an Automation document is one YAML document: remove the --- line and what follows, or make it a separate document")
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlSyntaxError(text, err)
	}
	if err := checkAliasExpansion(&doc); err != nil {
		return nil, err
	}
	c := &yamlConverter{}
	return c.convert(&doc, 0)
}

// checkAliasExpansion measures the document as it would be with every alias
// replaced by a copy of what it names, without making the copies: the expanded
// size of each node is computed once and reused wherever an alias names it, so
// the check takes time and memory in proportion to the text. It fails at the
// alias that takes the expanded size over MaxExpandedBytes, or at an alias
// that names a value containing it.
func checkAliasExpansion(doc *yaml.Node) error {
	s := &aliasSizer{memo: map[*yaml.Node]int64{}, open: map[*yaml.Node]bool{}}
	return s.walk(doc, 0)
}

type aliasSizer struct {
	memo  map[*yaml.Node]int64 // expanded size of nodes measured so far
	open  map[*yaml.Node]bool  // nodes being measured (an alias to one is a cycle)
	total int64                // expanded size of the document up to the walk's position
}

// walk adds up the document in order: nodes written in the text count once,
// aliases count the expanded size of what they name.
func (s *aliasSizer) walk(y *yaml.Node, depth int) error {
	if depth > maxDepth {
		return syntaxErrorAt(Pos{Line: y.Line, Column: y.Column}, "the document nests deeper than %d levels", maxDepth)
	}
	if y.Kind == yaml.AliasNode {
		if y.Alias == nil {
			return nil // reported by the converter
		}
		n, err := s.size(y.Alias, y, depth)
		if err != nil {
			return err
		}
		s.total = satAdd(s.total, n)
		if s.total > MaxExpandedBytes {
			return syntaxErrorAt(Pos{Line: y.Line, Column: y.Column},
				"the alias *%s makes the document more than %s once aliases are expanded (too many aliases, or aliases of long values; the limit is 4 times SSM's 64 KB document limit): "+
					"write the values out, or repeat less", y.Value, Bytes(MaxExpandedBytes))
		}
		return nil
	}
	s.total = satAdd(s.total, int64(len(y.Value))+1)
	s.open[y] = true
	defer delete(s.open, y)
	for _, c := range y.Content {
		if err := s.walk(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// size is the expanded size of y, reached through the alias at. Sizes saturate
// a little above the bound, where the walk stops anyway.
func (s *aliasSizer) size(y, at *yaml.Node, depth int) (int64, error) {
	if n, ok := s.memo[y]; ok {
		return n, nil
	}
	pos := Pos{Line: at.Line, Column: at.Column}
	if s.open[y] {
		return 0, syntaxErrorAt(pos, "the alias *%s names a value that contains this alias, which would make it endless", at.Value)
	}
	if depth > maxDepth {
		return 0, syntaxErrorAt(pos, "the document nests deeper than %d levels once aliases are expanded", maxDepth)
	}
	s.open[y] = true
	defer delete(s.open, y)
	n := int64(len(y.Value)) + 1
	if y.Kind == yaml.AliasNode && y.Alias != nil {
		m, err := s.size(y.Alias, y, depth+1)
		if err != nil {
			return 0, err
		}
		n = m
	}
	for _, c := range y.Content {
		target, via := c, at
		if c.Kind == yaml.AliasNode {
			if c.Alias == nil {
				continue
			}
			target, via = c.Alias, c
		}
		m, err := s.size(target, via, depth+1)
		if err != nil {
			return 0, err
		}
		n = satAdd(n, m)
		if n > MaxExpandedBytes {
			break
		}
	}
	s.memo[y] = n
	return n, nil
}

type yamlConverter struct {
	count int
}

func (c *yamlConverter) convert(y *yaml.Node, depth int) (*node, error) {
	at := Pos{Line: y.Line, Column: y.Column}
	c.count++
	if c.count > maxYAMLValues {
		return nil, syntaxErrorAt(at, "the document expands to more than %d values (too many aliases)", maxYAMLValues)
	}
	if depth > maxDepth {
		return nil, syntaxErrorAt(at, "the document nests deeper than %d levels (or an alias refers to itself)", maxDepth)
	}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return nil, syntaxErrorAt(at, "the document is empty")
		}
		return c.convert(y.Content[0], depth+1)
	case yaml.AliasNode:
		if y.Alias == nil {
			return nil, syntaxErrorAt(at, "unknown alias *%s", y.Value)
		}
		n, err := c.convert(y.Alias, depth+1)
		if err != nil {
			return nil, err
		}
		moved := *n
		moved.pos = at
		return &moved, nil
	case yaml.SequenceNode:
		n := &node{kind: kindList, pos: at}
		for _, it := range y.Content {
			v, err := c.convert(it, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
		return n, nil
	case yaml.MappingNode:
		return c.mapping(y, depth)
	case yaml.ScalarNode:
		return c.scalar(y)
	}
	return nil, syntaxErrorAt(at, "unsupported YAML construct")
}

func (c *yamlConverter) mapping(y *yaml.Node, depth int) (*node, error) {
	n := &node{kind: kindObject, pos: Pos{Line: y.Line, Column: y.Column}}
	seen := map[string]Pos{}
	var merged []field
	for i := 0; i+1 < len(y.Content); i += 2 {
		k, v := y.Content[i], y.Content[i+1]
		keyPos := Pos{Line: k.Line, Column: k.Column}
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			return nil, syntaxErrorAt(keyPos, "a key must be a plain value, not a list or a mapping")
		}
		if k.ShortTag() == "!!merge" {
			fs, err := c.merge(v, depth)
			if err != nil {
				return nil, err
			}
			merged = append(merged, fs...)
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			return nil, syntaxErrorAt(keyPos, "the key %s appears twice in this mapping (first at line %d, column %d); keep only one", QuoteValue(k.Value), prev.Line, prev.Column)
		}
		seen[k.Value] = keyPos
		val, err := c.convert(v, depth+1)
		if err != nil {
			return nil, err
		}
		n.fields = append(n.fields, field{key: k.Value, keyPos: keyPos, val: val})
	}
	// Keys written in the mapping win over merged ones ("<<: *defaults").
	for _, f := range merged {
		if _, dup := seen[f.key]; !dup {
			seen[f.key] = f.keyPos
			n.fields = append(n.fields, f)
		}
	}
	return n, nil
}

func (c *yamlConverter) merge(v *yaml.Node, depth int) ([]field, error) {
	m, err := c.convert(v, depth+1)
	if err != nil {
		return nil, err
	}
	switch m.kind {
	case kindObject:
		return m.fields, nil
	case kindList:
		var out []field
		for _, it := range m.items {
			if it.kind != kindObject {
				return nil, syntaxErrorAt(it.pos, "a merge key (<<) takes mappings only")
			}
			out = append(out, it.fields...)
		}
		return out, nil
	}
	return nil, syntaxErrorAt(m.pos, "a merge key (<<) takes a mapping or a list of mappings")
}

func (c *yamlConverter) scalar(y *yaml.Node) (*node, error) {
	at := Pos{Line: y.Line, Column: y.Column}
	n := &node{kind: kindString, pos: at, raw: y.Value, value: y.Value}
	switch y.ShortTag() {
	case "!!null":
		n.kind, n.value = kindNull, nil
	case "!!bool":
		var b bool
		if err := y.Decode(&b); err != nil {
			return nil, syntaxErrorAt(at, "%s is not a boolean", QuoteValue(y.Value))
		}
		n.kind, n.value = kindBool, b
	case "!!int":
		var i int64
		if err := y.Decode(&i); err == nil {
			n.kind, n.value = kindNumber, i
			break
		}
		var f float64
		if err := y.Decode(&f); err != nil {
			return nil, syntaxErrorAt(at, "%s is not a number YAML can read", QuoteValue(y.Value))
		}
		n.kind, n.value = kindNumber, normalNumber(f)
	case "!!float":
		var f float64
		if err := y.Decode(&f); err != nil {
			return nil, syntaxErrorAt(at, "%s is not a number YAML can read", QuoteValue(y.Value))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, syntaxErrorAt(at, "%s cannot be represented in an SSM document; quote it if it is text", quoteIfLong(y.Value))
		}
		n.kind, n.value = kindNumber, normalNumber(f)
	}
	// Other tags (!!str, !!timestamp, !!binary, custom ones) keep their text.
	return n, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlSyntaxError turns a yaml.v3 error into a SyntaxError with a plain-words
// explanation. The library reports lines only; the column is that of the first
// character on the line.
func yamlSyntaxError(text []byte, err error) error {
	msg := err.Error()
	m := yamlLineRE.FindStringSubmatch(msg)
	if m == nil {
		return &SyntaxError{Line: 1, Column: 1, Msg: strings.TrimPrefix(msg, "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	lineText := sourceLine(text, line)
	col := 1
	for _, r := range lineText {
		if r != ' ' && r != '\t' {
			break
		}
		col++
	}
	if col > len([]rune(lineText)) {
		col = 1
	}
	return &SyntaxError{Line: max(line, 1), Column: col, Msg: friendlyYAML(m[2], lineText)}
}

func sourceLine(text []byte, line int) string {
	lines := strings.Split(string(text), "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	return strings.TrimRight(lines[line-1], "\r")
}

func friendlyYAML(msg, lineText string) string {
	indentTab := strings.Contains(lineText[:len(lineText)-len(strings.TrimLeft(lineText, " \t"))], "\t")
	var plain string
	switch {
	case indentTab || strings.Contains(msg, "tab character"):
		plain = "YAML does not allow tabs for indentation; indent with spaces"
	case strings.Contains(msg, "mapping values are not allowed"):
		plain = `a colon followed by a space (": ") cannot appear here: if it is part of a value, put the value in quotes; otherwise check the indentation of this line`
	case strings.Contains(msg, "did not find expected key"):
		plain = "this line is not indented like the keys around it, or a quote or bracket opened above is not closed"
	case strings.Contains(msg, "could not find expected ':'"):
		plain = "a key here is missing its colon (:), or a quoted value is not closed"
	case strings.Contains(msg, "found character that cannot start any token"):
		plain = "a value here starts with a character YAML reserves (such as @ or `): put the value in quotes"
	case strings.Contains(msg, "block sequence entries are not allowed"):
		plain = "a list item (- ...) cannot start here: check the indentation, or put the value in quotes"
	case strings.Contains(msg, "did not find expected ',' or ']'"):
		plain = "a list in brackets ([ ... ]) is not closed: a comma (,) or ] is missing"
	case strings.Contains(msg, "did not find expected ',' or '}'"):
		plain = "a mapping in braces ({ ... }) is not closed: a comma (,) or } is missing"
	case strings.Contains(msg, "found unexpected end of stream"):
		plain = "the text ends inside a quoted value or a bracket that is not closed"
	case strings.Contains(msg, "did not find expected node content"):
		plain = "a value is missing or malformed here"
	case strings.Contains(msg, "did not find expected '-' indicator"):
		plain = "this line is not indented like the list items around it"
	}
	if plain == "" {
		return msg
	}
	return plain + " (YAML parser: " + msg + ")"
}
