package binding

import (
	"errors"
	"strings"
	"testing"

	"vxmesh.io/cni/internal/cnienv"
	"vxmesh.io/cni/internal/spec"
)

func TestVMIOfPodNamesTheVMIOrSaysWhyNot(t *testing.T) {
	if vmi, p := VMIOfPod("virt-launcher-vm-a1-x7k2p"); vmi != "vm-a1" || p != "" {
		t.Errorf("got %q %q", vmi, p)
	}
	vmi42 := strings.Repeat("v", 42)
	if vmi, p := VMIOfPod("virt-launcher-" + vmi42 + "-abcde"); vmi != vmi42 || p != "" { // 62 characters: not cut
		t.Errorf("42: got %q %q", vmi, p)
	}
	if _, p := VMIOfPod("virt-launcher-" + strings.Repeat("v", 43) + "-abcde"); !strings.Contains(p, "may have been cut") { // 63: maybe cut
		t.Errorf("43: %q", p)
	}
	if _, p := VMIOfPod("nginx-7f9c-abcde"); p != "pod nginx-7f9c-abcde is not a KubeVirt launcher pod (virt-launcher-<vmi>-<suffix>): vxmesh plugs VMs only" {
		t.Errorf("nginx: %q", p)
	}
}

func TestOfBindsNamespaceVMIAndPodInterface(t *testing.T) {
	args := cnienv.Args{PodNamespace: "tenant-a", PodName: "virt-launcher-vm-a1-x7k2p"}
	b, err := Of(args, "pod6d0e5e4b6c8")
	if err != nil || b != (Binding{VM: "tenant-a/vm-a1", Iface: "pod6d0e5e4b6c8"}) {
		t.Fatalf("got %+v %v", b, err)
	}
	alias, err := Alias(b)
	if err != nil || alias != "vxmesh/tenant-a/vm-a1/pod6d0e5e4b6c8" {
		t.Errorf("alias %q %v", alias, err)
	}
	if p, ok := Parse(alias); !ok || p != b {
		t.Errorf("the agent's reading of the alias: %+v %v", p, ok)
	}
	for _, bad := range []struct {
		args   cnienv.Args
		ifname string
	}{
		{cnienv.Args{PodNamespace: "tenant-a"}, "x"},
		{cnienv.Args{PodNamespace: "Tenant-A", PodName: "virt-launcher-vm-a1-x7k2p"}, "pod1"}, // not a namespace name
		{args, "pod_"}, // an interface name the agent would not parse
	} {
		_, err := Of(bad.args, bad.ifname)
		var e *spec.Error
		if !errors.As(err, &e) || e.Code != spec.UnknownVMI {
			t.Errorf("%+v %s: %v", bad.args, bad.ifname, err)
		}
	}
}

func TestParseAcceptsOnlyVxmeshBindings(t *testing.T) {
	for alias, ok := range map[string]bool{
		"vxmesh/t/a/nic1": true, "vxmesh/t/a": false, "vxmesh/t/a/nic1/x": false, "other/t/a/nic1": false,
		"vxmesh/t/A/nic1": false, "vxmesh/t/a/" + strings.Repeat("n", 250): false,
	} {
		if _, got := Parse(alias); got != ok {
			t.Errorf("%s: %v, want %v", alias, got, ok)
		}
	}
}

// The values of src/cni/binding.ts hostPortName (sha256 in node:crypto) for the same attachments: the
// lab and the tests find the plugin's ports by these names.
func TestHostPortNameIsTheSha256NameTheRuntimeSideDerives(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"c0ffee", "pod1234"}: "vxmcf0c0828a",
		{"keep", "podkeep"}:   "vxmc2eb08e15",
		{"ü", "eth0"}:         "vxmc779a028f",
	} {
		if got := HostPortName(in[0], in[1]); got != want {
			t.Errorf("%v: %s, want %s", in, got, want)
		}
	}
	if HostPortName("c0ffee", "pod1235") == HostPortName("c0ffee", "pod1234") {
		t.Error("two attachments, one name")
	}
}
