/** Help texts of `vxmesh lab` and its subcommands. */
export const LAB_USAGE = `Usage: vxmesh lab COMMAND [options]

A multi-node vxmesh lab on this machine: every node is a network namespace on a shared underlay
(198.18.0.0/24) running a real \`vxmesh agent\`; every VM is a namespace whose port is plugged into its
node's bridge; an optional external host (198.18.0.254) answers TCP 8080 with the source address it saw.
State lives in /run/vxmesh/<lab>/. Commands that act on a running lab take --lab NAME when several run.

Commands:
  up -f FILE [--mode M] [--source file|kubernetes]
                            create the lab from FILE (or converge a running one), print status and connectivity
  apply -f FILE             validate FILE, re-run IPAM, update the running lab (VMs added/removed)
  migrate VM --to NODE      live-migrate a VM to another node (it keeps its IP, MAC and gateway)
  restart NODE|controller|apiserver
                            restart a node's agent (traffic keeps flowing), the controller or the API server
  exec NAME -- CMD…         run CMD in a VM, a node, or \`external\`
  status [--json|--matrix]  nodes (mode, agent ready) and VMs; --matrix re-runs the connectivity probes
  inspect NODE [--json]     what the node's dataplane holds (vxmesh inspect inside the node)
  monitor NODE [--all] …    live drops with their reasons (vxmesh monitor inside the node)
  down                      stop the agents and remove everything the lab created

Run \`vxmesh lab COMMAND --help\` for a command's options.`;

export const LAB_HELP: Record<string, string> = {
  up: `Usage: vxmesh lab up -f FILE [--mode auto|bpf|kernel] [--source file|kubernetes]

Validates FILE (cluster objects plus one network.vxmesh.io/v1alpha1 Lab object) and creates nothing when
anything is wrong. Then builds the underlay, the nodes (198.18.0.11, .12, …), the external host, one bpffs
and one agent per node, allocates VM addresses (IPAM), creates the VMs, waits for every agent to be ready
and prints a status table and a connectivity matrix (expected vs observed). When the lab already runs,
converges it to FILE instead. --mode overrides the Lab's spec.mode. Exits 1 when a probe mismatches.

--source file (default): the agents read a state directory the lab writes (/run/vxmesh/<lab>/state).
--source kubernetes: the whole cluster flow on one machine. The lab starts a real control plane (etcd and
kube-apiserver, built from their Go modules on first use — minutes, once — and cached in
/var/cache/vxmesh/tools), installs deploy/ (without its workloads) and the upstream CRDs, and runs the real
\`vxmesh controller\` (ServiceAccount vxmesh-controller); it applies FILE's objects to the API like
\`kubectl apply --server-side --prune\`, the controller allocates the addresses (VxlanIPAllocations) and the
agents (--source kubernetes, ServiceAccount vxmesh-agent, a token bound to their node) read everything
through informers and publish their VxlanStatus. The agents reach the API at https://198.18.0.250:6443 on
the underlay; on this machine use KUBECONFIG=/run/vxmesh/<lab>/kubeconfig (admin). A running lab keeps the source it started with.`,
  apply: `Usage: vxmesh lab apply -f FILE

Validates FILE (a clear error naming object and field, and no change, when anything is wrong), re-runs IPAM
(existing addresses are kept), rewrites the agents' state atomically (with the Kubernetes source: creates,
updates and prunes the objects in the API server, and the controller allocates) and creates or deletes the
VMs that appeared or disappeared. Running VMs stay on their node: use \`lab migrate\` to move one.`,
  migrate: `Usage: vxmesh lab migrate VM --to NODE [--lab NAME]

Live-migrates VM as KubeVirt does: names NODE as the target in the VMI's status.migrationState (the VM still
runs on its node), moves its port to NODE's bridge (processes in the VM keep running), completes the VMI
status (nodeName, migrationState.completed), announces the guest with a gratuitous ARP and waits until every
agent has converged.`,
  restart: `Usage: vxmesh lab restart NODE|controller|apiserver [--down-ms N] [--lab NAME]

Stops NODE's agent (SIGTERM: the dataplane is left as it is) and starts it again; waits until it is ready.
Labs with --source kubernetes: \`controller\` restarts the controller (every address stays allocated);
\`apiserver\` stops kube-apiserver (gracefully), keeps it down for --down-ms (default 0) and starts it again
on the same etcd and port: every object is kept, the agents' and the controller's watches reconnect.
Traffic keeps flowing meanwhile.`,
  exec: `Usage: vxmesh lab exec NAME [--lab NAME] -- CMD…

Runs CMD inside the namespace of NAME: a VM, a node, \`external\` or \`underlay\`. Exits with CMD's status.`,
  status: `Usage: vxmesh lab status [--json] [--matrix] [--lab NAME]

Prints the nodes (underlay IP, dataplane mode, agent ready) and the VMs (namespace, node, network, MAC, IP).
--json prints {lab, source, apiserver?:{url, agentUrl, kubeconfig, running, controllerRunning, version,
etcdVersion, etcdRunning},
nodes:[{name, netns, underlayIP, mode, agentReady}], vms:[{name, namespace, node, netns,
interfaces:[{name, network, mac, ip, guest}]}], external?}. --matrix also runs the connectivity probes (exit 1 on mismatch).`,
  inspect: `Usage: vxmesh lab inspect NODE [--json] [--lab NAME]

Runs \`vxmesh inspect\` inside NODE: what its dataplane holds, in human form.`,
  monitor: `Usage: vxmesh lab monitor NODE [--drops|--all] [--vni N] [--vm X] [--json] [--interval S] [--duration S] [--lab NAME]

Runs \`vxmesh monitor\` inside NODE: its BPF programs' drops (with --all, every verdict) as they happen,
with their reasons, named with the lab's networks and VMs. Stop with Ctrl-C.`,
  down: `Usage: vxmesh lab down [--lab NAME | -f FILE | --all]

Stops the agents (SIGTERM, then SIGKILL), the controller and the lab's control plane (its etcd data goes
with the lab directory), deletes every vxm-<lab>-* namespace and the nodes' router
namespaces, unmounts the bpffs mounts and removes /run/vxmesh/<lab>. Leaves nothing behind; idempotent.`,
};
