import { describe, expect, it } from 'vitest';
import { isBridgePortEvent } from '../../src/agent/link-watch.js';

// Lines as `ip -o monitor link` prints them on this kernel (iproute2 6.1).
const PLUGGED = '4: vxmp1@if3: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue master vxb100 state LOWERLAYERDOWN group default \\    link/ether b2:ed:c2:c0:27:40 brd ff:ff:ff:ff:ff:ff';
const LEFT = 'Deleted 4: vxmp1@vxmp1b: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 master vxb100 state DOWN \\    link/ether b2:ed:c2:c0:27:40';
const UNPLUGGED_NEW = '4: vxmp1@if3: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether b2:ed:c2:c0:27:40 brd ff:ff:ff:ff:ff:ff link-netnsid 0';
const BRIDGE_ITSELF = '2: vxb100: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default event FEATURE CHANGE \\    link/ether 5a:44:91:17:7f:39 brd ff:ff:ff:ff:ff:ff';
const OWN_GATEWAY_LEG = '7: vxg100@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue master vxb100 state UP group default \\    link/ether 02:76:6d:00:00:64 brd ff:ff:ff:ff:ff:ff';
const OTHER_BRIDGE = '9: tap0: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue master br0 state UP \\    link/ether 02:00:00:00:00:01';

describe('link monitor events', () => {
  it('reacts to a VM port joining or leaving a vxmesh bridge', () => {
    expect(isBridgePortEvent(PLUGGED)).toBe(true);
    expect(isBridgePortEvent(LEFT)).toBe(true);
  });

  it("ignores links not on a vxmesh bridge, the bridge itself and vxmesh's own devices", () => {
    for (const l of [UNPLUGGED_NEW, BRIDGE_ITSELF, OWN_GATEWAY_LEG, OTHER_BRIDGE, '', 'garbage']) expect(isBridgePortEvent(l), l).toBe(false);
  });
});
