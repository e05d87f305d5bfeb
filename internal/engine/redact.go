package engine

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
)

// RedactedValue replaces a secret in what a run reports.
const RedactedValue = "(sensitive value)"

// Redactor hides secrets in text that reaches errors, logs, diagnostics and
// state. A secret is found in every form in which it may be written there: as
// it is; escaped for a JSON string (Go's encoding/json, which also writes & < >
// as \u0026 \u003c \u003e, and without that, and with everything outside ASCII
// as \u escapes); quoted like Go's %q and %+q; escaped for URL queries and
// paths; in base64 (standard and URL alphabets, padded or not); escaped for
// HTML; and each textual escape applied to an escaped form once more (JSON in a
// quoted log field). Every occurrence of every form is replaced, overlapping
// ones together, so that no part of a secret survives next to a placeholder.
//
// The zero value and nil hide nothing. A Redactor is safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
	forms   []string // every form of every secret, longest first
}

// NewRedactor returns a Redactor for secrets; empty strings are ignored.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add adds secrets to hide.
func (r *Redactor) Add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, s := range secrets {
		if s == "" || slices.Contains(r.secrets, s) {
			continue
		}
		r.secrets = append(r.secrets, s)
		for _, f := range secretForms(s) {
			if !slices.Contains(r.forms, f) {
				r.forms = append(r.forms, f)
			}
		}
		changed = true
	}
	if changed {
		slices.SortStableFunc(r.forms, func(a, b string) int { return len(b) - len(a) })
	}
}

// Secrets returns the secrets, in the order they were added.
func (r *Redactor) Secrets() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.secrets)
}

// Redact returns s with every form of every secret replaced by RedactedValue.
func (r *Redactor) Redact(s string) string {
	if r == nil || s == "" {
		return s
	}
	r.mu.RLock()
	forms := r.forms
	r.mu.RUnlock()
	if len(forms) == 0 {
		return s
	}
	// Placeholders already in s stay as they are: a secret that happens to
	// occur in the placeholder's own text is not a leak.
	keep := occurrences(s, RedactedValue, nil)
	var hide [][2]int
	for _, f := range forms {
		hide = occurrences(s, f, hide)
	}
	hide = slices.DeleteFunc(hide, func(h [2]int) bool {
		return slices.ContainsFunc(keep, func(k [2]int) bool { return k[0] <= h[0] && h[1] <= k[1] })
	})
	if len(hide) == 0 {
		return s
	}
	slices.SortFunc(hide, func(a, b [2]int) int { return a[0] - b[0] })
	var b strings.Builder
	pos := 0
	for i := 0; i < len(hide); {
		start, end := hide[i][0], hide[i][1]
		for i++; i < len(hide) && hide[i][0] < end; i++ {
			end = max(end, hide[i][1])
		}
		b.WriteString(s[pos:start])
		b.WriteString(RedactedValue)
		pos = end
	}
	b.WriteString(s[pos:])
	return b.String()
}

// occurrences appends to spans the byte ranges of every occurrence of sub in s,
// overlapping ones included.
func occurrences(s, sub string, spans [][2]int) [][2]int {
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], sub)
		if j < 0 {
			break
		}
		start := i + j
		spans = append(spans, [2]int{start, start + len(sub)})
		i = start + 1
	}
	return spans
}

// RedactValue returns v with secrets hidden in every string inside it, map
// keys included. Errors and Stringers whose text holds a secret become the
// redacted text; other values are returned as they are.
func (r *Redactor) RedactValue(v any) any {
	if r == nil {
		return v
	}
	switch t := v.(type) {
	case string:
		return r.Redact(t)
	case []string:
		out := make([]string, len(t))
		for i, s := range t {
			out[i] = r.Redact(s)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = r.RedactValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[r.Redact(k)] = r.RedactValue(e)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(t))
		for k, e := range t {
			out[r.Redact(k)] = r.Redact(e)
		}
		return out
	case error:
		if s := t.Error(); r.Redact(s) != s {
			return r.Redact(s)
		}
	case fmt.Stringer:
		if s := t.String(); r.Redact(s) != s {
			return r.Redact(s)
		}
	}
	return v
}

// escape is one way a string is written inside other text.
type escape func(string) string

// textEscapes are the escapes applied to a form once more.
var textEscapes = []escape{jsonEscape, jsonEscapePlain, jsonEscapeASCII, goQuote, goQuoteASCII, html.EscapeString}

// allEscapes are the escapes applied to a secret.
var allEscapes = append(slices.Clone(textEscapes),
	url.QueryEscape, url.PathEscape,
	base64Escape(base64.StdEncoding), base64Escape(base64.URLEncoding),
	base64Escape(base64.RawStdEncoding), base64Escape(base64.RawURLEncoding),
)

func base64Escape(enc *base64.Encoding) escape {
	return func(s string) string { return enc.EncodeToString([]byte(s)) }
}

// secretForms lists s and its escaped forms, without duplicates.
func secretForms(s string) []string {
	forms := []string{s}
	add := func(f string) {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	for _, e := range allEscapes {
		first := e(s)
		add(first)
		for _, e2 := range textEscapes {
			add(e2(first))
		}
	}
	return forms
}

// jsonEscape is s inside a JSON string as encoding/json writes it.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// jsonEscapePlain is s inside a JSON string without the HTML-safe escapes of
// & < >.
func jsonEscapePlain(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return string(b[1 : len(b)-1])
}

// jsonEscapeASCII is s inside a JSON string with everything outside ASCII
// escaped as \uXXXX (UTF-16, surrogate pairs beyond the BMP), as many
// encoders other than Go's write it.
func jsonEscapeASCII(s string) string {
	var b strings.Builder
	for _, r := range jsonEscapePlain(s) {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// goQuote is s inside Go's %q.
func goQuote(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// goQuoteASCII is s inside Go's %+q.
func goQuoteASCII(s string) string {
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}
