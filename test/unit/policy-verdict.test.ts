import { describe, expect, it } from 'vitest';
import type { NetworkPolicyIntent } from '../../src/intent/policy-types.js';
import { describeDenial, policyVerdict } from '../../src/intent/verdict.js';
import { ipToInt } from '../../src/util/ipv4.js';

const r = (a: string, b = a) => ({ from: ipToInt(a), to: ipToInt(b) });
const WEB = { mac: '02:00:00:00:00:01', ip: '10.10.0.2' };
const CLIENT = { mac: '02:00:00:00:00:02', ip: '10.10.0.3' };
const OTHER = { mac: '02:00:00:00:00:03', ip: '10.10.0.4' };
/** db: ingress from CLIENT on tcp/5432 only; WEB: egress to 10.10.0.0/24 on any port, nothing else. */
const np: NetworkPolicyIntent = {
  endpoints: [
    { vm: 'ns/web', iface: 'nic1', mac: WEB.mac, ip: WEB.ip, local: true, ingress: 1, egress: 2 },
  ],
  groups: [
    { id: 1, direction: 'ingress', vni: 100, policies: ['ns/db-only'], rules: [{ policy: 'ns/db-only', index: 0, peers: [r(CLIENT.ip)], ports: [{ protocol: 'tcp', from: 5432, to: 5432 }] }] },
    { id: 2, direction: 'egress', vni: 100, policies: ['ns/egress'], rules: [{ policy: 'ns/egress', index: 0, peers: [r('10.10.0.0', '10.10.0.255')] }] },
  ],
};

describe('policy verdict of a first packet', () => {
  it('allows what a rule of the receiver\'s ingress group allows, on that protocol and port only', () => {
    expect(policyVerdict(np, CLIENT, WEB, { protocol: 'tcp', port: 5432 })).toEqual({ allowed: true });
    expect(policyVerdict(np, CLIENT, WEB, { protocol: 'tcp', port: 5433 })).toMatchObject({ allowed: false, direction: 'ingress', policies: ['ns/db-only'] });
    expect(policyVerdict(np, CLIENT, WEB, { protocol: 'udp', port: 5432 }).allowed).toBe(false);
    expect(policyVerdict(np, CLIENT, WEB, { protocol: 'icmp' }).allowed).toBe(false); // a port rule allows no ICMP
    const other = policyVerdict(np, OTHER, WEB, { protocol: 'tcp', port: 5432 });
    expect(other.allowed).toBe(false);
    if (!other.allowed) expect(describeDenial(other)).toBe('denied by ns/db-only (ingress of ns/web/nic1)');
  });

  it('checks the sender\'s egress group against the destination; unselected endpoints and no policy are open', () => {
    expect(policyVerdict(np, WEB, OTHER, { protocol: 'icmp' })).toEqual({ allowed: true }); // a rule without ports: everything
    expect(policyVerdict(np, WEB, { ip: '198.18.0.254' }, { protocol: 'tcp', port: 8080 })).toMatchObject({ allowed: false, direction: 'egress', vm: 'ns/web/nic1' });
    expect(policyVerdict(np, OTHER, CLIENT, { protocol: 'tcp', port: 1 })).toEqual({ allowed: true });
    expect(policyVerdict(undefined, OTHER, WEB, { protocol: 'tcp', port: 1 })).toEqual({ allowed: true });
    // The receiver is found by MAC: an equal IP of another MAC is not the selected VM.
    expect(policyVerdict(np, OTHER, { mac: '02:00:00:00:00:09', ip: WEB.ip }, { protocol: 'tcp', port: 1 })).toEqual({ allowed: true });
  });
});
