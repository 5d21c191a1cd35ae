// harvester-nad: runs Harvester's own NetworkAttachmentDefinition admission and labelling code
// (github.com/harvester/harvester-network-controller) on NADs given as JSON, the way a Harvester cluster
// applies it to every NAD: the mutating webhook, its patch applied, then the validating webhook; after a
// stored change the manager's NAD controller relabels it (its update goes through both webhooks again),
// and a cluster network MTU change is synced into every NAD labelled with that cluster network.
//
// Built by build/harvester-tools.sh into a throwaway module outside the repository. Reads one request on
// stdin, prints one JSON verdict per step on stdout:
//
//	{"clusterNetworks":[ClusterNetwork...], "vlanConfigs":[VlanConfig...],
//	 "steps":[{"op":"create"|"update","nad":NAD} | {"op":"cn-mtu","clusterNetwork":"cn","mtu":9000}]}
//
// "update" takes the stored object of the same namespace/name as the old object.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"

	jsonpatch "github.com/evanphx/json-patch"
	"github.com/harvester/webhook/pkg/server/admission"
	cniv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	"github.com/tidwall/sjson"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	networkv1 "github.com/harvester/harvester-network-controller/pkg/apis/network.harvesterhci.io/v1beta1"
	"github.com/harvester/harvester-network-controller/pkg/generated/clientset/versioned/fake"
	"github.com/harvester/harvester-network-controller/pkg/utils"
	"github.com/harvester/harvester-network-controller/pkg/utils/fakeclients"
	"github.com/harvester/harvester-network-controller/pkg/webhook/nad"
)

type request struct {
	ClusterNetworks []networkv1.ClusterNetwork `json:"clusterNetworks"`
	VlanConfigs     []networkv1.VlanConfig     `json:"vlanConfigs"`
	Steps           []step                     `json:"steps"`
}

type step struct {
	Op             string                             `json:"op"`
	NAD            *cniv1.NetworkAttachmentDefinition `json:"nad,omitempty"`
	ClusterNetwork string                             `json:"clusterNetwork,omitempty"`
	MTU            int                                `json:"mtu,omitempty"`
}

// admitted is one pass through the webhooks.
type admitted struct {
	Allowed bool                               `json:"allowed"`
	Error   string                             `json:"error,omitempty"`
	Patch   admission.Patch                    `json:"patch,omitempty"`
	Stored  *cniv1.NetworkAttachmentDefinition `json:"stored,omitempty"`
}

// labelled is what the NAD controller derives from a stored NAD (pkg/controller/manager/nad ensureLabels).
type labelled struct {
	ClusterNetwork string            `json:"clusterNetwork,omitempty"`
	NetworkType    string            `json:"networkType,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Error          string            `json:"error,omitempty"`
	// Update is the controller's relabelling update (through the webhooks), when the labels changed.
	Update *admitted `json:"update,omitempty"`
	// VlanSet is the cluster network's VLAN ID set recomputed from its NADs (UpdateClusterNetworkVlanSet).
	VlanSet      string `json:"vlanSet,omitempty"`
	VlanSetError string `json:"vlanSetError,omitempty"`
}

type verdict struct {
	Op         string     `json:"op"`
	Admission  *admitted  `json:"admission,omitempty"`
	Controller *labelled  `json:"controller,omitempty"`
	MTUSync    []admitted `json:"mtuSync,omitempty"`
}

type harness struct {
	cs        *fake.Clientset
	mutator   *nad.Mutator
	validator *nad.Validator
	stored    map[string]*cniv1.NetworkAttachmentDefinition
}

func newHarness(req *request) (*harness, error) {
	cs := fake.NewSimpleClientset()
	for i := range req.ClusterNetworks {
		if _, err := fakeclients.ClusterNetworkClient(cs.NetworkV1beta1().ClusterNetworks).Create(&req.ClusterNetworks[i]); err != nil {
			return nil, err
		}
	}
	for i := range req.VlanConfigs {
		if _, err := fakeclients.VlanConfigClient(cs.NetworkV1beta1().VlanConfigs).Create(&req.VlanConfigs[i]); err != nil {
			return nil, err
		}
	}
	cnCache := fakeclients.ClusterNetworkCache(cs.NetworkV1beta1().ClusterNetworks)
	vcCache := fakeclients.VlanConfigCache(cs.NetworkV1beta1().VlanConfigs)
	return &harness{
		cs:      cs,
		mutator: nad.NewNadMutator(cnCache, vcCache, fakeclients.NodeCache(cs.CoreV1().Nodes)),
		validator: nad.NewNadValidator(
			fakeclients.VirtualMachineCache(cs.KubevirtV1().VirtualMachines),
			fakeclients.VirtualMachineInstanceCache(cs.KubevirtV1().VirtualMachineInstances),
			cnCache, vcCache,
			fakeclients.SubnetCache(cs.KubeovnV1().Subnets), false,
			fakeclients.HostNetworkConfigCache(cs.NetworkV1beta1().HostNetworkConfigs),
			fakeclients.NetworkAttachmentDefinitionCache(cs.K8sCniCncfIoV1().NetworkAttachmentDefinitions),
		),
		stored: map[string]*cniv1.NetworkAttachmentDefinition{},
	}, nil
}

func key(n *cniv1.NetworkAttachmentDefinition) string { return n.Namespace + "/" + n.Name }

func applyPatch(obj *cniv1.NetworkAttachmentDefinition, patch admission.Patch) (*cniv1.NetworkAttachmentDefinition, error) {
	if len(patch) == 0 {
		return obj, nil
	}
	doc, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	p, err := json.Marshal(patch)
	if err != nil {
		return nil, err
	}
	decoded, err := jsonpatch.DecodePatch(p)
	if err != nil {
		return nil, err
	}
	out, err := decoded.Apply(doc)
	if err != nil {
		return nil, err
	}
	res := &cniv1.NetworkAttachmentDefinition{}
	return res, json.Unmarshal(out, res)
}

// admit runs the mutating then the validating webhook (the API server's order) and stores the result.
func (h *harness) admit(obj *cniv1.NetworkAttachmentDefinition) *admitted {
	old, exists := h.stored[key(obj)]
	var patch admission.Patch
	var err error
	if exists {
		patch, err = h.mutator.Update(nil, old, obj)
	} else {
		patch, err = h.mutator.Create(nil, obj)
	}
	if err != nil {
		return &admitted{Error: "mutator: " + err.Error()}
	}
	mutated, err := applyPatch(obj.DeepCopy(), patch)
	if err != nil {
		return &admitted{Patch: patch, Error: "patch: " + err.Error()}
	}
	if exists {
		err = h.validator.Update(nil, old, mutated)
	} else {
		err = h.validator.Create(nil, mutated)
	}
	if err != nil {
		return &admitted{Patch: patch, Error: "validator: " + err.Error()}
	}
	h.stored[key(mutated)] = mutated
	return &admitted{Allowed: true, Patch: patch, Stored: mutated}
}

// relabel is the NAD controller's OnChange label step (ensureLabels) and its VLAN set recomputation,
// from the exported utils functions it is made of.
func (h *harness) relabel(stored *cniv1.NetworkAttachmentDefinition) *labelled {
	out := &labelled{}
	conf, err := utils.DecodeNadConfigToNetConf(stored)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	cnName, err := conf.GetClusterNetworkName()
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out.ClusterNetwork = cnName
	if t, err := conf.GetNetworkType(); err == nil {
		out.NetworkType = string(t)
	} else {
		out.Error = err.Error()
		return out
	}
	copied := stored.DeepCopy()
	if copied.Labels == nil {
		copied.Labels = map[string]string{}
	}
	if err := conf.SetNetworkInfoToLabels(copied.Labels); err != nil {
		out.Error = err.Error()
		return out
	}
	cn, err := fakeclients.ClusterNetworkCache(h.cs.NetworkV1beta1().ClusterNetworks).Get(cnName)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	ready := utils.ValueFalse
	if networkv1.Ready.IsTrue(cn.Status) {
		ready = utils.ValueTrue
	}
	utils.SetNadLabel(copied, utils.KeyNetworkReady, ready)
	out.Labels = copied.Labels
	if !reflect.DeepEqual(stored.Labels, copied.Labels) {
		out.Update = h.admit(copied)
	}
	var onCn []*cniv1.NetworkAttachmentDefinition
	for _, n := range h.stored {
		if n.Labels[utils.KeyClusterNetworkLabel] == cnName {
			onCn = append(onCn, n)
		}
	}
	vis, err := utils.NewVlanIDSetFromNadList(onCn)
	if err != nil {
		out.VlanSetError = err.Error()
	} else {
		out.VlanSet, _ = vis.VidSetToStringHash()
	}
	return out
}

// mtuSync is the NAD controller's OnCNChange after the cluster network's uplink MTU annotation changed:
// every NAD labelled with the cluster network whose `mtu` differs gets `mtu` set with sjson (the
// controller's own library call) and is updated through the webhooks.
func (h *harness) mtuSync(cnName string, mtu int) ([]admitted, error) {
	client := fakeclients.ClusterNetworkClient(h.cs.NetworkV1beta1().ClusterNetworks)
	cn, err := client.Get(cnName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if cn.Annotations == nil {
		cn.Annotations = map[string]string{}
	}
	cn.Annotations[utils.KeyUplinkMTU] = fmt.Sprint(mtu)
	if _, err := client.Update(cn); err != nil {
		return nil, err
	}
	var out []admitted
	for _, n := range h.stored {
		if n.Labels[utils.KeyClusterNetworkLabel] != cnName {
			continue
		}
		conf := &utils.NetConf{}
		if err := json.Unmarshal([]byte(n.Spec.Config), conf); err != nil {
			out = append(out, admitted{Error: err.Error()})
			continue
		}
		if utils.AreEqualMTUs(mtu, conf.MTU) {
			continue
		}
		config, err := sjson.Set(n.Spec.Config, "mtu", mtu)
		if err != nil {
			out = append(out, admitted{Error: err.Error()})
			continue
		}
		updated := n.DeepCopy()
		updated.Spec.Config = config
		out = append(out, *h.admit(updated))
	}
	return out, nil
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "harvester-nad: cannot decode the request:", err)
		os.Exit(2)
	}
	h, err := newHarness(&req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "harvester-nad:", err)
		os.Exit(2)
	}
	var out []verdict
	for _, s := range req.Steps {
		v := verdict{Op: s.Op}
		switch s.Op {
		case "create", "update":
			if s.NAD == nil {
				fmt.Fprintln(os.Stderr, "harvester-nad: step", s.Op, "has no nad")
				os.Exit(2)
			}
			v.Admission = h.admit(s.NAD)
			if v.Admission.Allowed {
				v.Controller = h.relabel(v.Admission.Stored)
			}
		case "cn-mtu":
			sync, err := h.mtuSync(s.ClusterNetwork, s.MTU)
			if err != nil {
				fmt.Fprintln(os.Stderr, "harvester-nad:", err)
				os.Exit(2)
			}
			v.MTUSync = sync
		default:
			fmt.Fprintln(os.Stderr, "harvester-nad: unknown op", s.Op)
			os.Exit(2)
		}
		out = append(out, v)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
}
