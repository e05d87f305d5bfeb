package document

import (
	"encoding/json"
	"reflect"
	"testing"
)

// NormalizeValue turns what decoders, SDK responses and actions hand over
// into the model's values.
func TestNormalizeValue(t *testing.T) {
	s := "x"
	var nilString *string
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"json integer", json.Number("42"), int64(42)},
		{"json fraction", json.Number("2.5"), 2.5},
		{"json big integer", json.Number("1e30"), 1e30},
		{"whole float", 3.0, int64(3)},
		{"int kinds", []any{int(1), int32(2), uint8(3)}, []any{int64(1), int64(2), int64(3)}},
		{"strings", []string{"a", "b"}, []any{"a", "b"}},
		{"string map", map[string]string{"k": "v"}, map[string]any{"k": "v"}},
		{"list of string maps", []map[string]string{{"k": "v"}}, []any{map[string]any{"k": "v"}}},
		{"pointers", map[string]any{"s": &s, "nil": nilString}, map[string]any{"s": "x", "nil": nil}},
		{"nested json", map[string]any{"l": []any{json.Number("1"), map[string]any{"f": json.Number("0.5")}}},
			map[string]any{"l": []any{int64(1), map[string]any{"f": 0.5}}}},
		{"unknown kind", struct{}{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizeValue(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NormalizeValue(%#v) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
	// A copy: changing it leaves the original alone.
	orig := map[string]any{"l": []any{"a"}}
	cp := NormalizeValue(orig).(map[string]any)
	cp["l"].([]any)[0] = "b"
	if orig["l"].([]any)[0] != "a" {
		t.Error("NormalizeValue shares its input's lists")
	}
}
