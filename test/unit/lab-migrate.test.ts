/**
 * The lab's live migration as KubeVirt does it: the target is a new launcher pod (its own name, sandbox and
 * CNI attachment, hence its own node port), and the switchover hands the guest's addresses and routes to the
 * target pod's interface in one `ip -batch`.
 */
import { describe, expect, it } from 'vitest';
import { attachmentOf, labPortName, launcherPodName, launcherSandbox } from '../../src/lab/cni.js';
import { ANNOUNCE_ROUNDS, guestSwitchBatch, switchoverScript } from '../../src/lab/topology.js';

const vm = { name: 'vm-a1', namespace: 'tenant-a', netns: 'vxm-demo-vm-a1' };
const nic = { name: 'nic1', mac: '02:00:0a:00:01:01' };

describe('launcher pods', () => {
  it('the first pod is the VM namespace itself; each migration target has a sandbox, pod name and port of its own', () => {
    expect(launcherSandbox(vm)).toBe('vxm-demo-vm-a1');
    expect(launcherSandbox({ ...vm, pod: 2 })).toBe('vxm-demo-vm-a1-m2');
    const names = [0, 1, 2].map((pod) => launcherPodName({ ...vm, pod }));
    for (const n of names) expect(n).toMatch(/^virt-launcher-vm-a1-[0-9a-f]{5}$/);
    expect(new Set(names).size).toBe(3);
    const ports = [0, 1, 2].map((pod) => labPortName({ ...vm, pod }, nic));
    expect(new Set(ports).size).toBe(3);
    expect(attachmentOf({ ...vm, pod: 1 }, nic)).toMatchObject({ containerId: 'vxm-demo-vm-a1-m1', netns: '/var/run/netns/vxm-demo-vm-a1-m1', podName: names[1], mac: nic.mac });
  });
});

describe('guestSwitchBatch', () => {
  it('renames the old NIC away, gives the target interface the guest name and addresses, then the routes with the default last', () => {
    const lines = guestSwitchBatch([
      { ifname: 'eth0', podIfname: 'pod16367aacb67', addresses: ['10.10.0.3/24'], routes: [{ dst: 'default', gateway: '10.10.0.1' }] },
      { ifname: 'eth1', podIfname: 'podabc', addresses: ['10.20.0.5/24'], routes: [{ dst: '10.99.0.0/16', gateway: '10.20.0.1', metric: 5 }] },
    ]);
    expect(lines).toEqual([
      'link set dev eth0 down', 'link set dev eth0 name vxmold0', 'link set dev pod16367aacb67 name eth0', 'addr add 10.10.0.3/24 dev eth0', 'link set dev eth0 up',
      'link set dev eth1 down', 'link set dev eth1 name vxmold1', 'link set dev podabc name eth1', 'addr add 10.20.0.5/24 dev eth1', 'link set dev eth1 up',
      'route add 10.99.0.0/16 via 10.20.0.1 dev eth1 metric 5',
      'route add default via 10.10.0.1 dev eth0',
    ]);
  });

  it('a guest without an address yet (DHCP pending) gets the interface and no address line', () => {
    expect(guestSwitchBatch([{ ifname: 'eth0', podIfname: 'p', addresses: [], routes: [] }]).filter((l) => l.startsWith('addr'))).toEqual([]);
  });
});

describe('switchoverScript', () => {
  it('runs for real: waits for the word, switches, says so, announces in rounds, and fails when an announcement fails', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'vxm-switch-'));
    // Stand-ins for ip and arping on PATH that log their arguments (arping fails for the address 10.0.0.9).
    writeFileSync(path.join(dir, 'ip'), `#!/bin/sh\necho "ip $*" >> ${dir}/log\n`, { mode: 0o755 });
    writeFileSync(path.join(dir, 'arping'), `#!/bin/sh\necho "arping $*" >> ${dir}/log\ncase "$*" in *10.0.0.9*) echo "arping: failed" >&2; exit 2;; esac\n`, { mode: 0o755 });
    const script = switchoverScript('vxm-s', '/m', '/s', [{ ifname: 'eth0', ip: '10.0.0.3' }, { ifname: 'eth1', ip: '10.0.1.3' }]);
    const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
    const t0 = Date.now();
    const ok = spawnSync('sh', ['-c', script], { input: 'go\n', env, encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual((ANNOUNCE_ROUNDS - 1) * 100);
    expect(ok.stdout).toBe('switched\n');
    const { readFileSync } = await import('node:fs');
    const log = readFileSync(path.join(dir, 'log'), 'utf8').trim().split('\n');
    expect(log.slice(0, 2)).toEqual(['ip -n vxm-s -batch /m', 'ip -batch /s']);
    expect(log.slice(2).sort()).toEqual([...Array(ANNOUNCE_ROUNDS).fill('arping -U -c 1 -I eth0 10.0.0.3'), ...Array(ANNOUNCE_ROUNDS).fill('arping -U -c 1 -I eth1 10.0.1.3')].sort());
    // No word on stdin: nothing happens.
    expect(spawnSync('sh', ['-c', script], { input: '', env, encoding: 'utf8' }).status).toBe(3);
    const bad = spawnSync('sh', ['-c', switchoverScript('vxm-s', '/m', '/s', [{ ifname: 'eth0', ip: '10.0.0.9' }])], { input: 'go\n', env, encoding: 'utf8' });
    expect(bad.status).toBe(6);
    expect(bad.stderr).toContain('arping: failed');
  });
});
