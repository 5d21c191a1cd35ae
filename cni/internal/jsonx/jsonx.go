// Package jsonx renders values the way the JavaScript the plugin's contract was first written in does:
// compact JSON without HTML escaping (JSON.stringify), "undefined" for an absent value, string lengths in
// UTF-16 code units (String.length). Pure.
package jsonx

import (
	"bytes"
	"encoding/json"
	"unicode/utf16"
)

// Stringify is compact JSON of v without the HTML escaping encoding/json does by default.
func Stringify(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

// Show is JSON.stringify of a decoded JSON value for messages; "undefined" when absent.
func Show(v any, present bool) string {
	if !present {
		return "undefined"
	}
	s, err := Stringify(v)
	if err != nil {
		return "undefined"
	}
	return s
}

// Len is the length of s in UTF-16 code units.
func Len(s string) int { return len(utf16.Encode([]rune(s))) }

// Object is v as a JSON object (not an array, not null), if it is one.
func Object(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok && m != nil
}

// Truthy is JavaScript's truthiness of a decoded JSON value.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0
	case string:
		return x != ""
	default:
		return true
	}
}

// Space is JavaScript's \s (white space and line terminators, as String.prototype.trim removes them).
func Space(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}
