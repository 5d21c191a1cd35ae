package jsonx

import "testing"

func TestShowIsJSONStringify(t *testing.T) {
	for _, c := range []struct {
		v       any
		present bool
		want    string
	}{{"a<b>&", true, `"a<b>&"`}, {float64(70000), true, "70000"}, {1.5, true, "1.5"}, {nil, true, "null"}, {nil, false, "undefined"}} {
		if got := Show(c.v, c.present); got != c.want {
			t.Errorf("%v: %s, want %s", c.v, got, c.want)
		}
	}
	if Len("ü€") != 2 || Len("𝄞") != 2 {
		t.Error("UTF-16 length")
	}
}
