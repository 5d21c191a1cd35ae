import { describe, expect, it } from 'vitest';
import { agentMetrics, startHealthServer } from '../../src/metrics/index.js';

describe('agent health and metrics endpoints', () => {
  it('answers /healthz, /readyz and /metrics in the Prometheus text format', async () => {
    const m = agentMetrics();
    let ready = false;
    m.reconcileDuration.observe({ result: 'ok' }, 0.004);
    m.entriesProgrammed.set({ kind: 'fdb' }, 12);
    m.registry.collect(() => m.packets.set({ vni: 100, direction: 'tx', result: 'forwarded' }, 42));
    const s = await startHealthServer({ port: 0, host: '127.0.0.1', ready: () => ready, metrics: () => m.registry.render() });
    try {
      const get = (p: string) => fetch(`http://127.0.0.1:${s.port}${p}`);
      expect((await get('/healthz')).status).toBe(200);
      expect((await get('/readyz')).status).toBe(503);
      ready = true;
      expect((await get('/readyz')).status).toBe(200);
      const r = await get('/metrics');
      expect(r.headers.get('content-type')).toContain('version=0.0.4');
      const text = await r.text();
      expect(text).toContain('# TYPE vxmesh_reconcile_duration_seconds histogram');
      expect(text).toContain('vxmesh_reconcile_duration_seconds_bucket{le="0.005",result="ok"} 1');
      expect(text).toContain('vxmesh_reconcile_duration_seconds_bucket{le="+Inf",result="ok"} 1');
      expect(text).toContain('vxmesh_reconcile_duration_seconds_count{result="ok"} 1');
      expect(text).toContain('# TYPE vxmesh_entries_programmed gauge');
      expect(text).toContain('vxmesh_entries_programmed{kind="fdb"} 12');
      expect(text).toContain('vxmesh_packets_total{direction="tx",result="forwarded",vni="100"} 42');
      for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \S+ .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? \S+)$/);
    } finally {
      await s.close();
    }
  });
});
