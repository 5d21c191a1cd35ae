// Package binding names what the plugin knows about the VM it plugs, without asking the API server:
// only its invocation.
//
//   - Namespace: K8S_POD_NAMESPACE (a VMI's launcher pod lives in the VMI's namespace).
//   - VMI name: from K8S_POD_NAME. KubeVirt creates the launcher pod with generateName
//     virt-launcher-<vmi>-, so the pod is virt-launcher-<vmi>-<5 random>. The API server cuts a
//     generateName prefix to 58 characters, so a VMI name is recoverable only up to 42 characters (the
//     pod name is then at most 62); a 63-character pod name may be cut and is refused rather than guessed.
//   - Interface: CNI_IFNAME, the pod interface Multus creates (KubeVirt names a secondary network's pod
//     interface pod<sha256(network name)[:11]>; the agent matches that against the VMI's interfaces).
//
// The binding is written as the host port's alias, vxmesh/<namespace>/<vmi>/<interface>, in exactly the
// form the agent parses (src/dataplane/port-binding.ts formatPortBinding/parsePortBinding). Pure.
package binding

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	"vxmesh.io/cni/internal/cnienv"
	"vxmesh.io/cni/internal/jsonx"
	"vxmesh.io/cni/internal/spec"
)

// Binding is the VM NIC a port belongs to.
type Binding struct {
	// VM is "<namespace>/<name>" of the VMI.
	VM string
	// Iface is the interface the port serves (here: the pod interface).
	Iface string
}

const prefix = "vxmesh/"

var (
	// JavaScript's "." excludes all four line terminators.
	launcher = regexp.MustCompile(`^virt-launcher-([^\n\r\x{2028}\x{2029}]+)-[a-z0-9]{5}$`)
	// Kubernetes object names (DNS-1123 subdomain / label) and KubeVirt interface names.
	name  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	iface = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
)

// maxUncutPodName: Kubernetes' generated names are the prefix cut to 58 characters, then 5 random ones.
const maxUncutPodName = 62

// VMIOfPod is the VMI a launcher pod runs, or the reason its name cannot tell.
func VMIOfPod(podName string) (vmi string, problem string) {
	m := launcher.FindStringSubmatch(podName)
	if m == nil {
		return "", "pod " + podName + " is not a KubeVirt launcher pod (virt-launcher-<vmi>-<suffix>): vxmesh plugs VMs only"
	}
	if jsonx.Len(podName) > maxUncutPodName {
		return "", "pod " + podName + " has the longest generated name: its VMI name may have been cut (VMI names of up to 42 characters are supported)"
	}
	return m[1], ""
}

// Of is the binding of the port CNI_ARGS and CNI_IFNAME describe.
func Of(args cnienv.Args, ifname string) (Binding, error) {
	ns, pod := args.PodNamespace, args.PodName
	if ns == "" || pod == "" {
		return Binding{}, spec.Errorf(spec.UnknownVMI, "CNI_ARGS lacks K8S_POD_NAMESPACE or K8S_POD_NAME: cannot name the VM this port belongs to")
	}
	vmi, problem := VMIOfPod(pod)
	if problem != "" {
		return Binding{}, spec.Errorf(spec.UnknownVMI, problem)
	}
	b := Binding{VM: ns + "/" + vmi, Iface: ifname}
	if _, ok := Parse(prefix + ns + "/" + vmi + "/" + ifname); !ok {
		return Binding{}, spec.Errorf(spec.UnknownVMI, "cannot bind a port to "+b.VM+" interface "+ifname+": not valid names")
	}
	return b, nil
}

// Alias is the port alias naming b (formatPortBinding).
func Alias(b Binding) (string, error) {
	parts := strings.Split(b.VM, "/")
	ns, vm := parts[0], ""
	if len(parts) > 1 {
		vm = parts[1]
	}
	out := prefix + ns + "/" + vm + "/" + b.Iface
	if _, ok := Parse(out); !ok {
		return "", &aliasError{"cannot bind a port to " + b.VM + " " + b.Iface + ": not a valid VMI/interface name"}
	}
	return out, nil
}

type aliasError struct{ msg string }

func (e *aliasError) Error() string { return e.msg }

// Parse is the binding an alias names (parsePortBinding), or false when it names none.
func Parse(alias string) (Binding, bool) {
	if !strings.HasPrefix(alias, prefix) || jsonx.Len(alias) > 255 {
		return Binding{}, false
	}
	parts := strings.Split(alias[len(prefix):], "/")
	if len(parts) != 3 || !name.MatchString(parts[0]) || !name.MatchString(parts[1]) || !iface.MatchString(parts[2]) {
		return Binding{}, false
	}
	return Binding{VM: parts[0] + "/" + parts[1], Iface: parts[2]}, true
}

// HostPortName is the node-side veth of an attachment: vxmc + 8 hex of sha256(containerId/ifname).
// Derived, so DEL finds it from the same parameters even when the container's namespace is gone; never a
// name the agent owns.
func HostPortName(containerID, ifname string) string {
	sum := sha256.Sum256([]byte(containerID + "/" + ifname))
	return "vxmc" + hex.EncodeToString(sum[:])[:8]
}
