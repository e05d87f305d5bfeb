package document

import "bytes"

// Parse parses JSON when the first non-space character is '{', YAML otherwise.
// Text over MaxDocumentBytes is refused with a *LimitError before it is read.
func Parse(text []byte) (*Document, error) {
	if err := CheckDocumentSize(len(text)); err != nil {
		return nil, err
	}
	t := bytes.TrimLeft(stripBOM(text), " \t\r\n")
	if len(t) > 0 && t[0] == '{' {
		return ParseJSON(text)
	}
	return ParseYAML(text)
}

// ParseText is Parse for text held in a string: text over MaxDocumentBytes is
// refused before it is copied.
func ParseText(text string) (*Document, error) {
	if err := CheckDocumentSize(len(text)); err != nil {
		return nil, err
	}
	return Parse([]byte(text))
}

func stripBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}
