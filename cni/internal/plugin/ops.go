package plugin

import (
	"regexp"
	"strconv"
	"strings"

	"vxmesh.io/cni/internal/binding"
	"vxmesh.io/cni/internal/cnienv"
	"vxmesh.io/cni/internal/config"
	"vxmesh.io/cni/internal/links"
	"vxmesh.io/cni/internal/spec"
)

// Node is what the plugin reads and changes (links.Node on a real node).
type Node interface {
	HostLink(name string) (*links.Link, error)
	ContainerLink(netns, name string) (*links.Link, error)
	BridgePorts(bridge string) ([]links.Link, error)
	NetnsExists(netns string) bool
	HostBatch(lines []string) error
	ContainerIP(netns string, args []string) error
	DeleteHostLink(name string) (bool, error)
	HasIPv6() bool
}

func aliasOf(env *cnienv.Env) (string, error) {
	b, err := binding.Of(env.Args, env.Ifname)
	if err != nil {
		return "", err
	}
	return binding.Alias(b)
}

func requireBridge(n Node, conf *config.NetConf, retryCode int) error {
	br, err := n.HostLink(conf.Bridge)
	if err != nil {
		return err
	}
	if br == nil || br.Kind != "bridge" {
		return &spec.Error{Code: retryCode, Msg: "network " + conf.Name + " (VNI " + strconv.Itoa(conf.VNI) + ") has no bridge " + conf.Bridge + " on this node yet",
			Details: "the vxmesh agent builds it on every node of the network's cluster network; is it running here?"}
	}
	if !br.Up {
		return spec.Errorf(retryCode, "bridge "+conf.Bridge+" of network "+conf.Name+" is down")
	}
	return nil
}

func requireNetns(n Node, env *cnienv.Env) error {
	if !n.NetnsExists(env.Netns) {
		return spec.Errorf(spec.UnknownContainer, "network namespace "+env.Netns+" does not exist")
	}
	return nil
}

// Add plugs the attachment and returns the result.
func Add(n Node, conf *config.NetConf, env *cnienv.Env) (*config.Result, error) {
	alias, err := aliasOf(env)
	if err != nil {
		return nil, err
	}
	vmMAC, err := RequestedMAC(conf, env)
	if err != nil {
		return nil, err
	}
	if vmMAC == "" {
		vmMAC = RandomMAC()
	}
	if err := requireNetns(n, env); err != nil {
		return nil, err
	}
	if err := requireBridge(n, conf, spec.TryAgainLater); err != nil {
		return nil, err
	}
	port := binding.HostPortName(env.ContainerID, env.Ifname)
	// A port left by an ADD that failed half-way (no DEL came) is replaced.
	stale, err := n.HostLink(port)
	if err != nil {
		return nil, err
	}
	plan := PlanAdd(conf, env, alias, vmMAC, RandomMAC(), HostFacts{StalePort: stale != nil, IPv6: n.HasIPv6()})
	err = n.HostBatch(plan.Host)
	if err == nil {
		err = n.ContainerIP(env.Netns, plan.Container)
	}
	if err != nil {
		_, _ = n.DeleteHostLink(port)
		return nil, &spec.Error{Code: spec.IOFailure, Msg: "cannot plug " + env.Ifname + " of " + env.ContainerID + " into " + conf.Bridge, Details: err.Error()}
	}
	return &plan.Result, nil
}

// Del unplugs the attachment; an attachment already gone is success.
func Del(n Node, _ *config.NetConf, env *cnienv.Env) error {
	_, err := n.DeleteHostLink(binding.HostPortName(env.ContainerID, env.Ifname))
	return err
}

// Check compares the attachment with what its ADD made.
func Check(n Node, conf *config.NetConf, env *cnienv.Env) error {
	if spec.CompareVersions(conf.CNIVersion, "0.4.0") < 0 {
		return spec.Errorf(spec.IncompatibleVersion, "CHECK needs cniVersion 0.4.0 or later (got "+conf.CNIVersion+")")
	}
	if !conf.HasPrev {
		return spec.Errorf(spec.InvalidConfig, "CHECK needs prevResult")
	}
	alias, err := aliasOf(env)
	if err != nil {
		return err
	}
	if err := requireNetns(n, env); err != nil {
		return err
	}
	if err := requireBridge(n, conf, spec.CheckFailed); err != nil {
		return err
	}
	host, err := n.HostLink(binding.HostPortName(env.ContainerID, env.Ifname))
	if err != nil {
		return err
	}
	cont, err := n.ContainerLink(env.Netns, env.Ifname)
	if err != nil {
		return err
	}
	if problems := CheckProblems(conf, env, alias, host, cont); len(problems) > 0 {
		return &spec.Error{Code: spec.CheckFailed, Msg: "attachment " + env.ContainerID + "/" + env.Ifname + " differs from its ADD", Details: strings.Join(problems, "; ")}
	}
	return nil
}

// Status is ready while the network's bridge is up here.
func Status(n Node, conf *config.NetConf) error { return requireBridge(n, conf, spec.NotAvailable) }

var pluginPort = regexp.MustCompile(`^vxmc[0-9a-f]{8}$`)

// GC deletes this network's plugin ports that belong to no valid attachment; returns what it removed.
func GC(n Node, conf *config.NetConf, valid []Attachment) ([]string, error) {
	keep := map[string]bool{}
	for _, a := range valid {
		keep[binding.HostPortName(a.ContainerID, a.Ifname)] = true
	}
	ports, err := n.BridgePorts(conf.Bridge)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, p := range ports {
		if !pluginPort.MatchString(p.Name) || keep[p.Name] {
			continue
		}
		gone, err := n.DeleteHostLink(p.Name)
		if err != nil {
			return removed, err
		}
		if gone {
			removed = append(removed, p.Name)
		}
	}
	return removed, nil
}
