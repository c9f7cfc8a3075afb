import { describe, expect, it } from 'vitest';
import { parseCriteria } from '../failover/criteria/parse.js';
import { renderExplain } from './explain.js';
import { planShadows } from './plan.js';
import { assessRisk } from './risk.js';
import { sizeShadow } from './sizing.js';
import { chooseSync } from './sync-policy.js';
import { forecastOf } from './test-forecasts.js';

const NOW = 1_700_000_000; // 2023-11-14T22:13:20Z

describe('renderExplain', () => {
  it('prints every number behind the risk and the decision', () => {
    const forecasts = [forecastOf('cpu_pct', NOW + 300, 300, [50, 80, 90, 60])];
    const a = assessRisk({
      vmId: 'vm1',
      nowSeconds: NOW,
      horizonSeconds: 3600,
      allocation: { vcpus: 2, memoryMiB: 1024 },
      criteria: parseCriteria('cpu > 90% for 5m or host_lost'),
      forecasts,
      failoverPriority: 2,
      health: { probes: { failed: 3, total: 30 }, anomaly: { checked: 20, outside: 5 } },
    });
    const size = sizeShadow({ flavor: 'warm', primary: { vcpus: 2, memoryMiB: 1024, maxVcpus: 4, maxMemoryMiB: 2048 }, forecasts, nowSeconds: NOW, horizonSeconds: 3600 });
    const plan = planShadows({
      nowMs: NOW * 1000,
      vms: [{ id: 'vm1', host: 'h1', risk: a.risk, threshold: 0.2, priority: 2, maxShadowAgeSeconds: 86400, size }],
      shadows: [],
      hosts: [
        { name: 'h1', labels: { zone: 'a' }, alive: true, capacity: { cores: 4, memoryMiB: 8192 }, reserved: { vcpus: 2, memoryMiB: 1024 } },
        { name: 'h2', labels: { zone: 'b' }, alive: true, capacity: { cores: 4, memoryMiB: 8192 }, reserved: { vcpus: 0, memoryMiB: 0 } },
        { name: 'h3', labels: {}, alive: false, capacity: { cores: 4, memoryMiB: 8192 }, reserved: { vcpus: 0, memoryMiB: 0 } },
      ],
      budgets: { total: {}, per_host: {} },
    });
    const sync = chooseSync({ policy: { synchronization_mode: 'async', synchronization_interval: 300, shadow_flavor: 'warm', max_data_loss: 0, max_downtime: 30 } });
    const text = renderExplain({ assessment: a, decision: plan.decisions.get('vm1'), size, sync });
    expect(text).toBe(
      [
        'VM vm1: risk 0.896 (create at ≥ 0.200, retire below 0.100): create on h2 (16 vCPU, 8192 MiB free, other domain (b)): risk 0.896 ≥ threshold 0.2',
        'forecast horizon 1h from 2023-11-14T22:13:20Z',
        '',
        'Breach probability per threshold (max over the horizon):',
        '  criteria    cpu > 90% for 5m                     cpu_pct > 90 % for 1 step(s)  p=0.500  worst 2023-11-14T22:28:20Z (mean 90, 95% [70, 110])',
        '  allocation  cpu over its 2 allocated vCPUs       cpu_pct > 100 %               p=0.100  worst 2023-11-14T22:28:20Z (mean 90, 95% [70, 110])',
        '  allocation  memory over its 1024 MiB allocation  —                             p=0.000  no forecast of mem_rss_mib',
        '  → breach probability 0.500 (cpu > 90% for 5m)',
        '',
        'Health:',
        '  probes: 3/30 failed (0.100) × weight 1 → 0.100',
        "  anomaly: 5/20 samples outside the forecast's 95% interval (expected 5%), excess 0.211, binomial p=2.6e-3 significant → 0.105",
        '  combined with the breach probability (1 − Π(1 − term)): 0.597',
        'priority 2: weight 1.5 → risk min(1, 0.597 × 1.5) = 0.896 ≥ threshold 0.200',
        '',
        'Decision: create on h2 (16 vCPU, 8192 MiB free, other domain (b)): risk 0.896 ≥ threshold 0.2',
        '  create on h2 (3 vCPU, 1024 MiB): risk',
        'Placement candidates (create):',
        '  1. h2  zone b (other domain), 0 shadow(s) in its domain, 81% free after  chosen',
        "  - h1  zone a, 0 shadow(s) in its domain  rejected (primary_host): the primary's host",
        '  - h3  no domain label, 0 shadow(s) in its domain  rejected (host_down): not alive (no lease)',
        'Size: 3 vCPU (max 4), 1024 MiB (max 2048)',
        '  vCPUs 3: ceil(2.2 cores, 95% upper of cpu_pct × 2 vCPUs / 100)',
        "  memory 1024 MiB: no mem_rss_mib forecast within the horizon, the primary's",
        'Sync: mode sync, flavor warm; crash recovery warm-takeover (~1s)',
        '  mode sync (not async): max_data_loss is 0: only a write-blocking mirror loses no acknowledged write',
        '  flavor warm: as configured (takeover about 1s, max_downtime 30s)',
      ].join('\n'),
    );
  });
});
