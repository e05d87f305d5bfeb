package document

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 500

// ParseJSON parses an Automation document written in JSON. Every syntax or shape
// error is a *SyntaxError with the line and column where it shows; text over
// MaxDocumentBytes is refused with a *LimitError before it is read.
func ParseJSON(text []byte) (*Document, error) {
	if err := CheckDocumentSize(len(text)); err != nil {
		return nil, err
	}
	root, err := parseJSONNodes(text)
	if err != nil {
		return nil, err
	}
	return decodeDocument(root, false)
}

// jsonParser is a scanner of its own rather than encoding/json so that every
// error knows its line and column and can say what the author most likely meant.
type jsonParser struct {
	src   []byte
	off   int
	line  int
	col   int
	depth int
	path  []string // keys and [i] of the containers being parsed
	step  string   // name of the step being parsed, once seen
}

func parseJSONNodes(text []byte) (*node, error) {
	p := &jsonParser{src: stripBOM(text), line: 1, col: 1}
	if err := p.skipSpace(); err != nil {
		return nil, err
	}
	if p.eof() {
		return nil, syntaxErrorAt(Pos{Line: 1, Column: 1}, "the document is empty")
	}
	root, err := p.value()
	if err != nil {
		return nil, err
	}
	end := p.pos()
	if err := p.skipSpace(); err != nil {
		return nil, err
	}
	if !p.eof() {
		return nil, syntaxErrorAt(p.pos(), "unexpected %s after the end of the document, which closed at line %d, column %d; remove it",
			p.describeHere(), end.Line, end.Column-1)
	}
	return root, nil
}

func (p *jsonParser) eof() bool { return p.off >= len(p.src) }

func (p *jsonParser) pos() Pos { return Pos{Line: p.line, Column: p.col} }

func (p *jsonParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.src[p.off]
}

func (p *jsonParser) advance() {
	if p.eof() {
		return
	}
	c := p.src[p.off]
	if c == '\n' {
		p.line++
		p.col = 1
		p.off++
		return
	}
	if c < utf8.RuneSelf {
		p.off++
	} else {
		_, size := utf8.DecodeRune(p.src[p.off:])
		p.off += size
	}
	p.col++
}

func (p *jsonParser) skipSpace() error {
	for !p.eof() {
		switch p.src[p.off] {
		case ' ', '\t', '\r', '\n':
			p.advance()
		case '/':
			if p.off+1 < len(p.src) && (p.src[p.off+1] == '/' || p.src[p.off+1] == '*') {
				return syntaxErrorAt(p.pos(), "comments are not allowed in JSON; remove the comment (YAML documents may use # comments)")
			}
			return nil
		default:
			return nil
		}
	}
	return nil
}

// describeHere names the text at the current position for messages.
func (p *jsonParser) describeHere() string {
	if p.eof() {
		return "end of text"
	}
	if w := p.word(); w != "" {
		return "text " + QuoteValue(w)
	}
	r, _ := utf8.DecodeRune(p.src[p.off:])
	return fmt.Sprintf("character %q", r)
}

// word returns the identifier-like text at the current position.
func (p *jsonParser) word() string {
	end := p.off
	for end < len(p.src) && end-p.off < 40 && isWordByte(p.src[end]) {
		end++
	}
	return string(p.src[p.off:end])
}

func isWordByte(c byte) bool {
	return c == '_' || c == '.' || c == '-' || c == '+' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func (p *jsonParser) enter(open Pos) error {
	p.depth++
	if p.depth > maxDepth {
		return syntaxErrorAt(open, "the document nests deeper than %d levels", maxDepth)
	}
	return nil
}

func (p *jsonParser) unclosed(n *node) error {
	if n.kind == kindObject {
		return syntaxErrorAt(p.pos(), "the text ends inside the object that starts at line %d, column %d: a closing } is missing",
			n.pos.Line, n.pos.Column)
	}
	return syntaxErrorAt(p.pos(), "the text ends inside the list that starts at line %d, column %d: a closing ] is missing",
		n.pos.Line, n.pos.Column)
}

func (p *jsonParser) value() (*node, error) {
	start := p.pos()
	c := p.peek()
	switch {
	case c == '{':
		return p.object()
	case c == '[':
		return p.list()
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &node{kind: kindString, pos: start, value: s, raw: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == '\'':
		return nil, syntaxErrorAt(start, "strings must be in double quotes (\"), not single quotes (')")
	}
	w := p.word()
	switch w {
	case "true", "false", "null":
		for range w {
			p.advance()
		}
		n := &node{pos: start, raw: w}
		switch w {
		case "true", "false":
			n.kind, n.value = kindBool, w == "true"
		default:
			n.kind = kindNull
		}
		return n, nil
	}
	switch strings.ToLower(w) {
	case "true", "false", "null":
		return nil, syntaxErrorAt(start, "write %s in lower case: %s", w, strings.ToLower(w))
	case "nan", "infinity", "+infinity":
		return nil, syntaxErrorAt(start, "%s is not a JSON number", w)
	}
	if w != "" {
		return nil, syntaxErrorAt(start, "unexpected text %s: a value must be a string in double quotes, a number, true, false, null, an object or a list; if it is a string, write %[1]s", QuoteValue(w))
	}
	if p.eof() {
		return nil, syntaxErrorAt(start, "the text ends where a value belongs")
	}
	return nil, syntaxErrorAt(start, "unexpected %s where a value (string, number, true, false, null, object or list) belongs", p.describeHere())
}

func (p *jsonParser) object() (*node, error) {
	n := &node{kind: kindObject, pos: p.pos()}
	if err := p.enter(n.pos); err != nil {
		return nil, err
	}
	p.advance() // {
	if p.isStepObject() {
		p.step = ""
	}
	seen := map[string]Pos{}
	var comma Pos
	for first := true; ; first = false {
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.eof() {
			return nil, p.unclosed(n)
		}
		c := p.peek()
		if c == '}' {
			if !first {
				return nil, syntaxErrorAt(comma, "a comma (,) before } is not allowed in JSON: remove the comma after the last entry")
			}
			p.advance()
			p.depth--
			return n, nil
		}
		if c != '"' {
			return nil, p.badKey()
		}
		keyPos := p.pos()
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[key]; dup {
			return nil, syntaxErrorAt(keyPos, "the key %s appears twice in this object (first at line %d, column %d); keep only one", QuoteValue(key), prev.Line, prev.Column)
		}
		seen[key] = keyPos
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.eof() {
			return nil, p.unclosed(n)
		}
		if p.peek() != ':' {
			return nil, p.missingColon(key)
		}
		p.advance()
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.eof() {
			return nil, p.unclosed(n)
		}
		if c := p.peek(); c == ',' || c == '}' {
			return nil, syntaxErrorAt(p.pos(), "the value of %s is missing after the colon", QuoteValue(key))
		}
		p.path = append(p.path, key)
		val, err := p.value()
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return nil, err
		}
		if key == "name" && val.kind == kindString && p.isStepObject() {
			p.step = val.value.(string)
		}
		n.fields = append(n.fields, field{key: key, keyPos: keyPos, val: val})
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.eof() {
			return nil, p.unclosed(n)
		}
		switch p.peek() {
		case ',':
			comma = p.pos()
			p.advance()
		case '}':
			p.advance()
			p.depth--
			return n, nil
		case ']':
			return nil, syntaxErrorAt(p.pos(), "this ] does not match: the object that starts at line %d, column %d must be closed with }", n.pos.Line, n.pos.Column)
		case '"':
			return nil, syntaxErrorAt(p.pos(), "a comma (,) is missing after the value of %s (before this key)", QuoteValue(key))
		default:
			return nil, syntaxErrorAt(p.pos(), "expected a comma (,) or } after the value of %s, but found %s", QuoteValue(key), p.describeHere())
		}
	}
}

func (p *jsonParser) badKey() error {
	at := p.pos()
	switch p.peek() {
	case '\'':
		return syntaxErrorAt(at, "keys must be in double quotes (\"), not single quotes (')")
	case ',':
		return syntaxErrorAt(at, "an entry is missing before this comma, or there is one comma too many")
	case ']':
		return syntaxErrorAt(at, "this ] does not match an open list: an object must be closed with }")
	}
	if w := p.word(); w != "" {
		return syntaxErrorAt(at, "keys must be in double quotes: write %s", QuoteValue(w))
	}
	return syntaxErrorAt(at, "expected a key in double quotes (\"...\"), but found %s", p.describeHere())
}

// missingColon explains a key that is not followed by a colon. The common slip is
// a misplaced closing quote ("Value: "x"), which leaves the colon inside the key.
func (p *jsonParser) missingColon(key string) error {
	at := p.pos()
	if i := strings.Index(key, ":"); i >= 0 {
		name := strings.TrimSpace(key[:i])
		return syntaxErrorAt(at, "after the key %s a colon (:) must follow, but the colon is inside the quotes: the closing quote is misplaced; write %s: instead of %[1]s",
			QuoteValue(key), QuoteValue(name))
	}
	return syntaxErrorAt(at, "expected a colon (:) after the key %s, but found %s", QuoteValue(key), p.describeHere())
}

func (p *jsonParser) list() (*node, error) {
	n := &node{kind: kindList, pos: p.pos()}
	if err := p.enter(n.pos); err != nil {
		return nil, err
	}
	p.advance() // [
	var comma Pos
	for i := 0; ; i++ {
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.eof() {
			return nil, p.unclosed(n)
		}
		switch p.peek() {
		case ']':
			if i > 0 {
				return nil, syntaxErrorAt(comma, "a comma (,) before ] is not allowed in JSON: remove the comma after the last element")
			}
			p.advance()
			p.depth--
			return n, nil
		case ',':
			return nil, syntaxErrorAt(p.pos(), "an element is missing before this comma, or there is one comma too many")
		}
		p.path = append(p.path, fmt.Sprintf("[%d]", i))
		val, err := p.value()
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, val)
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.eof() {
			return nil, p.unclosed(n)
		}
		switch p.peek() {
		case ',':
			comma = p.pos()
			p.advance()
		case ']':
			p.advance()
			p.depth--
			return n, nil
		case ':':
			return nil, p.pairInList(n, val)
		case '}':
			return nil, syntaxErrorAt(p.pos(), "this } does not match: the list that starts at line %d, column %d must be closed with ]", n.pos.Line, n.pos.Column)
		default:
			return nil, syntaxErrorAt(p.pos(), "expected a comma (,) or ] after the list element, but found %s", p.describeHere())
		}
	}
}

// pairInList explains `"key": value` found inside [ ... ]: almost always a list
// written where an object belongs.
func (p *jsonParser) pairInList(list, key *node) error {
	if key.kind != kindString {
		return syntaxErrorAt(p.pos(), "a colon (:) cannot follow a list element; a list holds plain values")
	}
	k := key.value.(string)
	where := describePath(p.path, p.step)
	if expectedKind(p.path) == kindObject {
		return syntaxErrorAt(key.pos, "%s must be an object ({ ... }), but a list ([) starts at line %d, column %d and holds the key/value pair %s: ...; write %s with braces instead of brackets",
			where, list.pos.Line, list.pos.Column, QuoteValue(k), fixHint(p.path))
	}
	return syntaxErrorAt(key.pos, "%s: ... is a key/value pair, but it sits in the list ([) that starts at line %d, column %d, and a list holds plain values: if %s is an object, write { ... } instead of [ ... ]; if it is a list of objects, wrap each entry in braces: [ { %[1]s: ... } ]",
		QuoteValue(k), list.pos.Line, list.pos.Column, where)
}

// isStepObject tells whether the object being parsed is an entry of mainSteps.
func (p *jsonParser) isStepObject() bool {
	return len(p.path) == 2 && p.path[0] == "mainSteps"
}

func (p *jsonParser) str() (string, error) {
	start := p.pos()
	p.advance() // opening quote
	var b strings.Builder
	for {
		if p.eof() {
			return "", syntaxErrorAt(start, "the string that starts here is never closed: a closing quote (\") is missing")
		}
		c := p.src[p.off]
		switch {
		case c == '"':
			p.advance()
			return b.String(), nil
		case c == '\\':
			if err := p.escape(&b); err != nil {
				return "", err
			}
		case c == '\n' || c == '\r':
			return "", syntaxErrorAt(start, "the string that starts here has no closing quote (\") before the end of its line")
		case c < 0x20:
			return "", syntaxErrorAt(p.pos(), "control character U+%04X inside a string must be written as an escape (\\u%04x)", c, c)
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			p.advance()
		default:
			r, size := utf8.DecodeRune(p.src[p.off:])
			b.WriteRune(r) // invalid UTF-8 becomes U+FFFD, as encoding/json does
			if size == 0 {
				size = 1
			}
			p.off += size
			p.col++
		}
	}
}

func (p *jsonParser) escape(b *strings.Builder) error {
	at := p.pos()
	p.advance() // backslash
	if p.eof() {
		return syntaxErrorAt(at, "a string ends with an unfinished escape (\\)")
	}
	c := p.src[p.off]
	switch c {
	case '"', '\\', '/':
		b.WriteByte(c)
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'u':
		p.advance()
		r, ok := p.hex4()
		if !ok {
			return syntaxErrorAt(at, "\\u must be followed by four hex digits")
		}
		if utf16.IsSurrogate(r) && p.off+1 < len(p.src) && p.src[p.off] == '\\' && p.src[p.off+1] == 'u' {
			save, saveCol := p.off, p.col
			p.advance()
			p.advance()
			if r2, ok := p.hex4(); ok && utf16.DecodeRune(r, r2) != utf8.RuneError {
				b.WriteRune(utf16.DecodeRune(r, r2))
				return nil
			}
			p.off, p.col = save, saveCol
		}
		if utf16.IsSurrogate(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		return nil
	default:
		return syntaxErrorAt(at, "invalid escape \\%c in a string; write \\\\ for a backslash", rune(c))
	}
	p.advance()
	return nil
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.off+4 > len(p.src) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.src[p.off:p.off+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	for range 4 {
		p.advance()
	}
	return rune(v), true
}

func (p *jsonParser) number() (*node, error) {
	start, begin := p.pos(), p.off
	digits := func() int {
		n := 0
		for !p.eof() && p.src[p.off] >= '0' && p.src[p.off] <= '9' {
			p.advance()
			n++
		}
		return n
	}
	if p.peek() == '-' {
		p.advance()
	}
	if p.peek() == '0' {
		p.advance()
		if c := p.peek(); c >= '0' && c <= '9' {
			return nil, syntaxErrorAt(start, "numbers must not start with 0; write %s", strings.TrimLeft(p.numberText(begin), "0"))
		}
	} else if digits() == 0 {
		return nil, syntaxErrorAt(start, "a number must have digits after the minus sign")
	}
	integral := true
	if p.peek() == '.' {
		integral = false
		p.advance()
		if digits() == 0 {
			return nil, syntaxErrorAt(start, "a digit must follow the decimal point of a number")
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		integral = false
		p.advance()
		if c := p.peek(); c == '+' || c == '-' {
			p.advance()
		}
		if digits() == 0 {
			return nil, syntaxErrorAt(start, "the exponent of a number needs digits")
		}
	}
	raw := string(p.src[begin:p.off])
	n := &node{kind: kindNumber, pos: start, raw: raw}
	if integral {
		if i, err := strconv.ParseInt(raw, 10, 64); err == nil {
			n.value = i
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return nil, syntaxErrorAt(start, "the number %s is too large", raw)
	}
	n.value = normalNumber(f)
	return n, nil
}

func (p *jsonParser) numberText(begin int) string {
	end := p.off
	for end < len(p.src) && isWordByte(p.src[end]) {
		end++
	}
	return string(p.src[begin:end])
}
