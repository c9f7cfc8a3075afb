/**
 * Risk-driven shadows on the lab (issue 4 §1, §6), real everything: three hosts, three VMs, the
 * real server with a policy file, real QEMU guests and storage daemons.
 *
 * Each VM gets a month of real CPU history imported from a shared Bitbrains file, time-shifted
 * so that it ends now: vm1 and vm2 from busy VMs (53 and 67: about 40 % of their samples above
 * 90 %), vm3 from a quiet one (259: never above 3.3 %). The failover criteria are
 * `cpu > 90% for 5m or host_lost`, the budget holds one shadow core, vm1 has the higher
 * failover priority and asks for a `migrate` shadow. Expected: vm1 gets a shadow on another host
 * that reaches `synchronized`; vm2 qualifies too but the budget is spent (an `unplaced` alert);
 * vm3 gets none. Then the migrate shadow's rehearsal boots a throwaway copy of its disk and
 * reports its time to ready while the mirror stays ready.
 * At most 5 QEMUs at once (3 primaries, the shadow, the rehearsal copy for a few seconds).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageSample } from '../src/api/protocol.js';
import type { RehearsalResult } from '../src/api/shadow-protocol.js';
import { cliEntry, type LabUpResult } from '../src/lab/index.js';
import { findProcessesMentioning } from '../src/lab/procs.js';
import type { ShadowView } from '../src/server/shadow-routes.js';
import type { VerifyResult } from '../src/shadow/reconciler.js';
import type { AlertRow } from '../src/store/store.js';
import { labRunner, serverApi } from './support/lab.js';
import { untilWithin } from './support/poll.js';

const isRoot = process.getuid?.() === 0;
const stateDir = mkdtempSync('/tmp/ushr-');
const env = { ...process.env, UMBRA_STATE_DIR: stateDir };
const DATA = process.env.UMBRA_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'data');
const HISTORY = { vm1: '53.csv', vm2: '67.csv', vm3: '259.csv' } as const;

const POLICY = `
policies:
  failover_criteria: "cpu > 90% for 5m or host_lost"
  shadow_creation_threshold: 0.2
  groups:
    - name: critical
      match: { names: [vm1] }
      failover_priority: 2
      shadow_flavor: migrate
budgets:
  total: { cores: 1 }
`;

const lab = labRunner(env);

let up: LabUpResult;

const api = serverApi(() => up, 180_000);

const until = untilWithin(180_000);

/** The CPU usage [%] column of a Bitbrains file as samples of `vmId`, shifted to end at `endS`. */
function bitbrainsCpu(file: string, vmId: string, endS: number): UsageSample[] {
  const rows = readFileSync(join(DATA, 'bitbrains', 'rnd', '2013-8', file), 'utf8').trim().split('\n').slice(1);
  const parsed = rows.map((l) => l.split(';\t')).map((c) => ({ t: Number(c[0]), v: Number(c[4]) }));
  const shift = endS - parsed[parsed.length - 1].t;
  return parsed.map((p) => ({ vmId, t: p.t + shift, metric: 'cpu_pct', value: p.v, unit: '%' }));
}

const shadowsOf = async (vmId: string) => (await api<{ shadows: ShadowView[] }>('GET', `/v1/vms/${vmId}/shadows`)).shadows.filter((s) => s.phase === 'active');

describe.skipIf(!isRoot)('risk-driven shadows: Bitbrains history, budget, a migrate shadow rehearsed', () => {
  beforeAll(() => {
    cliEntry();
  });

  afterAll(async () => {
    await lab('down').catch((e: unknown) => console.error('lab down in afterAll failed:', e));
    rmSync(stateDir, { recursive: true, force: true });
  }, 90_000);

  it('lab up with a policy: three VMs, no shadow before any history', async () => {
    const policy = join(stateDir, 'policy.yaml');
    writeFileSync(policy, POLICY);
    const r = await lab('up', { hosts: '3', vms: '3', policy, interval: '5s', json: true });
    expect(r.code, r.err).toBe(0);
    up = JSON.parse(r.out) as LabUpResult;
    expect(up.vms.map((v) => v.id)).toEqual(['vm1', 'vm2', 'vm3']);
    for (const v of ['vm1', 'vm2', 'vm3']) expect(await shadowsOf(v)).toEqual([]);
  }, 300_000);

  it('history that predicts a breach gets a shadow on another host; the budget holds; low risk gets none', async () => {
    const endS = Math.floor(Date.now() / 1000) - 60;
    for (const [vmId, file] of Object.entries(HISTORY)) {
      const samples = bitbrainsCpu(file, vmId, endS);
      const r = await api<{ accepted: number }>('POST', '/v1/samples', { agent: 'import', samples });
      expect(r.accepted).toBe(samples.length);
    }
    const t0 = performance.now();
    const report = await api<{ forecast: number }>('POST', '/v1/profile', {}, 600_000);
    console.log(`[measured] profiler pass over the imported history: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${report.forecast} series forecast`);

    const shadow = await until('vm1 shadow synchronized', async () => (await shadowsOf('vm1')).find((s) => s.status.sync === 'synchronized'), 240_000);
    const vm1 = up.vms.find((v) => v.id === 'vm1')!;
    expect(shadow.host).not.toBe(vm1.host);
    expect(shadow.flavor).toBe('migrate');
    expect(shadow.reason).toMatch(/risk/);

    // vm2 qualifies but the one-core budget is spent by vm1 (higher priority x risk).
    const explain2 = await api<{ text: string; analysis: { assessment: { risk: number } } }>('GET', '/v1/vms/vm2/explain');
    expect(explain2.analysis.assessment.risk).toBeGreaterThanOrEqual(0.2);
    expect(await shadowsOf('vm2')).toEqual([]);
    const unplaced = await until('the unplaced alert of vm2', async () => (await api<{ alerts: AlertRow[] }>('GET', '/v1/alerts')).alerts.find((a) => a.key === 'unplaced/vm2'));
    expect(unplaced.summary).toMatch(/budget/);

    // vm3's history never comes near 90 %.
    const explain3 = await api<{ text: string; analysis: { assessment: { risk: number } } }>('GET', '/v1/vms/vm3/explain');
    expect(explain3.analysis.assessment.risk).toBeLessThan(0.2);
    expect(await shadowsOf('vm3')).toEqual([]);
    const explain1 = await api<{ text: string }>('GET', '/v1/vms/vm1/explain');
    console.log(`[explain vm1]\n${explain1.text}\n[explain vm3]\n${explain3.text}`);
  }, 600_000);

  it("the migrate shadow's rehearsal boots a copy and reports its time to ready, while the mirror stays ready", async () => {
    const [shadow] = await shadowsOf('vm1');
    const r = await api<RehearsalResult>('POST', `/v1/shadows/${shadow.id}/rehearse`, {}, 300_000);
    console.log(`[measured] migrate-shadow rehearsal: copy ready in ${r.timeToReadyMs} ms`);
    expect(r).toMatchObject({ shadowId: shadow.id, flavor: 'migrate', where: 'pit-copy', ok: true });
    expect(r.timeToReadyMs).toBeGreaterThan(0);
    const after = (await shadowsOf('vm1'))[0];
    expect(after.status.sync).toBe('synchronized');
    expect(after.status.rehearsal).toMatchObject({ ok: true, where: 'pit-copy' });
    const v = await api<VerifyResult>('POST', `/v1/shadows/${shadow.id}/verify`, {});
    expect(v.ok).toBe(true);
    // The throwaway copy is gone.
    expect(findProcessesMentioning(stateDir).filter((p) => p.argv.some((a) => a.includes(`${shadow.id}-r`)))).toEqual([]);
  }, 400_000);
});
