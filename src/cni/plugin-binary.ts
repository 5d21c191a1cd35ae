/**
 * Where vxmesh's CNI plugin is, for the runtime side here (the lab and the tests, playing Multus): the
 * static Go binary `vxmesh-cni` that build/cni-plugin.sh (run by build/setup.sh) builds from cni/ into
 * build/out/cni/. On a node the agent DaemonSet installs the same binary into the host's CNI bin dir.
 */
import path from 'node:path';

/** The CNI_PATH directory holding `vxmesh-cni` in a checkout at `repo`. */
export const pluginDir = (repo: string) => path.join(repo, 'build', 'out', 'cni');
