package plugin

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"

	"vxmesh.io/cni/internal/binding"
	"vxmesh.io/cni/internal/cnienv"
	"vxmesh.io/cni/internal/config"
	"vxmesh.io/cni/internal/links"
	"vxmesh.io/cni/internal/spec"
)

const (
	alias   = "vxmesh/tenant-a/vm-a1/pod1234"
	vmMAC   = "02:00:0a:00:01:01"
	hostMAC = "02:aa:aa:aa:aa:aa"
)

func parse(t *testing.T, stdin string) *config.NetConf {
	t.Helper()
	c, err := config.Parse(stdin)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func netconf(version string, extra string) string {
	return `{"cniVersion":"` + version + `","name":"blue","type":"vxmesh-cni","vni":100,"mtu":1450` + extra + `}`
}

var env = &cnienv.Env{Command: "ADD", ContainerID: "c0ffee", Netns: "/var/run/netns/x", Ifname: "pod1234",
	Args: cnienv.Args{PodNamespace: "tenant-a", PodName: "virt-launcher-vm-a1-x7k2p"}}

func TestPlanAddMakesThePairWithMTUAndMACAndBindsBeforeTheBridge(t *testing.T) {
	p := PlanAdd(parse(t, netconf("1.1.0", "")), env, alias, vmMAC, hostMAC, HostFacts{IPv6: true})
	port := binding.HostPortName("c0ffee", "pod1234")
	want := []string{
		"link add " + port + " mtu 1450 address " + hostMAC + " type veth peer name pod1234 mtu 1450 address " + vmMAC + " netns /var/run/netns/x",
		"link set dev " + port + " alias " + alias,
		"link set dev " + port + " master vxb100",
		"link set dev " + port + " addrgenmode none",
		"link set dev " + port + " up",
	}
	if p.Port != port || !reflect.DeepEqual(p.Host, want) || !reflect.DeepEqual(p.Container, []string{"link", "set", "dev", "pod1234", "up"}) {
		t.Fatalf("plan %+v", p)
	}
	got, _ := json.Marshal(p.Result)
	wantResult := `{"cniVersion":"1.1.0","interfaces":[{"name":"` + port + `","mac":"` + hostMAC + `","mtu":1450},{"name":"pod1234","mac":"` + vmMAC + `","mtu":1450,"sandbox":"/var/run/netns/x"}],"ips":[],"dns":{}}`
	if string(got) != wantResult {
		t.Errorf("result %s\nwant   %s", got, wantResult)
	}
	if stale := PlanAdd(parse(t, netconf("1.0.0", "")), env, "a", "m", "h", HostFacts{StalePort: true}); stale.Host[0] != "link del dev "+port || len(stale.Host) != 5 {
		t.Errorf("a stale port is deleted first: %v", stale.Host)
	}
	if r, _ := json.Marshal(PlanAdd(parse(t, netconf("1.0.0", "")), env, "a", "m", "h", HostFacts{}).Result.Interfaces[0]); string(r) != `{"name":"`+port+`","mac":"h"}` {
		t.Errorf("1.0 results carry no mtu: %s", r)
	}
}

func TestRequestedMACPrefersRuntimeConfigThenCNIArgs(t *testing.T) {
	withArgs := *env
	withArgs.Args.MAC = "02:00:00:00:00:02"
	cases := []struct {
		conf string
		env  *cnienv.Env
		want string
	}{
		{netconf("1.0.0", `,"runtimeConfig":{"mac":"02:00:00:00:00:01"}`), &withArgs, "02:00:00:00:00:01"},
		{netconf("1.0.0", ""), &withArgs, "02:00:00:00:00:02"},
		{netconf("1.0.0", `,"runtimeConfig":{"mac":""}`), &withArgs, "02:00:00:00:00:02"},
		{netconf("1.0.0", ""), env, ""},
	}
	for _, c := range cases {
		if got, err := RequestedMAC(parse(t, c.conf), c.env); err != nil || got != c.want {
			t.Errorf("%s: %q %v, want %q", c.conf, got, err, c.want)
		}
	}
	_, err := RequestedMAC(parse(t, netconf("1.0.0", `,"runtimeConfig":{"mac":"03:00:00:00:00:01"}`)), env)
	var e *spec.Error
	if !errors.As(err, &e) || e.Code != spec.InvalidConfig || e.Msg != "requested MAC 03:00:00:00:00:01 is not a unicast MAC address" {
		t.Errorf("multicast: %v", err)
	}
}

func TestRandomMACIsLocalUnicast(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 64; i++ {
		m := RandomMAC()
		first, err := strconv.ParseUint(m[:2], 16, 8)
		if err != nil || len(m) != 17 || first&3 != 2 {
			t.Fatalf("%s is not a locally administered unicast MAC", m)
		}
		seen[m] = true
	}
	if len(seen) < 60 {
		t.Errorf("only %d distinct MACs in 64", len(seen))
	}
}

func TestCheckProblemsPassesOnWhatAddMadeAndNamesEveryDifference(t *testing.T) {
	c11 := parse(t, netconf("1.1.0", ""))
	p := PlanAdd(c11, env, alias, vmMAC, hostMAC, HostFacts{})
	prev, _ := json.Marshal(p.Result)
	c := parse(t, netconf("1.1.0", `,"prevResult":`+string(prev)))
	host := &links.Link{Kind: "veth", Master: "vxb100", Up: true, MTU: 1450, Alias: alias}
	cont := &links.Link{Up: true, MTU: 1450, MAC: "02:00:0A:00:01:01"}
	if got := CheckProblems(c, env, alias, host, cont); len(got) != 0 {
		t.Errorf("positive control: %v", got)
	}
	moved := *host
	moved.MTU, moved.Master = 1500, ""
	otherMAC := *cont
	otherMAC.MAC = "02:00:0a:00:01:02"
	want := []string{p.Port + " is in no bridge, not vxb100", p.Port + " has MTU 1500, not 1450", "pod1234 has MAC 02:00:0a:00:01:02, not 02:00:0a:00:01:01"}
	if got := CheckProblems(c, env, alias, &moved, &otherMAC); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	want = []string{"node-side interface " + p.Port + " is missing", "pod1234 is missing in /var/run/netns/x"}
	if got := CheckProblems(c, env, alias, nil, nil); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
	wrong := &links.Link{Kind: "dummy", Master: "vxb100", MTU: 1450, Alias: "vxmesh/t/b/pod1234"}
	want = []string{
		"prevResult lists no interface pod1234 in a sandbox", "prevResult lists no node-side interface " + p.Port,
		p.Port + " is a dummy, not a veth", p.Port + " is bound to vxmesh/t/b/pod1234, not " + alias, p.Port + " is down", "pod1234 is down",
	}
	empty := parse(t, netconf("1.1.0", `,"prevResult":{"interfaces":[]}`))
	if got := CheckProblems(empty, env, alias, wrong, &links.Link{MTU: 1450}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestValidAttachmentsReadsGCInput(t *testing.T) {
	var raw any
	_ = json.Unmarshal([]byte(`{"cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"},{"bogus":1},null,{"containerID":"b","ifname":2}]}`), &raw)
	if got := ValidAttachments(raw); !reflect.DeepEqual(got, []Attachment{{"a", "eth0"}}) {
		t.Errorf("got %+v", got)
	}
	if got := ValidAttachments(map[string]any{}); len(got) != 0 {
		t.Errorf("none: %+v", got)
	}
}
