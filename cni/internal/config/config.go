// Package config reads the plugin's network configuration, as the runtime (libcni under Multus) hands it
// over on stdin: the plugins[] entry of the NAD's conflist with name and cniVersion of the list injected,
// plus runtimeConfig (capabilities the entry declares, e.g. mac) and, for CHECK/DEL, prevResult.
//
//	{"cniVersion":"1.0.0","name":"blue","type":"vxmesh-cni","vni":100,"mtu":1450,
//	 "capabilities":{"mac":true},"runtimeConfig":{"mac":"02:00:00:00:00:01"}}
//
// vni names the network's bridge vxb<vni>, which the agent builds on every member node; mtu is the
// overlay MTU the VM's interface gets (the uplink MTU minus the 50 bytes of VXLAN encapsulation, or the
// VxlanNetwork's own). Pure.
package config

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"vxmesh.io/cni/internal/jsonx"
	"vxmesh.io/cni/internal/spec"
)

// Interface is one entry of a result's interfaces.
type Interface struct {
	Name string `json:"name"`
	MAC  string `json:"mac,omitempty"`
	// MTU is reported from CNI 1.1 on.
	MTU int `json:"mtu,omitempty"`
	// Sandbox is the container's network namespace path; empty for node-side interfaces.
	Sandbox string `json:"sandbox,omitempty"`
}

// Result is the ADD result (SPEC.md "Success"): vxmesh assigns no addresses (its IPAM answers DHCP in the overlay).
type Result struct {
	CNIVersion string         `json:"cniVersion"`
	Interfaces []Interface    `json:"interfaces"`
	IPs        []any          `json:"ips"`
	DNS        map[string]any `json:"dns"`
}

// PrevInterface is an interface of prevResult, read as loosely as the runtime may write it.
type PrevInterface struct {
	Name       string
	MAC        string
	HasSandbox bool
}

// NetConf is the validated configuration.
type NetConf struct {
	CNIVersion string
	Name       string
	Type       string
	VNI        int
	MTU        int
	// Bridge is the bridge the VM's port joins (derived from the VNI).
	Bridge string
	// RuntimeMAC is runtimeConfig.mac: the MAC the runtime asks for (Multus: the network selection element's mac).
	RuntimeMAC string
	// PrevResult's interfaces; HasPrev tells whether a prevResult came at all.
	HasPrev bool
	Prev    []PrevInterface
}

const (
	MinMTU = 576
	MaxMTU = 9216
	MaxVNI = 16_777_215
)

// BridgeName is the per-VNI bridge (the agent's dataplane/names.ts bridge()).
func BridgeName(vni int) string { return "vxb" + strconv.Itoa(vni) }

// Version is the cniVersion a config names, when it names a string one (for error objects).
func Version(stdin string) (string, bool) {
	var raw map[string]any
	if json.Unmarshal([]byte(stdin), &raw) != nil {
		return "", false
	}
	v, ok := raw["cniVersion"].(string)
	return v, ok
}

func integer(v any, lo, hi int) (int, bool) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, false
	}
	return int(f), true
}

// Parse validates stdin; its errors are *spec.Error with the code a runtime sees.
func Parse(stdin string) (*NetConf, error) {
	var decoded any
	if err := json.Unmarshal([]byte(stdin), &decoded); err != nil {
		return nil, &spec.Error{Code: spec.DecodeFailure, Msg: "cannot decode the network configuration", Details: err.Error()}
	}
	raw, ok := jsonx.Object(decoded)
	if !ok {
		return nil, spec.Errorf(spec.DecodeFailure, "the network configuration is not a JSON object")
	}
	bad := func(field, problem string) error {
		return spec.Errorf(spec.InvalidConfig, fmt.Sprintf("invalid network configuration: %s %s", field, problem))
	}
	str := func(k string) string { s, _ := raw[k].(string); return s }
	c := &NetConf{CNIVersion: str("cniVersion"), Name: str("name"), Type: str("type")}
	if c.CNIVersion == "" {
		return nil, bad("cniVersion", "is missing")
	}
	if !spec.IsSupportedVersion(c.CNIVersion) {
		return nil, &spec.Error{Code: spec.IncompatibleVersion, Msg: "incompatible CNI version " + c.CNIVersion,
			Details: "vxmesh-cni supports " + strings.Join(spec.SupportedVersions, ", ")}
	}
	if c.Name == "" {
		return nil, bad("name", "is missing")
	}
	if c.Type == "" {
		return nil, bad("type", "is missing")
	}
	vni, present := raw["vni"]
	if c.VNI, ok = integer(vni, 1, MaxVNI); !ok {
		return nil, bad("vni", fmt.Sprintf("must be an integer in 1..%d (got %s)", MaxVNI, jsonx.Show(vni, present)))
	}
	mtu, present := raw["mtu"]
	if c.MTU, ok = integer(mtu, MinMTU, MaxMTU); !ok {
		return nil, bad("mtu", fmt.Sprintf("must be an integer in %d..%d (got %s)", MinMTU, MaxMTU, jsonx.Show(mtu, present)))
	}
	if rcv, present := raw["runtimeConfig"]; present {
		rc, ok := jsonx.Object(rcv)
		if !ok {
			return nil, bad("runtimeConfig", "must be an object")
		}
		if mac, present := rc["mac"]; present {
			s, ok := mac.(string)
			if !ok {
				return nil, bad("runtimeConfig.mac", "must be a string")
			}
			c.RuntimeMAC = s
		}
	}
	if pv, present := raw["prevResult"]; present {
		prev, ok := jsonx.Object(pv)
		list, isList := prev["interfaces"].([]any)
		if !ok || !isList {
			return nil, bad("prevResult", "must be a result with interfaces")
		}
		c.HasPrev = true
		for _, item := range list {
			o, _ := jsonx.Object(item)
			name, _ := o["name"].(string)
			mac, _ := o["mac"].(string)
			c.Prev = append(c.Prev, PrevInterface{Name: name, MAC: mac, HasSandbox: jsonx.Truthy(o["sandbox"])})
		}
	}
	c.Bridge = BridgeName(c.VNI)
	return c, nil
}

var macForm = regexp.MustCompile(`(?i)^([0-9a-f]{2})([:-][0-9a-f]{2}){5}$`)

// NormalizeMAC is a unicast MAC in lowercase colon form, or false when mac is not one.
func NormalizeMAC(mac string) (string, bool) {
	t := trimJS(mac)
	if !macForm.MatchString(t) {
		return "", false
	}
	out := strings.ReplaceAll(strings.ToLower(t), "-", ":")
	first, _ := strconv.ParseUint(out[:2], 16, 8)
	if first&1 == 1 || out == "00:00:00:00:00:00" {
		return "", false
	}
	return out, true
}

// trimJS trims what String.prototype.trim does (white space and line terminators).
func trimJS(s string) string { return strings.TrimFunc(s, jsonx.Space) }
