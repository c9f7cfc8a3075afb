/**
 * The contract suite every {@link Store} passes (SQLite in memory and on file:
 * sqlite/sqlite-store.test.ts; etcd later). A case may be skipped only with a written reason,
 * shown in the test name.
 *
 * This module imports vitest: import it from tests only.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { UsageSample } from '../api/protocol.js';
import type { SeriesForecast } from '../forecast/types.js';
import { DEFAULT_RETENTION, type AgentRegistrationData, type AlertRow, type FailoverRow, type ShadowRow, type Store, type StoreTx, type VmStatus } from './store.js';

/** The cases of the suite (keys of `skip`). */
export type StoreContractCase =
  | 'agents and leases'
  | 'vm spec and status apart'
  | 'transactions'
  | 'immutable records'
  | 'samples'
  | 'retention and downsampling'
  | 'forecasts'
  | 'events'
  | 'shadows'
  | 'alerts'
  | 'failovers';

/** What an implementation brings to the suite. */
export interface StoreContractOptions {
  /** Shown in the suite's name. */
  name: string;
  /** A new, empty store (closed by the suite after each case). */
  make: () => Promise<Store> | Store;
  /** Cases to skip, each with its reason. */
  skip?: Partial<Record<StoreContractCase, string>>;
}

const DAY = 86_400;
const T0 = 1_735_689_600; // 2025-01-01T00:00:00Z, a multiple of every bucket width used here

const reg = (name: string, cores = 4): AgentRegistrationData => ({
  name,
  apiUrl: `http://10.0.0.1:7001/${name}`,
  address: '10.0.0.1',
  labels: { rack: 'a' },
  capacity: { cores, memoryMiB: 4096 },
});

const status = (state: string, host = 'h1'): VmStatus => ({ state, host, pid: null, endpoint: null, observedAt: null, lastError: null });

const sample = (vmId: string, metric: string, t: number, value: number, unit = 'cores'): UsageSample => ({ vmId, metric, t, value, unit });

function forecastOf(metric: string, mean: number): SeriesForecast {
  return {
    series: 'vm-1',
    metric,
    unit: 'cores',
    stepSeconds: 300,
    model: 'snaive',
    points: [{ t: T0, mean, intervals: { '95': [mean - 1, mean + 1] } }],
  };
}

/** Registers the suite. */
export function runStoreContract(opts: StoreContractOptions): void {
  describe(`Store contract: ${opts.name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await opts.make();
    });
    afterEach(async () => {
      await store.close();
    });
    const tx = <T>(fn: (t: StoreTx) => T) => store.transaction(fn);

    const cases: Record<StoreContractCase, () => Promise<void>> = {
      'agents and leases': async () => {
        const a = await tx((t) => t.putAgent(reg('h2'), { now: 1000, leaseExpiresAt: 16_000, observed: [] }));
        expect(a).toMatchObject({ name: 'h2', apiUrl: 'http://10.0.0.1:7001/h2', labels: { rack: 'a' }, capacity: { cores: 4, memoryMiB: 4096 } });
        expect(a).toMatchObject({ registeredAt: 1000, lastSeenAt: 1000, leaseExpiresAt: 16_000, observed: [] });
        await tx((t) => t.putAgent(reg('h1'), { now: 1500, leaseExpiresAt: 16_500, observed: [] }));
        expect((await store.read((r) => r.listAgents())).map((x) => x.name)).toEqual(['h1', 'h2']);

        // A heartbeat renews the lease and replaces the observed VMs.
        const vm = { id: 'vm-1', state: 'running', pid: 42, endpoint: 'http://10.0.0.1:8080', lastError: null };
        await tx((t) => t.renewLease('h2', { now: 5000, leaseExpiresAt: 20_000, observed: [vm] }));
        // A later heartbeat without the endpoint keeps it for the same pid...
        let b = await tx((t) => t.renewLease('h2', { now: 6000, leaseExpiresAt: 21_000, observed: [{ ...vm, endpoint: null }] }));
        expect(b).toMatchObject({ registeredAt: 1000, lastSeenAt: 6000, leaseExpiresAt: 21_000 });
        expect(b.observed).toEqual([vm]);
        // ...and drops it for a new process (a restarted VM may have another port).
        b = await tx((t) => t.renewLease('h2', { now: 7000, leaseExpiresAt: 22_000, observed: [{ ...vm, pid: 43, endpoint: null }] }));
        expect(b.observed[0]).toMatchObject({ pid: 43, endpoint: null });

        // An ensure's reply is an observation too: it upserts one VM without renewing the lease.
        b = await tx((t) => t.observeVm('h2', { id: 'vm-0', state: 'running', pid: 7, endpoint: 'http://x:1', lastError: null }));
        expect(b.observed.map((v) => v.id)).toEqual(['vm-0', 'vm-1']);
        expect(b.leaseExpiresAt).toBe(22_000);

        // Re-registration keeps registeredAt and replaces the registration data.
        const c = await tx((t) => t.putAgent({ ...reg('h2', 8), address: '10.0.0.9' }, { now: 9000, leaseExpiresAt: 24_000, observed: [] }));
        expect(c).toMatchObject({ registeredAt: 1000, lastSeenAt: 9000, address: '10.0.0.9', capacity: { cores: 8 }, observed: [] });

        await expect(tx((t) => t.renewLease('nope', { now: 1, leaseExpiresAt: 2, observed: [] }))).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(tx((t) => t.observeVm('nope', vm))).rejects.toMatchObject({ code: 'NOT_FOUND' });
        expect(await store.read((r) => r.getAgent('nope'))).toBeUndefined();
      },

      'vm spec and status apart': async () => {
        const spec = { vcpus: 2, memoryMiB: 256, host: 'h1', labels: { app: 'db' } };
        const v = await tx((t) => t.createVm({ id: 'vm-1', role: 'primary', spec, createdAt: 100, status: status('pending') }));
        expect(v).toEqual({ id: 'vm-1', role: 'primary', spec, generation: 1, createdAt: 100, status: status('pending') });
        await expect(tx((t) => t.createVm({ id: 'vm-1', role: 'primary', spec, createdAt: 101, status: status('pending') }))).rejects.toMatchObject({
          code: 'CONFLICT',
        });

        // Writing status never touches the spec or its generation.
        const s = { ...status('running'), pid: 99, endpoint: 'http://h1:8080', observedAt: 200, lastError: { code: 'X', message: 'm', stderrTail: 'tail' } };
        const afterStatus = await tx((t) => t.setVmStatus('vm-1', s));
        expect(afterStatus.spec).toEqual(spec);
        expect(afterStatus.generation).toBe(1);
        expect(afterStatus.status).toEqual(s);

        // Writing the spec bumps the generation and leaves the status alone.
        const afterSpec = await tx((t) => t.updateVmSpec('vm-1', { ...spec, vcpus: 4 }));
        expect(afterSpec.generation).toBe(2);
        expect(afterSpec.spec.vcpus).toBe(4);
        expect(afterSpec.status).toEqual(s);

        await tx((t) => t.createVm({ id: 'vm-0', role: 'shadow', spec, createdAt: 300, status: status('pending') }));
        expect((await store.read((r) => r.listVms())).map((x) => [x.id, x.role])).toEqual([
          ['vm-0', 'shadow'],
          ['vm-1', 'primary'],
        ]);

        await expect(tx((t) => t.setVmStatus('ghost', s))).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(tx((t) => t.updateVmSpec('ghost', spec))).rejects.toMatchObject({ code: 'NOT_FOUND' });
        expect(await tx((t) => t.deleteVm('vm-1'))).toBe(true);
        expect(await tx((t) => t.deleteVm('vm-1'))).toBe(false);
        expect(await store.read((r) => r.getVm('vm-1'))).toBeUndefined();
        // The id is free again, with a fresh status (the old one went with the record).
        const again = await tx((t) => t.createVm({ id: 'vm-1', role: 'primary', spec, createdAt: 400, status: status('pending') }));
        expect(again).toMatchObject({ generation: 1, status: status('pending') });
      },

      transactions: async () => {
        const boom = new Error('boom');
        await expect(
          tx((t) => {
            t.putAgent(reg('h1'), { now: 1, leaseExpiresAt: 2, observed: [] });
            t.appendEvent({ t: 1, kind: 'agent.registered' });
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await store.read((r) => [r.listAgents().length, r.listEvents().length])).toEqual([0, 0]);

        // Writes inside one transaction see each other.
        const seen = await tx((t) => {
          t.putAgent(reg('h1'), { now: 1, leaseExpiresAt: 2, observed: [] });
          return t.getAgent('h1')?.name;
        });
        expect(seen).toBe('h1');

        // A transaction cannot await (it would interleave with other work): rejected, nothing kept.
        await expect(
          tx(((t: StoreTx) => {
            t.appendEvent({ t: 1, kind: 'x' });
            return Promise.resolve(1);
          }) as unknown as (t: StoreTx) => number),
        ).rejects.toThrow(/synchronous/);
        expect(await store.read((r) => r.listEvents().length)).toBe(0);

        // The transaction object is dead outside its transaction; a read view cannot write.
        const kept = await tx((t) => t);
        expect(() => kept.listAgents()).toThrow(/outside/);
        await expect(store.read((r) => (r as StoreTx).appendEvent({ t: 1, kind: 'x' }))).rejects.toThrow(/read-only/);
      },

      'immutable records': async () => {
        await tx((t) => t.putAgent(reg('h1'), { now: 1, leaseExpiresAt: 2, observed: [{ id: 'a', state: 'running', pid: 1, endpoint: null, lastError: null }] }));
        await tx((t) => t.createVm({ id: 'vm-1', role: 'primary', spec: { vcpus: 1, memoryMiB: 128, host: 'h1', labels: {} }, createdAt: 1, status: status('pending') }));
        const [agent, vm, vms] = await store.read((r) => [r.getAgent('h1')!, r.getVm('vm-1')!, r.listVms()] as const);
        expect(() => {
          (agent as { leaseExpiresAt: number }).leaseExpiresAt = 5;
        }).toThrow(TypeError);
        expect(() => {
          (agent.observed[0] as { state: string }).state = 'x';
        }).toThrow(TypeError);
        expect(() => {
          (vm.spec as { vcpus: number }).vcpus = 9;
        }).toThrow(TypeError);
        expect(() => (vms as unknown as unknown[]).push(1)).toThrow(TypeError);
        // What the caller passed in is copied, not kept: changing it later changes nothing stored.
        const spec = { vcpus: 1, memoryMiB: 128, host: 'h1', labels: { a: '1' } };
        await tx((t) => t.createVm({ id: 'vm-2', role: 'primary', spec, createdAt: 1, status: status('pending') }));
        spec.labels.a = '2';
        expect((await store.read((r) => r.getVm('vm-2')))!.spec.labels).toEqual({ a: '1' });
      },

      samples: async () => {
        const batch: UsageSample[] = [];
        for (let i = 0; i < 60; i++) batch.push(sample('vm-1', 'cpu_cores', T0 + i * 10, i));
        batch.push(sample('vm-1', 'mem_rss_mib', T0, 100, 'MiB'), sample('vm-2', 'cpu_cores', T0 + 5, 1));
        expect(await tx((t) => t.insertSamples(batch))).toBe(62);
        // The same time again replaces the value; a new unit replaces the series' unit.
        expect(await tx((t) => t.insertSamples([sample('vm-1', 'mem_rss_mib', T0, 120, 'MiB RSS')]))).toBe(1);

        const mem = await store.read((r) => r.querySamples({ vmId: 'vm-1', metric: 'mem_rss_mib' }));
        expect(mem).toEqual([{ vmId: 'vm-1', metric: 'mem_rss_mib', t: T0, value: 120, unit: 'MiB RSS', resolution: 'raw', count: 1 }]);
        const cpu = await store.read((r) => r.querySamples({ vmId: 'vm-1', metric: 'cpu_cores', from: T0 + 100, to: T0 + 150 }));
        expect(cpu.map((s) => s.value)).toEqual([10, 11, 12, 13, 14, 15]);
        expect((await store.read((r) => r.querySamples({ vmId: 'vm-1', limit: 3 }))).map((s) => s.t)).toEqual([T0, T0, T0 + 10]);
        expect(await store.read((r) => r.querySamples({ vmId: 'nobody' }))).toEqual([]);

        // Buckets of 300 s: values 0..29 then 30..59.
        const s = await store.read((r) => r.readSeries({ vmId: 'vm-1', metric: 'cpu_cores', from: T0, to: T0 + DAY, bucketSeconds: 300 }));
        expect(s.unit).toBe('cores');
        expect(Array.from(s.times)).toEqual([T0, T0 + 300]);
        expect(Array.from(s.values)).toEqual([14.5, 44.5]);
        const none = await store.read((r) => r.readSeries({ vmId: 'vm-9', metric: 'cpu_cores', from: 0, to: T0, bucketSeconds: 300 }));
        expect(none.times.length).toBe(0);

        expect(await store.read((r) => r.listSeries())).toEqual([
          { vmId: 'vm-1', metric: 'cpu_cores', unit: 'cores', first: T0, last: T0 + 590 },
          { vmId: 'vm-1', metric: 'mem_rss_mib', unit: 'MiB RSS', first: T0, last: T0 },
          { vmId: 'vm-2', metric: 'cpu_cores', unit: 'cores', first: T0 + 5, last: T0 + 5 },
        ]);
        expect(await store.read((r) => r.sampleStats())).toEqual({ raw: 62, downsampled: 0, series: 3 });
      },

      'retention and downsampling': async () => {
        // Ten days of one sample a minute; the value is the hour of the day, plus i mod 5 so that
        // bucket means differ from any single sample (mean of 0..4 = 2).
        const batch: UsageSample[] = [];
        const n = 10 * 1440;
        for (let i = 0; i < n; i++) batch.push(sample('vm-1', 'cpu_cores', T0 + i * 60, Math.floor((i % 1440) / 60) + (i % 5)));
        await tx((t) => t.insertSamples(batch));
        const now = T0 + 10 * DAY;
        const whole = { vmId: 'vm-1', metric: 'cpu_cores', from: T0, to: now, bucketSeconds: 300 };
        const before = await store.read((r) => r.readSeries(whole));
        expect(before.times.length).toBe(10 * 288);

        const rep = await tx((t) => t.maintain(now, DEFAULT_RETENTION));
        // Raw older than 7 days (3 days × 1440) folded into 3 × 288 five-minute buckets.
        expect(rep).toEqual({ downsampled: 3 * 1440, buckets: 3 * 288, expired: 0 });
        expect(await store.read((r) => r.sampleStats())).toEqual({ raw: 7 * 1440, downsampled: 3 * 288, series: 1 });
        const first = (await store.read((r) => r.querySamples({ vmId: 'vm-1', limit: 1 })))[0];
        expect(first).toMatchObject({ t: T0, value: 2, resolution: 'downsampled', count: 5 });
        // 5-minute means are what they were before: downsampling loses nothing at that width.
        const after = await store.read((r) => r.readSeries(whole));
        expect(Array.from(after.times)).toEqual(Array.from(before.times));
        expect(Array.from(after.values)).toEqual(Array.from(before.values));
        // Hourly means over the folded and the raw part alike: hour h of the day averages to h + 2.
        const hourly = await store.read((r) => r.readSeries({ ...whole, bucketSeconds: 3600 }));
        expect(hourly.values[0]).toBeCloseTo(2, 12);
        expect(hourly.values[5 * 24 + 13]).toBeCloseTo(15, 12);

        // Idempotent at the same time.
        expect(await tx((t) => t.maintain(now, DEFAULT_RETENTION))).toEqual({ downsampled: 0, buckets: 0, expired: 0 });

        // A late raw sample in an already folded bucket is merged by count: (2·5 + 32) / 6 = 7.
        await tx((t) => t.insertSamples([sample('vm-1', 'cpu_cores', T0 + 30, 32)]));
        await tx((t) => t.maintain(now, DEFAULT_RETENTION));
        expect((await store.read((r) => r.querySamples({ vmId: 'vm-1', limit: 1 })))[0]).toMatchObject({ t: T0, value: 7, count: 6 });

        // 40 days later, everything older than 35 days is gone; a series with nothing left disappears.
        const later = T0 + 40 * DAY;
        const rep2 = await tx((t) => t.maintain(later, DEFAULT_RETENTION));
        expect(rep2).toEqual({ downsampled: 7 * 1440, buckets: 7 * 288, expired: 5 * 288 });
        expect((await store.read((r) => r.querySamples({ vmId: 'vm-1', limit: 1 })))[0].t).toBe(T0 + 5 * DAY);
        const rep3 = await tx((t) => t.maintain(T0 + 50 * DAY, DEFAULT_RETENTION));
        expect(rep3.expired).toBe(5 * 288);
        expect(await store.read((r) => [r.sampleStats(), r.listSeries()])).toEqual([{ raw: 0, downsampled: 0, series: 0 }, []]);

        // A small custom policy: raw 1 h, 10-minute buckets, averages kept 2 h.
        await tx((t) => t.insertSamples([0, 60, 120, 600, 3600, 7200].map((dt) => sample('vm-3', 'm', T0 + dt, dt))));
        const small = await tx((t) => t.maintain(T0 + 7200 + 59, { rawSeconds: 3600, bucketSeconds: 600, downsampledSeconds: 7200 }));
        // Cutoff T0 + 3600: {0, 60, 120} → one bucket at T0 (then expired: T0 < T0 + 59), {600} → T0 + 600.
        expect(small).toEqual({ downsampled: 4, buckets: 2, expired: 1 });
        expect((await store.read((r) => r.querySamples({ vmId: 'vm-3' }))).map((s) => [s.t, s.value, s.resolution])).toEqual([
          [T0 + 600, 600, 'downsampled'],
          [T0 + 3600, 3600, 'raw'],
          [T0 + 7200, 7200, 'raw'],
        ]);
        await expect(tx((t) => t.maintain(T0, { rawSeconds: 3600, bucketSeconds: 0, downsampledSeconds: 7200 }))).rejects.toThrow(RangeError);
      },

      forecasts: async () => {
        await tx((t) => t.putForecast('vm-1', forecastOf('cpu_cores', 1), T0));
        await tx((t) => t.putForecast('vm-1', forecastOf('mem_rss_mib', 2), T0));
        const replaced = await tx((t) => t.putForecast('vm-1', forecastOf('cpu_cores', 3), T0 + 900));
        expect(replaced).toEqual({ vmId: 'vm-1', metric: 'cpu_cores', computedAt: T0 + 900, forecast: forecastOf('cpu_cores', 3) });
        const all = await store.read((r) => r.getForecasts('vm-1'));
        expect(all.map((f) => [f.metric, f.computedAt, f.forecast.points[0].mean, f.forecast.points[0].intervals['95']])).toEqual([
          ['cpu_cores', T0 + 900, 3, [2, 4]],
          ['mem_rss_mib', T0, 2, [1, 3]],
        ]);
        expect(await store.read((r) => r.getForecasts('vm-2'))).toEqual([]);
      },

      events: async () => {
        const a = await tx((t) => t.appendEvent({ t: 10, kind: 'agent.registered', data: { host: 'h1' } }));
        const b = await tx((t) => t.appendEvent({ t: 11, kind: 'vm.created', vmId: 'vm-1', data: { host: 'h1' } }));
        const c = await tx((t) => t.appendEvent({ t: 12, kind: 'vm.state', vmId: 'vm-1', data: { from: 'pending', to: 'running' } }));
        expect(b.seq).toBeGreaterThan(a.seq);
        expect(c.seq).toBeGreaterThan(b.seq);
        expect(a).toEqual({ seq: a.seq, t: 10, kind: 'agent.registered', vmId: null, data: { host: 'h1' } });
        const read = (q?: Parameters<StoreTx['listEvents']>[0]) => store.read((r) => r.listEvents(q).map((e) => e.seq));
        expect(await read()).toEqual([a.seq, b.seq, c.seq]);
        expect(await read({ afterSeq: a.seq })).toEqual([b.seq, c.seq]);
        expect(await read({ vmId: 'vm-1', kind: 'vm.state' })).toEqual([c.seq]);
        expect(await read({ limit: 1 })).toEqual([a.seq]);
      },

      shadows: async () => {
        const row = (id: string, vmId: string, sync: string): ShadowRow => ({
          id,
          vmId,
          host: 'h2',
          flavor: 'warm',
          mode: 'sync',
          intervalSeconds: 300,
          size: { vcpus: 1, memoryMiB: 128 },
          createdAt: 5,
          phase: 'active',
          reason: 'protected',
          replaces: null,
          status: { sync, syncSince: 5, progress: null, lagBytes: null, lagSeconds: null, generation: null, target: null, vm: null, targetPid: null, error: null, initialCopyBytesPerSec: null, readyAt: null, verify: null, rehearsal: null },
        });
        await tx((t) => {
          t.putShadow(row('vm-1-s1', 'vm-1', 'provisioning'));
          t.putShadow(row('vm-2-s1', 'vm-2', 'syncing'));
        });
        await tx((t) => t.putShadow(row('vm-1-s1', 'vm-1', 'synchronized')));
        const got = await store.read((r) => r.getShadow('vm-1-s1'));
        expect(got?.status.sync).toBe('synchronized');
        expect(Object.isFrozen(got)).toBe(true);
        expect(await store.read((r) => r.listShadows().map((x) => x.id))).toEqual(['vm-1-s1', 'vm-2-s1']);
        expect(await store.read((r) => r.listShadows('vm-2').map((x) => x.id))).toEqual(['vm-2-s1']);
        expect(await tx((t) => t.deleteShadow('vm-1-s1'))).toBe(true);
        expect(await tx((t) => t.deleteShadow('vm-1-s1'))).toBe(false);
        expect(await store.read((r) => r.getShadow('vm-1-s1'))).toBeUndefined();
      },

      alerts: async () => {
        const alert = (key: string, state: 'firing' | 'resolved', updatedAt: number, endsAt: number | null = null): AlertRow => ({
          key,
          kind: key.split('/')[0],
          severity: 'warning',
          vmId: key.split('/')[1],
          shadowId: null,
          state,
          startsAt: 1,
          endsAt,
          summary: key,
          data: {},
          updatedAt,
        });
        await tx((t) => {
          t.putAlert(alert('lag_slo/vm-1', 'firing', 10));
          t.putAlert(alert('corruption/vm-2', 'firing', 20));
        });
        expect(await store.read((r) => r.listAlerts().map((a) => a.key))).toEqual(['corruption/vm-2', 'lag_slo/vm-1']);
        await tx((t) => t.putAlert(alert('lag_slo/vm-1', 'resolved', 30, 30)));
        expect(await store.read((r) => r.listAlerts().map((a) => a.key))).toEqual(['corruption/vm-2']);
        expect(await store.read((r) => r.listAlerts({ all: true }).map((a) => a.key))).toEqual(['lag_slo/vm-1', 'corruption/vm-2']);
        expect(await store.read((r) => r.listAlerts({ all: true, vmId: 'vm-2' }).map((a) => a.key))).toEqual(['corruption/vm-2']);
        expect((await store.read((r) => r.getAlert('lag_slo/vm-1')))?.state).toBe('resolved');
        expect(await tx((t) => t.pruneAlerts(31))).toBe(1);
        expect(await store.read((r) => r.getAlert('lag_slo/vm-1'))).toBeUndefined();
      },

      failovers: async () => {
        const fo = (id: string, vmId: string, state: FailoverRow['state'], startedAt: number): FailoverRow => ({
          id,
          vmId,
          state,
          reason: 'state in [crashed]',
          path: 'warm',
          fromHost: 'h1',
          fromInstance: vmId,
          shadowId: `${vmId}-s1`,
          toHost: 'h2',
          dataLossBoundSeconds: 0,
          startedAt,
          endedAt: null,
          steps: [{ name: 'fence', startedAt, endedAt: startedAt + 5, ok: true, detail: 'killed' }],
          data: {},
        });
        await tx((t) => {
          t.putFailover(fo('f1', 'vm-1', 'done', 10));
          t.putFailover(fo('f2', 'vm-1', 'running', 20));
          t.putFailover(fo('f3', 'vm-2', 'running', 30));
        });
        expect(await store.read((r) => r.listFailovers().map((f) => f.id))).toEqual(['f3', 'f2', 'f1']);
        expect(await store.read((r) => r.listFailovers({ vmId: 'vm-1' }).map((f) => f.id))).toEqual(['f2', 'f1']);
        expect(await store.read((r) => r.listFailovers({ running: true }).map((f) => f.id))).toEqual(['f3', 'f2']);
        await tx((t) => t.putFailover({ ...fo('f2', 'vm-1', 'done', 20), endedAt: 25 }));
        const f2 = await store.read((r) => r.getFailover('f2'));
        expect(f2).toMatchObject({ state: 'done', endedAt: 25 });
        expect(f2?.steps[0]).toEqual({ name: 'fence', startedAt: 20, endedAt: 25, ok: true, detail: 'killed' });
        expect(Object.isFrozen(f2)).toBe(true);
        expect(await store.read((r) => r.listFailovers({ running: true }).map((f) => f.id))).toEqual(['f3']);
      },
    };

    for (const [name, body] of Object.entries(cases) as [StoreContractCase, () => Promise<void>][]) {
      const reason = opts.skip?.[name];
      if (reason) it.skip(`${name} (skipped: ${reason})`, body);
      else it(name, body);
    }

    it('close is idempotent and later calls reject', async () => {
      await store.close();
      await store.close();
      await expect(store.read((r) => r.listAgents())).rejects.toMatchObject({ code: 'STORE_FAILED' });
    });
  });
}
