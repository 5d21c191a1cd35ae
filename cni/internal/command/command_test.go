package command

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"vxmesh.io/cni/internal/links"
	"vxmesh.io/cni/internal/spec"
)

// untouched is a node the invocations below must never reach: each fails before it would read a link.
type untouched struct{ t *testing.T }

func (u untouched) fail() { u.t.Helper(); u.t.Fatal("the invocation reached the node") }
func (u untouched) HostLink(string) (*links.Link, error) {
	u.fail()
	return nil, nil
}
func (u untouched) ContainerLink(string, string) (*links.Link, error) {
	u.fail()
	return nil, nil
}
func (u untouched) BridgePorts(string) ([]links.Link, error) {
	u.fail()
	return nil, nil
}
func (u untouched) NetnsExists(string) bool { u.fail(); return false }
func (u untouched) HostBatch([]string) error {
	u.fail()
	return nil
}
func (u untouched) ContainerIP(string, []string) error {
	u.fail()
	return nil
}
func (u untouched) HasIPv6() bool { u.fail(); return false }
func (u untouched) DeleteHostLink(string) (bool, error) {
	u.fail()
	return false, nil
}

func env(over map[string]string) func(string) string {
	m := map[string]string{
		"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c0ffee", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "pod1234",
		"CNI_ARGS": "IgnoreUnknown=true;K8S_POD_NAMESPACE=tenant-a;K8S_POD_NAME=virt-launcher-vm-a1-x7k2p",
	}
	for k, v := range over {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return m
}

func TestErrorsAreCNIErrorObjectsWithExitCode1(t *testing.T) {
	out, code := Run(untouched{t}, env(nil), `{"cniVersion":"1.0.0","name":"blue","type":"vxmesh-cni","vni":100,"mtu":"big"}`)
	if code != 1 || out != `{"cniVersion":"1.0.0","code":7,"msg":"invalid network configuration: mtu must be an integer in 576..9216 (got \"big\")"}` {
		t.Errorf("%d %s", code, out)
	}
	// An unknown or missing version answers in the latest one.
	out, _ = Run(untouched{t}, env(nil), `{"cniVersion":"9.9.9"}`)
	if m := decode(t, out); m["cniVersion"] != "1.1.0" || m["code"] != float64(spec.IncompatibleVersion) {
		t.Errorf("%s", out)
	}
	out, _ = Run(untouched{t}, env(map[string]string{"CNI_IFNAME": "a/b"}), `{"cniVersion":"0.4.0"}`)
	if m := decode(t, out); m["cniVersion"] != "0.4.0" || m["code"] != float64(spec.InvalidEnv) {
		t.Errorf("%s", out)
	}
	// STATUS and GC are 1.1 verbs.
	for _, verb := range []string{"STATUS", "GC"} {
		out, code = Run(untouched{t}, env(map[string]string{"CNI_COMMAND": verb}), `{"cniVersion":"1.0.0","name":"blue","type":"vxmesh-cni","vni":100,"mtu":1450}`)
		if m := decode(t, out); code != 1 || m["code"] != float64(spec.IncompatibleVersion) || m["msg"] != verb+" needs cniVersion 1.1.0 or later (got 1.0.0)" {
			t.Errorf("%s: %d %s", verb, code, out)
		}
	}
	// CHECK: from 0.4.0 and with a prevResult.
	out, _ = Run(untouched{t}, env(map[string]string{"CNI_COMMAND": "CHECK"}), `{"cniVersion":"0.3.1","name":"blue","type":"vxmesh-cni","vni":100,"mtu":1450}`)
	if m := decode(t, out); m["code"] != float64(spec.IncompatibleVersion) {
		t.Errorf("%s", out)
	}
	out, _ = Run(untouched{t}, env(map[string]string{"CNI_COMMAND": "CHECK"}), `{"cniVersion":"1.0.0","name":"blue","type":"vxmesh-cni","vni":100,"mtu":1450}`)
	if m := decode(t, out); m["code"] != float64(spec.InvalidConfig) || m["msg"] != "CHECK needs prevResult" {
		t.Errorf("%s", out)
	}
	// ADD for a pod that is not a VM's launcher pod fails before touching the node.
	out, _ = Run(untouched{t}, env(map[string]string{"CNI_ARGS": "K8S_POD_NAMESPACE=t;K8S_POD_NAME=nginx"}), `{"cniVersion":"1.0.0","name":"blue","type":"vxmesh-cni","vni":100,"mtu":1450}`)
	if m := decode(t, out); m["code"] != float64(spec.UnknownVMI) {
		t.Errorf("%s", out)
	}
}

func TestAnErrorWithoutACodeIsAnIOFailure(t *testing.T) {
	got := spec.ErrorObject(errors.New("boom"), spec.LatestVersion)
	if got != (spec.ErrorJSON{CNIVersion: "1.1.0", Code: 5, Msg: "vxmesh-cni failed", Details: "boom"}) {
		t.Errorf("%+v", got)
	}
}

func TestVersionNamesTheSpecVersions(t *testing.T) {
	out, code := Run(untouched{t}, env(map[string]string{"CNI_COMMAND": "VERSION"}), `{"cniVersion":"1.0.0"}`)
	want := map[string]any{"cniVersion": "1.1.0", "supportedVersions": []any{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}}
	if code != 0 || !reflect.DeepEqual(decode(t, out), want) {
		t.Errorf("%d %s", code, out)
	}
}
