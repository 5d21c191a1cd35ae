package cnienv

import (
	"errors"
	"reflect"
	"testing"

	"vxmesh.io/cni/internal/spec"
)

const multusArgs = "IgnoreUnknown=true;K8S_POD_NAMESPACE=tenant-a;K8S_POD_NAME=virt-launcher-vm-a1-x7k2p;K8S_POD_INFRA_CONTAINER_ID=c0ffee;K8S_POD_UID=u1"

func env(over map[string]string) func(string) string {
	m := map[string]string{
		"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c0ffee", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "pod1234",
		"CNI_PATH": "/opt/cni/bin", "CNI_ARGS": multusArgs,
	}
	for k, v := range over {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestParseReadsTheVariablesAndMultusArgs(t *testing.T) {
	e, err := Parse(env(map[string]string{"CNI_ARGS": multusArgs + ";MAC=02:00:0a:00:01:01"}))
	if err != nil {
		t.Fatal(err)
	}
	want := &Env{Command: "ADD", ContainerID: "c0ffee", Netns: "/var/run/netns/x", Ifname: "pod1234", Path: []string{"/opt/cni/bin"},
		Args: Args{PodNamespace: "tenant-a", PodName: "virt-launcher-vm-a1-x7k2p", InfraContainerID: "c0ffee", PodUID: "u1", MAC: "02:00:0a:00:01:01"}}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("got %+v", e)
	}
	v, err := Parse(env(map[string]string{"CNI_COMMAND": "VERSION", "CNI_ARGS": "junk"}))
	if err != nil || v.Args != (Args{}) {
		t.Errorf("VERSION reads no CNI_ARGS: %+v %v", v, err)
	}
}

func TestParseRefusesMissingOrInvalidVariablesWithCode4(t *testing.T) {
	cases := []struct {
		over map[string]string
		code int
		msg  string
	}{
		{nil, 0, ""},
		{map[string]string{"CNI_IFNAME": ""}, spec.InvalidEnv, "CNI_IFNAME is not set"},
		{map[string]string{"CNI_IFNAME": "a/b"}, spec.InvalidEnv, `CNI_IFNAME "a/b" is not a valid interface name`},
		{map[string]string{"CNI_IFNAME": "sixteen-chars-xx"}, spec.InvalidEnv, `CNI_IFNAME "sixteen-chars-xx" is not a valid interface name`},
		{map[string]string{"CNI_IFNAME": "a\u00a0b"}, spec.InvalidEnv, ""},
		{map[string]string{"CNI_CONTAINERID": "-x"}, spec.InvalidEnv, `CNI_CONTAINERID "-x" is not alphanumeric with _ . -`},
		{map[string]string{"CNI_CONTAINERID": ""}, spec.InvalidEnv, "CNI_CONTAINERID is not set"},
		{map[string]string{"CNI_NETNS": ""}, spec.InvalidEnv, "CNI_NETNS is not set"},
		{map[string]string{"CNI_NETNS": "", "CNI_COMMAND": "DEL"}, 0, ""}, // DEL may come without a netns
		{map[string]string{"CNI_COMMAND": "FROB"}, spec.InvalidEnv, "unknown CNI_COMMAND FROB"},
		{map[string]string{"CNI_COMMAND": ""}, spec.InvalidEnv, "CNI_COMMAND is not set"},
	}
	for _, c := range cases {
		_, err := Parse(env(c.over))
		if spec.CodeOf(err) != c.code || (c.msg != "" && err.Error() != c.msg) {
			t.Errorf("%v: got %v (code %d), want %d %q", c.over, err, spec.CodeOf(err), c.code, c.msg)
		}
	}
}

func TestParseArgsIgnoresUnknownOnlyWhenAsked(t *testing.T) {
	a, err := ParseArgs("IgnoreUnknown=1;FOO=bar;K8S_POD_NAME=p")
	if err != nil || a != (Args{PodName: "p"}) {
		t.Errorf("got %+v %v", a, err)
	}
	_, err = ParseArgs("FOO=bar;K8S_POD_NAME=p")
	var e *spec.Error
	if !errors.As(err, &e) || e.Code != spec.InvalidEnv || e.Msg != "CNI_ARGS: unknown argument FOO" || e.Details != "set IgnoreUnknown=1 to ignore it" {
		t.Errorf("unknown key: %+v", err)
	}
	_, err = ParseArgs("K8S_POD_NAME")
	if err == nil || err.Error() != `CNI_ARGS: "K8S_POD_NAME" is not KEY=VALUE` {
		t.Errorf("no '=': %v", err)
	}
	if a, err := ParseArgs("K8S_POD_NAME=;;MAC=x=y"); err != nil || a != (Args{MAC: "x=y"}) {
		t.Errorf("empty values and '=' in values: %+v %v", a, err)
	}
}
