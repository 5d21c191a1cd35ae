// Package cnienv reads the CNI invocation's environment (SPEC.md "Parameters"): CNI_COMMAND,
// CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH. CNI_ARGS is KEY=VALUE;…; Multus passes
// IgnoreUnknown, K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID and, when the
// network selection element asks for a MAC (KubeVirt does for an interface with macAddress), MAC. Unknown
// keys are an error unless IgnoreUnknown is set (as the reference plugins' skel does). Pure.
package cnienv

import (
	"fmt"
	"regexp"
	"strings"

	"vxmesh.io/cni/internal/jsonx"
	"vxmesh.io/cni/internal/spec"
)

// Commands are the CNI verbs.
var Commands = []string{"ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"}

// Args are the CNI_ARGS the plugin reads; empty means not given.
type Args struct {
	PodNamespace     string
	PodName          string
	PodUID           string
	InfraContainerID string
	MAC              string
}

// Env is one invocation's environment.
type Env struct {
	Command     string
	ContainerID string
	Netns       string
	Ifname      string
	Path        []string
	Args        Args
}

// known maps a CNI_ARGS key to its field (nil: known, but read nowhere).
var known = map[string]func(*Args) *string{
	"K8S_POD_NAMESPACE":          func(a *Args) *string { return &a.PodNamespace },
	"K8S_POD_NAME":               func(a *Args) *string { return &a.PodName },
	"K8S_POD_UID":                func(a *Args) *string { return &a.PodUID },
	"K8S_POD_INFRA_CONTAINER_ID": func(a *Args) *string { return &a.InfraContainerID },
	"MAC":                        func(a *Args) *string { return &a.MAC },
	"IgnoreUnknown":              nil,
}

var (
	containerID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	truthy      = regexp.MustCompile(`(?i)^(1|true)$`)
)

// ParseArgs reads CNI_ARGS.
func ParseArgs(text string) (Args, error) {
	var out Args
	type kv struct{ k, v string }
	var pairs []kv
	for _, item := range strings.Split(text, ";") {
		if item == "" {
			continue
		}
		i := strings.Index(item, "=")
		if i <= 0 {
			return Args{}, spec.Errorf(spec.InvalidEnv, `CNI_ARGS: "`+item+`" is not KEY=VALUE`)
		}
		pairs = append(pairs, kv{item[:i], item[i+1:]})
	}
	ignoreUnknown := false
	for _, p := range pairs {
		if p.k == "IgnoreUnknown" && truthy.MatchString(p.v) {
			ignoreUnknown = true
		}
	}
	for _, p := range pairs {
		field, ok := known[p.k]
		if !ok {
			if ignoreUnknown {
				continue
			}
			return Args{}, &spec.Error{Code: spec.InvalidEnv, Msg: "CNI_ARGS: unknown argument " + p.k, Details: "set IgnoreUnknown=1 to ignore it"}
		}
		if field != nil && p.v != "" {
			*field(&out) = p.v
		}
	}
	return out, nil
}

// ValidIfname checks a Linux interface name (as the reference plugins' skel checks CNI_IFNAME).
func ValidIfname(name string) bool {
	n := jsonx.Len(name)
	if n == 0 || n > 15 || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsFunc(name, func(r rune) bool { return r == '/' || r == ':' || jsonx.Space(r) })
}

func isCommand(c string) bool {
	for _, k := range Commands {
		if k == c {
			return true
		}
	}
	return false
}

// Parse reads the environment through getenv (os.Getenv in the binary).
func Parse(getenv func(string) string) (*Env, error) {
	cmd := getenv("CNI_COMMAND")
	if cmd == "" {
		return nil, spec.Errorf(spec.InvalidEnv, "CNI_COMMAND is not set")
	}
	if !isCommand(cmd) {
		return nil, spec.Errorf(spec.InvalidEnv, "unknown CNI_COMMAND "+cmd)
	}
	e := &Env{Command: cmd, ContainerID: getenv("CNI_CONTAINERID"), Netns: getenv("CNI_NETNS"), Ifname: getenv("CNI_IFNAME")}
	attachment := cmd == "ADD" || cmd == "DEL" || cmd == "CHECK"
	if attachment {
		switch {
		case e.ContainerID == "":
			return nil, spec.Errorf(spec.InvalidEnv, "CNI_CONTAINERID is not set")
		case !containerID.MatchString(e.ContainerID):
			return nil, spec.Errorf(spec.InvalidEnv, fmt.Sprintf("CNI_CONTAINERID %s is not alphanumeric with _ . -", quote(e.ContainerID)))
		case e.Ifname == "":
			return nil, spec.Errorf(spec.InvalidEnv, "CNI_IFNAME is not set")
		case !ValidIfname(e.Ifname):
			return nil, spec.Errorf(spec.InvalidEnv, fmt.Sprintf("CNI_IFNAME %s is not a valid interface name", quote(e.Ifname)))
		case cmd != "DEL" && e.Netns == "":
			return nil, spec.Errorf(spec.InvalidEnv, "CNI_NETNS is not set")
		}
	}
	for _, p := range strings.Split(getenv("CNI_PATH"), ":") {
		if p != "" {
			e.Path = append(e.Path, p)
		}
	}
	if attachment {
		args, err := ParseArgs(getenv("CNI_ARGS"))
		if err != nil {
			return nil, err
		}
		e.Args = args
	}
	return e, nil
}

// quote is JSON.stringify of a string.
func quote(s string) string { return jsonx.Show(s, true) }
