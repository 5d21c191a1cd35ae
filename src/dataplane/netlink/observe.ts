/**
 * One read of everything vxmesh may own in the node namespace: links (+addresses), FDB, neighbours,
 * vxmesh* nft tables, ip_forward. Plans (bridges, gateway, kernel) are pure functions over this.
 */
import { listLinks, type LinkInfo } from './link.js';
import { listFdb, type FdbEntry } from './fdb.js';
import { listNeigh, type NeighEntry } from './neigh.js';
import { listOwnedTables, type ObservedTable } from './nft.js';
import { readSysctl, IP_FORWARD } from './sysctl.js';

export interface NodeObserved {
  links: LinkInfo[];
  fdb: FdbEntry[];
  neigh: NeighEntry[];
  tables: ObservedTable[];
  ipForward?: string;
}

export async function observeNode(opts: { netns?: string }): Promise<NodeObserved> {
  const [links, fdb, neigh, tables, ipForward] = await Promise.all([
    listLinks(opts),
    listFdb(opts),
    listNeigh(opts),
    listOwnedTables(opts),
    readSysctl(IP_FORWARD, opts),
  ]);
  return { links, fdb, neigh, tables, ipForward };
}

export const emptyNode = (): NodeObserved => ({ links: [], fdb: [], neigh: [], tables: [] });
