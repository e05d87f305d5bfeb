package document

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds on what a document may make the provider hold in memory. A document is
// small, but aliases (YAML) and {{ }} references multiply what it holds: every
// multiplication is measured in bytes, before anything is built, against the
// limits below.
const (
	// MaxDocumentBytes is SSM's limit on the content of a document: "The
	// content of the document must not exceed 64KB" (CreateDocument, request
	// parameter Content, in the AWS Systems Manager API Reference:
	// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html).
	// Document text is refused above it before it is parsed.
	MaxDocumentBytes = 64 * 1024

	// MaxExpandedBytes bounds a YAML document once its aliases are expanded
	// (every *alias is a copy of what its &anchor names): four times
	// MaxDocumentBytes, measured as the bytes of the keys and values reached,
	// plus one byte per value.
	MaxExpandedBytes = 4 * MaxDocumentBytes

	// MaxValueBytes bounds one value once its {{ }} templates are resolved: a
	// parameter value (a given one, or a default that uses other parameters)
	// or a step input, as ValueSize measures it.
	MaxValueBytes = 256 * 1024

	// MaxInputSetBytes bounds the values of one input set together: all the
	// parameter values of a run, or all the inputs of one step execution.
	MaxInputSetBytes = 1024 * 1024

	// MaxAttempts is the most attempts a step may make (maxAttempts). AWS
	// documents maxAttempts as an integer with a default of 1 and states no
	// maximum; this ceiling is a conservative one of our own, well above the
	// 3 that AWS's published runbooks use, so that one step cannot retry for
	// hours (each attempt may last timeoutSeconds).
	MaxAttempts = 10

	// MaxStepExecutions is the most step executions one run makes, counting
	// every step reached again by a jump (nextStep, onFailure, branch) but not
	// the retries of maxAttempts: a run whose jumps loop stops there.
	MaxStepExecutions = 100
)

// LimitError is a document or value over one of the bounds above.
type LimitError struct {
	What    string // what is too large, e.g. "the document"
	Size    int64  // its size in bytes; with AtLeast, the size reached when measuring stopped
	AtLeast bool
	Limit   int64
	Of      string // what the limit is, e.g. "SSM's limit for document content"
	Fix     string // what to do
}

func (e *LimitError) Error() string {
	var b strings.Builder
	b.WriteString(e.What)
	if e.AtLeast {
		b.WriteString(" would be more than ")
		b.WriteString(Bytes(e.Limit))
	} else {
		b.WriteString(" is ")
		b.WriteString(Bytes(e.Size))
		b.WriteString(", more than ")
		b.WriteString(Bytes(e.Limit))
	}
	if e.Of != "" {
		b.WriteString(", ")
		b.WriteString(e.Of)
	}
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// CheckDocumentSize returns a *LimitError for document text of n bytes, more
// than MaxDocumentBytes, and nil otherwise.
func CheckDocumentSize(n int) error {
	if n <= MaxDocumentBytes {
		return nil
	}
	return &LimitError{
		What:  "the document",
		Size:  int64(n),
		Limit: MaxDocumentBytes,
		Of:    "SSM's limit for the content of a document (64 KB)",
		Fix:   "keep large scripts and data out of the document (for example in S3, fetched by a run_command step) or split it into several documents",
	}
}

// Bytes spells a byte count with thousands separators: "65,536 bytes".
func Bytes(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if n == 1 {
		return b.String() + " byte"
	}
	return b.String() + " bytes"
}

// quoteRunes is how much of a value QuoteValue shows.
const quoteRunes = 64

// QuoteValue quotes a user value for a message, Go-style. A value longer than
// 64 characters is cut there and its size follows:
// "ami-0123…"… (10,485,760 bytes). Messages that echo a value from a document
// or configuration go through it, so that no diagnostic repeats a large value
// whole.
func QuoteValue(s string) string {
	n, cut := 0, len(s)
	for i := range s {
		if n == quoteRunes {
			cut = i
			break
		}
		n++
	}
	if cut == len(s) {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:cut]) + "… (" + Bytes(int64(len(s))) + ")"
}

// quoteIfLong shows text that is usually short (a template as written) as it
// is, and through QuoteValue when it is long.
func quoteIfLong(s string) string {
	if len(s) <= quoteRunes && utf8.ValidString(s) {
		return s
	}
	return QuoteValue(s)
}

// ValueSize is the size of a model value as the bounds on values measure it:
// the bytes of its strings (map keys included) and of its numbers and
// booleans as text, plus two bytes for each list or map, one for each element
// or entry, and four for a null. For a string that is its length.
func ValueSize(v any) int64 { return sizeWithin(v, math.MaxInt64) }

// sizeWithin is ValueSize that stops measuring once the size exceeds limit:
// the result is then some number above limit.
func sizeWithin(v any, limit int64) int64 {
	var n int64
	var walk func(v any) bool
	add := func(k int64) bool {
		n = satAdd(n, k)
		return n <= limit
	}
	walk = func(v any) bool {
		switch t := v.(type) {
		case string:
			return add(int64(len(t)))
		case bool, int64, float64, int, float32, int32:
			s, _ := scalarText(NormalizeValue(t))
			return add(int64(len(s)))
		case nil:
			return add(4)
		case []any:
			if !add(2 + int64(len(t))) {
				return false
			}
			for _, e := range t {
				if !walk(e) {
					return false
				}
			}
		case map[string]any:
			if !add(2 + int64(len(t))) {
				return false
			}
			for k, e := range t {
				if !add(int64(len(k))) || !walk(e) {
					return false
				}
			}
		default:
			return walk(NormalizeValue(t))
		}
		return true
	}
	walk(v)
	return n
}

// satAdd adds sizes without overflowing: sums saturate at MaxInt64.
func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
