package links

import (
	"reflect"
	"testing"
)

// Output of `ip -j -d link show` (iproute2 6.1) for a bridge port and a bare bridge.
const shown = `[{"ifindex":7,"ifname":"vxmc0a1b2c3d","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450,"master":"vxb100",
"operstate":"UP","address":"02:aa:aa:aa:aa:aa","ifalias":"vxmesh/t/a/pod1","linkinfo":{"info_kind":"veth","info_slave_kind":"bridge"}},
{"ifindex":3,"ifname":"vxb100","flags":["BROADCAST","MULTICAST"],"mtu":1450,"address":"02:00:00:00:00:01","ifalias":"","linkinfo":{"info_kind":"bridge"}}]`

func TestParseLinksReadsWhatThePluginDecidesOn(t *testing.T) {
	got, err := ParseLinks([]byte(shown))
	if err != nil {
		t.Fatal(err)
	}
	want := []Link{
		{Name: "vxmc0a1b2c3d", Kind: "veth", Master: "vxb100", Up: true, MTU: 1450, MAC: "02:aa:aa:aa:aa:aa", Alias: "vxmesh/t/a/pod1"},
		{Name: "vxb100", Kind: "bridge", MTU: 1450, MAC: "02:00:00:00:00:01"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if _, err := ParseLinks([]byte(`{"ifname":"x"}`)); err == nil {
		t.Error("an object is not a list")
	}
}

func TestCommandErrorKeepsTheLastThreeLines(t *testing.T) {
	e := &CommandError{Argv: []string{"ip", "-batch", "-"}, Stderr: "a\nb\nc\nd\n", ExitCode: 1}
	if e.Error() != "ip -batch - failed (exit 1): b | c | d" {
		t.Errorf("%s", e)
	}
}
