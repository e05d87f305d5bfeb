package document

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestResolveBoundsValuesBeforeBuildingThem(t *testing.T) {
	kb8 := strings.Repeat("A", 8000)
	list := make([]any, 100_000)
	for i := range list {
		list[i] = "i"
	}
	scope := mapScope{
		"Big":   kb8,
		"List":  list,
		"Map":   map[string]any{"k": strings.Repeat("v", 200_000), "j": strings.Repeat("w", 200_000)},
		"Exact": strings.Repeat("x", MaxValueBytes),
	}
	cases := []struct {
		name string
		in   any
		ok   bool
	}{
		{"a value of exactly the limit", "{{ Exact }}", true},
		{"1,000 interpolations of 8 KB", strings.Repeat("{{ Big }}", 1000), false},
		{"32 interpolations of 8 KB fit", strings.Repeat("{{ Big }}", 32), true},
		{"a list spliced 1,000 times", func() []any {
			l := make([]any, 1000)
			for i := range l {
				l[i] = "{{ List }}"
			}
			return l
		}(), false},
		{"a map placed in text", "x{{ Map }}", false},
		{"whole-template values add up in a map", map[string]any{"a": "{{ Map }}", "b": "{{ Map }}"}, false},
		{"literal text over the limit", strings.Repeat("x", MaxValueBytes+1), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			var err error
			alloc := allocated(func() { got, err = Resolve(tc.in, scope) })
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if n := ValueSize(got); n > MaxValueBytes {
					t.Errorf("result is %d bytes", n)
				}
				return
			}
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, want a *LimitError", err)
			}
			if le.Limit != MaxValueBytes || !strings.Contains(err.Error(), "would be more than 262,144 bytes, the limit for one value once its {{ }} templates are resolved") {
				t.Errorf("error = %v", err)
			}
			// The refused value is never built: what is allocated is what
			// was resolved before it, within the bound (a list element of
			// two bytes of size takes 16 bytes of memory), far below the
			// value it would have been.
			if alloc > 16<<20 {
				t.Errorf("allocated %d bytes before refusing", alloc)
			}
		})
	}
}

func TestResolveNamesTheTemplateThatGoesOver(t *testing.T) {
	_, err := Resolve("a"+strings.Repeat("{{ Big }}", 100), mapScope{"Big": strings.Repeat("A", 8000)})
	want := "with {{ Big }}, the value would be more than 262,144 bytes, the limit for one value once its {{ }} templates are resolved; use fewer or shorter references"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %v\nwant prefix %s", err, want)
	}
}

func TestBudgetBoundsAnInputSet(t *testing.T) {
	scope := mapScope{"P": strings.Repeat("p", 200_000)}
	b := NewBudget(MaxInputSetBytes)
	// Five values of 200,000 bytes fit in 1,048,576; a sixth does not.
	for i := 1; i <= 5; i++ {
		if _, err := b.Resolve("{{ P }}", scope); err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
	}
	_, err := b.Resolve("{{ P }}", scope)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != MaxInputSetBytes {
		t.Fatalf("value 6: got %v, want the set's limit", err)
	}
	if !strings.HasPrefix(err.Error(), "with {{ P }}, the value and the others of its set would be more than 1,048,576 bytes, the limit for a run's parameter values together, or for one step's inputs together") {
		t.Errorf("error = %v", err)
	}
	if err := b.Add(strings.Repeat("x", 100_000)); err == nil {
		t.Error("a given value past the set's limit is accepted")
	}
	if err := b.Add("short"); err != nil {
		t.Errorf("a short value within what is left: %v", err)
	}
	if err := NewBudget(MaxInputSetBytes).Add(strings.Repeat("x", MaxValueBytes+1)); err == nil {
		t.Error("a given value over the limit for one value is accepted")
	}
}

// defaultsBomb is a JSON document whose parameter P0 has an 8-byte default
// and each next parameter's default repeats the one before fan times.
func defaultsBomb(levels, fan int) []byte {
	var b strings.Builder
	b.WriteString(`{"schemaVersion": "0.3", "parameters": {"P0": {"type": "String", "default": "AAAAAAAA"}`)
	for l := 1; l <= levels; l++ {
		b.WriteString(`, "P` + strconv.Itoa(l) + `": {"type": "String", "default": "`)
		b.WriteString(strings.Repeat("{{P"+strconv.Itoa(l-1)+"}}", fan))
		b.WriteString(`"}`)
	}
	b.WriteString(`}, "mainSteps": [{"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}`)
	return []byte(b.String())
}

func TestValidateEstimatesDefaultExpansion(t *testing.T) {
	d, err := ParseJSON(defaultsBomb(3, 1000))
	if err != nil {
		t.Fatal(err)
	}
	ps := Validate(d)
	if len(ps) != 1 {
		t.Fatalf("want one problem (the first level over the bound), got %v", ps)
	}
	p := ps[0]
	want := `line 1, column 6156: parameters.P2.default: the default of parameter "P2" would be about 8,000,000 bytes once its {{ }} references to other parameters are resolved, more than 262,144 bytes, the limit for one value; refer to other parameters fewer times, or to shorter ones`
	if p.Error() != want {
		t.Errorf("got  %s\nwant %s", p.Error(), want)
	}

	// The same document with short values given for P1 and P3 is fine for a run.
	if ps := ExpansionProblems(d, map[string]string{"P1": "x", "P3": "y"}); len(ps) != 0 {
		t.Errorf("with P1 given: %v", ps)
	}
	// A long value given for P0 makes P1 too large.
	ps = ExpansionProblems(d, map[string]string{"P0": strings.Repeat("x", 300), "P2": "y", "P3": "z"})
	if len(ps) != 1 || !strings.Contains(ps[0].Error(), `the default of parameter "P1" would be about 300,000 bytes`) {
		t.Errorf("with a long P0: %v", ps)
	}
	// A given value over the bound is reported without being echoed.
	ps = ExpansionProblems(d, map[string]string{"P0": strings.Repeat("s", 300_000), "P1": "a", "P2": "b", "P3": "c"})
	if len(ps) != 1 || ps[0].Error() != `line 1, column 26: parameters.P0: the value given for parameter "P0" is 300,000 bytes, more than 262,144 bytes, the limit for one value; pass large data by reference (for example an S3 URL)` {
		t.Errorf("with a given value over the bound: %v", ps)
	}
}

func TestValidateEstimatesInputsAndSets(t *testing.T) {
	lit := strings.Repeat("L", 60_000)
	five := `"P0": {"type": "String", "default": "` + lit + `"}`
	for i := 1; i <= 5; i++ {
		five += `, "P` + strconv.Itoa(i) + `": {"type": "String", "default": "{{P0}}{{P0}}{{P0}}{{P0}}"}`
	}
	tests := []struct {
		name, doc, want string
	}{
		{
			name: "parameters together",
			doc: `{"schemaVersion": "0.3", "parameters": {` + five + `},
				"mainSteps": [{"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}`,
			want: "parameters: the parameter values together would be about 1,260,000 bytes once their {{ }} references are resolved, more than 1,048,576 bytes, the limit for a run's parameter values together",
		},
		{
			name: "one input",
			doc: `{"schemaVersion": "0.3", "parameters": {"P": {"type": "String", "default": "` + strings.Repeat("p", 10_000) + `"}},
				"mainSteps": [{"name": "run", "action": "aws:executeScript", "inputs": {"Runtime": "python3.11", "Handler": "h",
				"Script": "` + strings.Repeat("{{ P }}", 30) + `"}}]}`,
			want: `step "run": inputs.Script: input Script would be about 300,000 bytes once its {{ }} references are resolved, more than 262,144 bytes, the limit for one value; refer to parameters fewer times, or to shorter ones`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseJSON([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			ps := Validate(d)
			if len(ps) != 1 || !strings.HasSuffix(ps[0].Error(), tt.want) {
				t.Fatalf("got %v\nwant one problem ending %s", ps, tt.want)
			}
		})
	}
}

func TestValidateLiteralValuesOverTheBound(t *testing.T) {
	// Documents built from HCL are not limited to 64 KB of text.
	d := &Document{SchemaVersion: "0.3",
		Parameters: []Parameter{{Name: "Big", Type: "String", Default: strings.Repeat("b", MaxValueBytes+1), HasDefault: true}},
		MainSteps:  []Step{{Name: "nap", Action: "aws:sleep", Inputs: map[string]any{"Duration": strings.Repeat("P", MaxValueBytes+1)}}},
	}
	got := ExpansionProblems(d, nil)
	want := []string{
		`parameters.Big.default: the default of parameter "Big" is 262,145 bytes, more than 262,144 bytes, the limit for one value; pass large data by reference (for example an S3 URL)`,
	}
	if len(got) != 1 || got[0].Error() != want[0] {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	d.Parameters = nil
	got = ExpansionProblems(d, nil)
	if len(got) != 1 || got[0].Error() != `step "nap": inputs.Duration: input Duration is 262,145 bytes, more than 262,144 bytes, the limit for one value; pass large data by reference (for example an S3 URL)` {
		t.Fatalf("got %v", got)
	}
}

func TestExpansionEstimateSurvivesCycles(t *testing.T) {
	d := &Document{SchemaVersion: "0.3", Parameters: []Parameter{
		{Name: "A", Type: "String", Default: "{{ B }}{{ B }}", HasDefault: true},
		{Name: "B", Type: "String", Default: "{{ A }}{{ A }}", HasDefault: true},
	}}
	if ps := ExpansionProblems(d, nil); len(ps) != 0 {
		t.Errorf("got %v", ps)
	}
}
