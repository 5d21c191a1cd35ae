// Package plugin plugs a KubeVirt VM's pod interface into its network's bridge vxb<vni>.
//
// ADD    a veth pair: CNI_IFNAME in the container's namespace with the VM's MAC (runtimeConfig.mac, else
//
//	CNI_ARGS MAC, else a random local one) and the overlay MTU; the node side vxmc<hash> with the
//	same MTU, its alias set to the VM's port binding before it joins the bridge. A bridge not (yet)
//	on the node is "try again later" (11): the agent builds it on every member node, and a VM plugged
//	into a bridge no agent serves would be silently cut off.
//
// DEL    deletes the node side (the pair goes with it); nothing there is success (idempotent).
// CHECK  compares the attachment with the config and prevResult (CNI >= 0.4.0).
// STATUS ready while the network's bridge is up on this node (CNI >= 1.1.0), else 50.
// GC     deletes this network's vxmc… ports that belong to no attachment in cni.dev/valid-attachments.
//
// This file holds the decisions (pure); ops.go runs them against the node.
package plugin

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"

	"vxmesh.io/cni/internal/binding"
	"vxmesh.io/cni/internal/cnienv"
	"vxmesh.io/cni/internal/config"
	"vxmesh.io/cni/internal/jsonx"
	"vxmesh.io/cni/internal/links"
	"vxmesh.io/cni/internal/spec"
)

// RandomMAC is a random locally administered unicast MAC.
func RandomMAC() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	b[0] = (b[0] & 0xfe) | 0x02
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5])
}

// RequestedMAC is the MAC the VM's interface gets: the runtime's request (capability mac, then CNI_ARGS
// MAC), else "".
func RequestedMAC(conf *config.NetConf, env *cnienv.Env) (string, error) {
	asked := conf.RuntimeMAC
	if asked == "" {
		asked = env.Args.MAC
	}
	if asked == "" {
		return "", nil
	}
	mac, ok := config.NormalizeMAC(asked)
	if !ok {
		return "", spec.Errorf(spec.InvalidConfig, "requested MAC "+asked+" is not a unicast MAC address")
	}
	return mac, nil
}

// AddPlan is what ADD does.
type AddPlan struct {
	Port string
	// Host are the `ip -batch` lines in the node's namespace.
	Host []string
	// Container are the ip arguments in the container's namespace.
	Container []string
	Result    config.Result
}

// HostFacts are what ADD read from the node before planning.
type HostFacts struct {
	// StalePort: a port of this attachment is left by an ADD that failed half-way.
	StalePort bool
	// IPv6: the node's kernel runs IPv6 (the host end then gets no link-local address: the node never
	// sends router solicitations or MLD reports into the VM).
	IPv6 bool
}

// PlanAdd decides ADD from its inputs. Pure (apart from the random MACs it is given).
func PlanAdd(conf *config.NetConf, env *cnienv.Env, alias, vmMAC, hostMAC string, facts HostFacts) AddPlan {
	port := binding.HostPortName(env.ContainerID, env.Ifname)
	mtu := strconv.Itoa(conf.MTU)
	var host []string
	if facts.StalePort {
		host = append(host, "link del dev "+port)
	}
	host = append(host,
		"link add "+port+" mtu "+mtu+" address "+hostMAC+" type veth peer name "+env.Ifname+" mtu "+mtu+" address "+vmMAC+" netns "+env.Netns,
		// The binding first: the port must never sit in the bridge unbound-but-plausible.
		"link set dev "+port+" alias "+alias,
		"link set dev "+port+" master "+conf.Bridge,
	)
	if facts.IPv6 {
		host = append(host, "link set dev "+port+" addrgenmode none")
	}
	host = append(host, "link set dev "+port+" up")
	withMTU := 0
	if spec.CompareVersions(conf.CNIVersion, "1.1.0") >= 0 {
		withMTU = conf.MTU
	}
	return AddPlan{
		Port:      port,
		Host:      host,
		Container: []string{"link", "set", "dev", env.Ifname, "up"},
		Result: config.Result{
			CNIVersion: conf.CNIVersion,
			Interfaces: []config.Interface{
				{Name: port, MAC: hostMAC, MTU: withMTU},
				{Name: env.Ifname, MAC: vmMAC, MTU: withMTU, Sandbox: env.Netns},
			},
			IPs: []any{},
			DNS: map[string]any{},
		},
	}
}

func orElse(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// CheckProblems are the differences between the attachment and what ADD made (none when it checks out). Pure.
func CheckProblems(conf *config.NetConf, env *cnienv.Env, alias string, host, cont *links.Link) []string {
	port := binding.HostPortName(env.ContainerID, env.Ifname)
	var out []string
	var prevCont *config.PrevInterface
	hostListed := false
	for i := range conf.Prev {
		p := &conf.Prev[i]
		if prevCont == nil && p.Name == env.Ifname && p.HasSandbox {
			prevCont = p
		}
		if p.Name == port && !p.HasSandbox {
			hostListed = true
		}
	}
	if prevCont == nil {
		out = append(out, "prevResult lists no interface "+env.Ifname+" in a sandbox")
	}
	if !hostListed {
		out = append(out, "prevResult lists no node-side interface "+port)
	}
	if host == nil {
		out = append(out, "node-side interface "+port+" is missing")
	} else {
		if host.Kind != "veth" {
			out = append(out, port+" is a "+orElse(host.Kind, "device of unknown kind")+", not a veth")
		}
		if host.Master != conf.Bridge {
			out = append(out, port+" is in "+orElse(host.Master, "no bridge")+", not "+conf.Bridge)
		}
		if host.Alias != alias {
			out = append(out, port+" is bound to "+orElse(host.Alias, "nothing")+", not "+alias)
		}
		if host.MTU != conf.MTU {
			out = append(out, fmt.Sprintf("%s has MTU %d, not %d", port, host.MTU, conf.MTU))
		}
		if !host.Up {
			out = append(out, port+" is down")
		}
	}
	if cont == nil {
		out = append(out, env.Ifname+" is missing in "+env.Netns)
	} else {
		if cont.MTU != conf.MTU {
			out = append(out, fmt.Sprintf("%s has MTU %d, not %d", env.Ifname, cont.MTU, conf.MTU))
		}
		if prevCont != nil && prevCont.MAC != "" && strings.ToLower(cont.MAC) != strings.ToLower(prevCont.MAC) {
			out = append(out, env.Ifname+" has MAC "+orElse(cont.MAC, "undefined")+", not "+prevCont.MAC)
		}
		if !cont.Up {
			out = append(out, env.Ifname+" is down")
		}
	}
	return out
}

// Attachment is an entry of cni.dev/valid-attachments.
type Attachment struct {
	ContainerID string
	Ifname      string
}

// ValidAttachments is GC's input: the attachments still in use (SPEC.md "GC"). Pure.
func ValidAttachments(raw any) []Attachment {
	o, _ := jsonx.Object(raw)
	list, _ := o["cni.dev/valid-attachments"].([]any)
	var out []Attachment
	for _, item := range list {
		a, _ := jsonx.Object(item)
		id, ok1 := a["containerID"].(string)
		ifn, ok2 := a["ifname"].(string)
		if ok1 && ok2 {
			out = append(out, Attachment{id, ifn})
		}
	}
	return out
}

// VersionInfo is VERSION's answer.
type VersionInfo struct {
	CNIVersion        string   `json:"cniVersion"`
	SupportedVersions []string `json:"supportedVersions"`
}

// Versions is the plugin's VersionInfo.
func Versions() VersionInfo {
	return VersionInfo{CNIVersion: spec.LatestVersion, SupportedVersions: append([]string(nil), spec.SupportedVersions...)}
}
