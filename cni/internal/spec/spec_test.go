package spec

import (
	"errors"
	"testing"
)

func TestCompareVersionsOrdersNumerically(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"0.4.0", "1.1.0", -1}, {"1.1.0", "1.1.0", 0}, {"1.10.0", "1.9.0", 1}, {"1.1", "1.1.0", 0}} {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("%s vs %s: %d", c.a, c.b, got)
		}
	}
	if !IsSupportedVersion("0.3.1") || IsSupportedVersion("0.2.0") {
		t.Error("supported versions")
	}
}

func TestCodeOfIsTheCodeARuntimeSees(t *testing.T) {
	if CodeOf(nil) != 0 || CodeOf(Errorf(InvalidEnv, "x")) != InvalidEnv || CodeOf(errors.New("boom")) != IOFailure {
		t.Error("codes")
	}
}
