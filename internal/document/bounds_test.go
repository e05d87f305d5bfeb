package document

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestQuoteValue(t *testing.T) {
	long := strings.Repeat("a", 10<<20)
	tests := []struct {
		name, in, want string
	}{
		{"short", "ami-123", `"ami-123"`},
		{"empty", "", `""`},
		{"exactly 64", strings.Repeat("x", 64), `"` + strings.Repeat("x", 64) + `"`},
		{"65 characters", strings.Repeat("x", 65), `"` + strings.Repeat("x", 64) + `"… (65 bytes)`},
		{"10 MB", long, `"` + strings.Repeat("a", 64) + `"… (10,485,760 bytes)`},
		{"cut between runes, not bytes", strings.Repeat("é", 100), `"` + strings.Repeat("é", 64) + `"… (200 bytes)`},
		{"control characters are escaped", "a\nb", `"a\nb"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := QuoteValue(tt.in); got != tt.want {
				t.Errorf("QuoteValue = %s, want %s", clip(got, 200), clip(tt.want, 200))
			}
		})
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1: "1 byte", 999: "999 bytes", 1000: "1,000 bytes", 65536: "65,536 bytes", 52428800: "52,428,800 bytes", -1234: "-1,234 bytes"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestValueSize(t *testing.T) {
	tests := []struct {
		v    any
		want int64
	}{
		{"abc", 3},
		{int64(12), 2},
		{true, 4},
		{nil, 4},
		{[]any{}, 2},
		{[]any{"a", "b"}, 6},
		{map[string]any{"k": "v"}, 5},
		{map[string]any{"a": int64(1), "b": nil}, 11},
		{[]string{"a"}, 4},
	}
	for _, tt := range tests {
		if got := ValueSize(tt.v); got != tt.want {
			t.Errorf("ValueSize(%#v) = %d, want %d", tt.v, got, tt.want)
		}
	}
	if got := sizeWithin([]any{strings.Repeat("x", 100), strings.Repeat("x", 100)}, 50); got <= 50 || got > 200 {
		t.Errorf("sizeWithin stops above the limit, got %d", got)
	}
}

func TestParseRefusesDocumentsOver64KB(t *testing.T) {
	pad := func(n int) []byte {
		head := `{"schemaVersion": "0.3", "description": "`
		tail := `", "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}`
		return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
	}
	yamlPad := func(n int) []byte {
		head := "schemaVersion: '0.3'\nmainSteps:\n- {name: s, action: 'aws:sleep', inputs: {Duration: PT1S}}\ndescription: "
		return []byte(head + strings.Repeat("x", n-len(head)))
	}
	parseText := func(b []byte) (*Document, error) { return ParseText(string(b)) }
	parsers := map[string]func([]byte) (*Document, error){"Parse": Parse, "ParseJSON": ParseJSON, "ParseYAML": ParseYAML, "ParseText": parseText}
	for name, parse := range parsers {
		t.Run(name, func(t *testing.T) {
			at := pad(MaxDocumentBytes)
			if name == "ParseYAML" {
				at = yamlPad(MaxDocumentBytes)
			}
			if len(at) != 65536 {
				t.Fatalf("test document is %d bytes", len(at))
			}
			if _, err := parse(at); err != nil {
				t.Errorf("a document of exactly 64 KB: %v", err)
			}
			over := append(at, ' ')
			_, err := parse(over)
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("a document of 65,537 bytes: got %v, want a *LimitError", err)
			}
			want := "the document is 65,537 bytes, more than 65,536 bytes, SSM's limit for the content of a document (64 KB); keep large scripts"
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error = %s\nwant it to start with %s", err, want)
			}
		})
	}
}

// yamlAliasDocument is a valid document whose files hold a string of
// strBytes anchored once and multiplied through three levels of aliases:
// k1 copies, k2 copies of those, k3 copies of those.
func yamlAliasDocument(strBytes, k1, k2, k3 int) []byte {
	var b strings.Builder
	b.WriteString("schemaVersion: '0.3'\nmainSteps:\n- name: s\n  action: aws:sleep\n  inputs: {Duration: PT1S}\nfiles:\n")
	b.WriteString("  a: &a \"" + strings.Repeat("A", strBytes) + "\"\n")
	level := func(name, ref string, k int) {
		b.WriteString("  " + name + ": &" + name + " [")
		for i := 0; i < k; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("*" + ref)
		}
		b.WriteString("]\n")
	}
	level("b", "a", k1)
	level("c", "b", k2)
	level("d", "c", k3)
	return []byte(b.String())
}

func TestParseYAMLBoundsAliasExpansionInBytes(t *testing.T) {
	tests := []struct {
		name       string
		text       []byte
		line, col  int
		wantPrefix string
	}{
		{
			// 1,000 bytes in 100 + 100×10 copies: about 1.1 MB. The
			// list b (100 KB) fits; the second *b in c goes over.
			name: "long string through few aliases",
			text: yamlAliasDocument(1000, 100, 10, 0),
			line: 9, col: 13,
			wantPrefix: "the alias *b makes the document more than 262,144 bytes once aliases are expanded",
		},
		{
			name: "alias inside its own anchor",
			text: []byte("schemaVersion: '0.3'\nfiles:\n  a: &x [1, *x]\n"),
			line: 3, col: 13,
			wantPrefix: "the alias *x names a value that contains this alias",
		},
		{
			name: "alias of a mapping that holds the alias",
			text: []byte("files: &f\n  k: [*f]\n"),
			line: 2, col: 7,
			wantPrefix: "the alias *f names a value that contains this alias",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseYAML(tt.text)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SyntaxError", err)
			}
			if !strings.HasPrefix(se.Msg, tt.wantPrefix) {
				t.Errorf("message = %s\nwant prefix %s", se.Msg, tt.wantPrefix)
			}
			if se.Line != tt.line || (tt.col > 0 && se.Column != tt.col) {
				t.Errorf("position = %d:%d, want %d:%d", se.Line, se.Column, tt.line, tt.col)
			}
		})
	}
}

func TestParseYAMLAllowsAliasesWithinTheBound(t *testing.T) {
	// 1,000 bytes copied 50 + 3×50 times: about 200 KB expanded, under the bound.
	d, err := ParseYAML(yamlAliasDocument(1000, 50, 3, 0))
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := d.Files["c"].([]any); !ok || len(l) != 3 {
		t.Fatalf("files.c = %#v", d.Files["c"])
	}
	// Merge keys and aliased keys still work.
	if _, err := ParseYAML([]byte("schemaVersion: '0.3'\nfiles:\n  base: &b {k: v}\n  x: {<<: *b, j: w}\n  &key y: 1\n  z: {*key : 2}\n")); err != nil {
		t.Fatal(err)
	}
}

func TestValidateMaxAttemptsCeiling(t *testing.T) {
	for _, n := range []int{1, 3, MaxAttempts, MaxAttempts + 1, 1_000_000} {
		d, err := ParseJSON([]byte(`{"schemaVersion": "0.3", "mainSteps": [{"name": "nap", "action": "aws:sleep", "maxAttempts": ` +
			strconv.Itoa(n) + `, "inputs": {"Duration": "PT1S"}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		ps := Validate(d)
		if n <= MaxAttempts {
			if len(ps) != 0 {
				t.Errorf("maxAttempts %d: %v", n, ps)
			}
			continue
		}
		want := `line 1, column 79: step "nap": maxAttempts: maxAttempts is ` + strconv.Itoa(n) +
			`, more than 10, the most attempts a step may make; retry fewer times, or give the step a longer timeoutSeconds`
		if len(ps) != 1 || ps[0].Error() != want || ps[0].StepIndex != 0 {
			t.Errorf("maxAttempts %d: got %v\nwant %s", n, ps, want)
		}
	}
}

// TestMessagesDoNotEchoLongValues puts one long value in each place a message
// quotes, and checks that no parse error or problem repeats it.
func TestMessagesDoNotEchoLongValues(t *testing.T) {
	long := strings.Repeat("z", 50_000)
	step := func(fields string) string {
		return `{"schemaVersion": "0.3", "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}` + fields + `}]}`
	}
	docs := map[string]string{
		"step name":                  `{"schemaVersion": "0.3", "mainSteps": [{"name": "` + long + `-", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}`,
		"action":                     `{"schemaVersion": "0.3", "mainSteps": [{"name": "s", "action": "` + long + `"}]}`,
		"schemaVersion":              `{"schemaVersion": "` + long + `", "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}`,
		"onFailure":                  step(`, "onFailure": "` + long + `"`),
		"nextStep":                   step(`, "nextStep": "` + long + `"`),
		"unknown step field":         step(`, "` + long + `": 1`),
		"unknown top-level key":      `{"` + long + `": 1}`,
		"duration":                   `{"schemaVersion": "0.3", "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "` + long + `"}}]}`,
		"enum value":                 `{"schemaVersion": "0.3", "mainSteps": [{"name": "s", "action": "aws:changeInstanceState", "inputs": {"InstanceIds": ["i-1"], "DesiredState": "` + long + `"}}]}`,
		"unclosed template":          `{"schemaVersion": "0.3", "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "{{ ` + long + `"}}]}`,
		"long template name":         `{"schemaVersion": "0.3", "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "{{ ` + long + ` }}"}}]}`,
		"allowedPattern":             `{"schemaVersion": "0.3", "parameters": {"P": {"type": "String", "allowedPattern": "(` + long + `"}}, "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}`,
		"parameter type":             `{"schemaVersion": "0.3", "parameters": {"P": {"type": "` + long + `"}}, "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}`,
		"outputs entry":              `{"schemaVersion": "0.3", "outputs": ["` + long + `"], "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}`,
		"duplicate key":              `{"schemaVersion": "0.3", "files": {"` + long + `": 1, "` + long + `": 2}}`,
		"unquoted word":              `{"schemaVersion": ` + long + `}`,
		"key missing its colon":      `{"` + long + `" 1}`,
		"yaml duplicate key":         "files:\n  " + long + ": 1\n  " + long + ": 2\n",
		"yaml bad float":             "files:\n  x: !!float " + long + "\n",
		"output selector":            `{"schemaVersion": "0.3", "mainSteps": [{"name": "s", "action": "aws:executeAwsApi", "inputs": {"Service": "ec2", "Api": "DescribeImages"}, "outputs": [{"Name": "o", "Selector": "` + long + `", "Type": "String"}]}]}`,
		"unknown input of an action": `{"schemaVersion": "0.3", "mainSteps": [{"name": "s", "action": "aws:sleep", "inputs": {"` + long + `": 1}}]}`,
	}
	for name, text := range docs {
		t.Run(name, func(t *testing.T) {
			d, err := Parse([]byte(text))
			var msgs []string
			if err != nil {
				msgs = append(msgs, err.Error())
			} else {
				for _, p := range Validate(d) {
					msgs = append(msgs, p.Error())
				}
			}
			if len(msgs) == 0 {
				t.Fatal("no error and no problem")
			}
			for _, m := range msgs {
				if len(m) > 2000 {
					t.Errorf("message of %d bytes: %s", len(m), clip(m, 300))
				}
			}
		})
	}
}

// TestBombsAreRefusedCheaply builds the documents that exhausted memory
// before the bounds, and checks that each is refused with little memory. Wall
// time is logged; the limit asserted on it is generous, for loaded machines.
func TestBombsAreRefusedCheaply(t *testing.T) {
	bombs := []struct {
		name string
		text []byte
		want string
	}{
		// A 54,000-byte string behind 100 aliases, 100 aliases of those and 9
		// of those: 5.5 GB once expanded.
		{"YAML aliases of a long string", yamlAliasDocument(54_000, 100, 100, 9), "line 8, column 19: the alias *a makes the document more than 262,144 bytes once aliases are expanded"},
		// P3 repeats P2 a thousand times, which repeats P1 a thousand times...: 8 GB resolved.
		{"parameter defaults that repeat each other", defaultsBomb(3, 1000), `the default of parameter "P2" would be about 8,000,000 bytes`},
		{"50 MB of JSON", []byte(`{"schemaVersion": "0.3", "description": "` + strings.Repeat("x", 50<<20) + `"}`), "the document is 52,428,843 bytes, more than 65,536 bytes"},
	}
	for _, b := range bombs {
		t.Run(b.name, func(t *testing.T) {
			var msgs []string
			text := string(b.text)
			start := time.Now()
			alloc := allocated(func() {
				d, err := ParseText(text)
				if err != nil {
					msgs = append(msgs, err.Error())
					return
				}
				for _, p := range Validate(d) {
					msgs = append(msgs, p.Error())
				}
				_, _ = d.CanonicalJSON()
			})
			elapsed := time.Since(start)
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			t.Logf("%d bytes refused in %v, %d KB allocated, %d KB heap in use", len(b.text), elapsed, alloc>>10, ms.HeapInuse>>10)
			if len(msgs) == 0 || !strings.Contains(strings.Join(msgs, "\n"), b.want) {
				t.Fatalf("messages %q\nwant one containing %s", msgs, b.want)
			}
			if alloc > 200<<20 || ms.HeapInuse > 200<<20+uint64(len(b.text)) {
				t.Errorf("allocated %d bytes, %d in use: want under 200 MB", alloc, ms.HeapInuse)
			}
			if elapsed > 20*time.Second {
				t.Errorf("took %v", elapsed)
			}
		})
	}
}
