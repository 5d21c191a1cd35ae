package config

import (
	"encoding/json"
	"errors"
	"testing"

	"vxmesh.io/cni/internal/spec"
)

func conf(t *testing.T, over map[string]any) string {
	t.Helper()
	m := map[string]any{"cniVersion": "1.0.0", "name": "blue", "type": "vxmesh-cni", "vni": 100, "mtu": 1450}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseTakesThePluginEntry(t *testing.T) {
	c, err := Parse(conf(t, map[string]any{"runtimeConfig": map[string]any{"mac": "02:00:0A:00:01:01"}}))
	if err != nil {
		t.Fatal(err)
	}
	if c.CNIVersion != "1.0.0" || c.Name != "blue" || c.VNI != 100 || c.MTU != 1450 || c.Bridge != "vxb100" || c.RuntimeMAC != "02:00:0A:00:01:01" || c.HasPrev {
		t.Fatalf("parsed %+v", c)
	}
}

func TestParseRefusesWithTheCodesARuntimeSees(t *testing.T) {
	cases := []struct {
		name  string
		stdin string
		code  int
		msg   string
	}{
		{"valid (positive control)", conf(t, nil), 0, ""},
		{"undecodable", `{"cniVersion": `, spec.DecodeFailure, "cannot decode the network configuration"},
		{"not an object", `[1]`, spec.DecodeFailure, "the network configuration is not a JSON object"},
		{"null", `null`, spec.DecodeFailure, "the network configuration is not a JSON object"},
		{"vni 0", conf(t, map[string]any{"vni": 0}), spec.InvalidConfig, "invalid network configuration: vni must be an integer in 1..16777215 (got 0)"},
		{"vni too big", conf(t, map[string]any{"vni": 16_777_216}), spec.InvalidConfig, "invalid network configuration: vni must be an integer in 1..16777215 (got 16777216)"},
		{"vni missing", conf(t, map[string]any{"vni": nil}), spec.InvalidConfig, "invalid network configuration: vni must be an integer in 1..16777215 (got undefined)"},
		{"vni fraction", conf(t, map[string]any{"vni": 1.5}), spec.InvalidConfig, "invalid network configuration: vni must be an integer in 1..16777215 (got 1.5)"},
		{"mtu small", conf(t, map[string]any{"mtu": 100}), spec.InvalidConfig, "invalid network configuration: mtu must be an integer in 576..9216 (got 100)"},
		{"mtu string", conf(t, map[string]any{"mtu": "big"}), spec.InvalidConfig, `invalid network configuration: mtu must be an integer in 576..9216 (got "big")`},
		{"mtu 70000", conf(t, map[string]any{"mtu": 70000}), spec.InvalidConfig, "invalid network configuration: mtu must be an integer in 576..9216 (got 70000)"},
		{"name empty", conf(t, map[string]any{"name": ""}), spec.InvalidConfig, "invalid network configuration: name is missing"},
		{"type missing", conf(t, map[string]any{"type": nil}), spec.InvalidConfig, "invalid network configuration: type is missing"},
		{"version missing", conf(t, map[string]any{"cniVersion": nil}), spec.InvalidConfig, "invalid network configuration: cniVersion is missing"},
		{"version unknown", conf(t, map[string]any{"cniVersion": "2.0.0"}), spec.IncompatibleVersion, "incompatible CNI version 2.0.0"},
		{"runtimeConfig array", conf(t, map[string]any{"runtimeConfig": []any{}}), spec.InvalidConfig, "invalid network configuration: runtimeConfig must be an object"},
		{"runtimeConfig.mac number", conf(t, map[string]any{"runtimeConfig": map[string]any{"mac": 1}}), spec.InvalidConfig, "invalid network configuration: runtimeConfig.mac must be a string"},
		{"prevResult without interfaces", conf(t, map[string]any{"prevResult": map[string]any{}}), spec.InvalidConfig, "invalid network configuration: prevResult must be a result with interfaces"},
	}
	for _, c := range cases {
		_, err := Parse(c.stdin)
		if got := spec.CodeOf(err); got != c.code {
			t.Errorf("%s: code %d, want %d (%v)", c.name, got, c.code, err)
		}
		if c.msg != "" && (err == nil || err.Error() != c.msg) {
			t.Errorf("%s: message %q, want %q", c.name, err, c.msg)
		}
	}
	_, err := Parse(conf(t, map[string]any{"cniVersion": "2.0.0"}))
	var e *spec.Error
	if !errors.As(err, &e) || e.Details != "vxmesh-cni supports 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0" {
		t.Errorf("version details: %+v", e)
	}
}

func TestParseReadsPrevResultInterfaces(t *testing.T) {
	c, err := Parse(conf(t, map[string]any{"prevResult": map[string]any{"interfaces": []any{
		map[string]any{"name": "vxmc1", "mac": "02:aa:aa:aa:aa:aa"},
		map[string]any{"name": "pod1", "mac": "02:00:00:00:00:01", "sandbox": "/var/run/netns/x"},
		"junk",
	}}}))
	if err != nil {
		t.Fatal(err)
	}
	want := []PrevInterface{{"vxmc1", "02:aa:aa:aa:aa:aa", false}, {"pod1", "02:00:00:00:00:01", true}, {"", "", false}}
	if !c.HasPrev || len(c.Prev) != 3 || c.Prev[0] != want[0] || c.Prev[1] != want[1] || c.Prev[2] != want[2] {
		t.Fatalf("prev %+v", c.Prev)
	}
}

func TestVersionOfAConfig(t *testing.T) {
	if v, ok := Version(`{"cniVersion":"0.4.0"}`); !ok || v != "0.4.0" {
		t.Errorf("got %q %v", v, ok)
	}
	for _, s := range []string{`{"cniVersion":1}`, `{`, `[]`} {
		if _, ok := Version(s); ok {
			t.Errorf("%s: a version", s)
		}
	}
}

func TestNormalizeMACAcceptsUnicastOnly(t *testing.T) {
	if m, ok := NormalizeMAC("02-00-0A-00-01-01"); !ok || m != "02:00:0a:00:01:01" {
		t.Errorf("got %q %v", m, ok)
	}
	if m, ok := NormalizeMAC(" 02:00:0a:00:01:01\n"); !ok || m != "02:00:0a:00:01:01" {
		t.Errorf("trimmed: got %q %v", m, ok)
	}
	for _, bad := range []string{"01:00:5e:00:00:01", "00:00:00:00:00:00", "02:00:0a:00:01", "02:00:0a:00:01:0g"} {
		if _, ok := NormalizeMAC(bad); ok {
			t.Errorf("%s accepted", bad)
		}
	}
}
