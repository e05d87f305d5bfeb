package engine

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// hardSecret has every character that some encoding rewrites: JSON and %q
// escape " and \, encoding/json also & < >, HTML & < > ", URL escaping all of
// them, %+q and ASCII-only JSON everything outside ASCII (é, €, and 😀
// beyond the BMP).
const hardSecret = `p"w&<d>\ é€😀 x`

func TestRedactorEncodings(t *testing.T) {
	r := NewRedactor(hardSecret)
	jsonText := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	asciiJSON := func(s string) string {
		var b strings.Builder
		for _, c := range s {
			switch {
			case c == '"' || c == '\\':
				b.WriteString(`\` + string(c))
			case c > 0xFFFF:
				b.WriteString(`\ud83d\ude00`)
			case c > 0x7F:
				fmt.Fprintf(&b, `\u%04x`, c)
			default:
				b.WriteRune(c)
			}
		}
		return b.String()
	}
	encodings := map[string]string{
		"raw":                      "error: " + hardSecret + ".",
		"encoding/json":            jsonText(map[string]string{"message": "value " + hardSecret}),
		"JSON in JSON":             jsonText(map[string]string{"outputs": jsonText([]string{hardSecret})}),
		"%q":                       fmt.Sprintf("got %q", hardSecret),
		"%+q":                      fmt.Sprintf("got %+q", hardSecret),
		"%q of JSON":               fmt.Sprintf("error=%q", jsonText([]string{hardSecret})),
		"ASCII-only JSON":          `{"v":"` + asciiJSON(hardSecret) + `"}`,
		"URL query":                "https://example.com/?p=" + url.QueryEscape(hardSecret) + "&x=1",
		"URL path":                 "https://example.com/" + url.PathEscape(hardSecret) + "/x",
		"base64":                   "data " + base64.StdEncoding.EncodeToString([]byte(hardSecret)),
		"base64 URL":               "data " + base64.URLEncoding.EncodeToString([]byte(hardSecret)),
		"base64 unpadded":          "data " + base64.RawURLEncoding.EncodeToString([]byte(hardSecret)),
		"HTML":                     "<p>" + html.EscapeString(hardSecret) + "</p>",
		"JSON of a JSON-escaped":   jsonText(`"` + strings.Trim(jsonText(hardSecret), `"`) + `"`),
		"JSON, HTML escapes off":   `{"v":"p\"w&<d>\\ é€😀 x"}`,
		"in a longer word":         "xx" + hardSecret + hardSecret + "yy",
		"Go error of a JSON value": fmt.Sprint(errors.New("invalid: " + jsonText(hardSecret))),
	}
	for name, text := range encodings {
		t.Run(name, func(t *testing.T) {
			got := r.Redact(text)
			if !strings.Contains(got, RedactedValue) {
				t.Errorf("nothing redacted in %s", got)
			}
			for _, part := range []string{"p\"w", `p\"w`, `p\u0022w`, "\\u0026", "&amp;", "&lt;d", "é€", `\u00e9`, "p%22w", "cCJ3"} {
				if strings.Contains(got, part) {
					t.Errorf("%q survives in %s", part, got)
				}
			}
		})
	}
}

func TestRedactorReplacesExactly(t *testing.T) {
	r := NewRedactor("hunter2", "", "a&b")
	for in, want := range map[string]string{
		"":                             "",
		"nothing here":                 "nothing here",
		"pw=hunter2;":                  "pw=(sensitive value);",
		"hunter2hunter2":               "(sensitive value)(sensitive value)",
		`{"pw":"a\u0026b"}`:            `{"pw":"(sensitive value)"}`,
		"x=a%26b":                      "x=(sensitive value)",
		"already (sensitive value) ok": "already (sensitive value) ok",
	} {
		if got := r.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := r.Secrets(); !reflect.DeepEqual(got, []string{"hunter2", "a&b"}) {
		t.Errorf("Secrets() = %q", got)
	}
}

// Overlapping secrets are hidden together: no part of either is left beside
// a placeholder.
func TestRedactorOverlapping(t *testing.T) {
	r := NewRedactor("abcd", "cdef")
	if got := r.Redact("<abcdef>"); got != "<(sensitive value)>" {
		t.Errorf("got %q", got)
	}
	// A secret that occurs in the placeholder's own text does not rewrite it.
	r = NewRedactor("sensitive", "s3cr3t")
	if got := r.Redact(r.Redact("a s3cr3t and sensitive")); got != "a (sensitive value) and (sensitive value)" {
		t.Errorf("got %q", got)
	}
}

func TestRedactorValues(t *testing.T) {
	var none *Redactor
	if got := none.Redact("x"); got != "x" || none.RedactValue(1) != 1 || none.Secrets() != nil {
		t.Error("a nil Redactor must hide nothing")
	}
	none.Add("ignored")
	r := NewRedactor(hardSecret)
	got := r.RedactValue(map[string]any{
		"list":     []any{hardSecret, int64(3)},
		"strings":  []string{"a" + hardSecret},
		"map":      map[string]string{hardSecret: "v"},
		"error":    fmt.Errorf("bad %q", hardSecret),
		"harmless": errors.New("fine"),
	})
	want := map[string]any{
		"list":     []any{RedactedValue, int64(3)},
		"strings":  []string{"a" + RedactedValue},
		"map":      map[string]string{RedactedValue: "v"},
		"error":    "bad \"" + RedactedValue + "\"",
		"harmless": errors.New("fine"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
}
