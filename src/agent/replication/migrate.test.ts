import { describe, expect, it } from 'vitest';
import { baseSpec } from '../../hypervisor/contract.js';
import { SimWorld } from '../../hypervisor/sim/world.js';
import { silentLogger } from '../log.js';
import { LiveMigrator, parseMigrateRequest, sourceDowntimeMs } from './migrate.js';

describe('live migration helpers (pure)', () => {
  it('downtime: STOP -> completed from the events, else the hypervisor figure, else null', () => {
    expect(sourceDowntimeMs(1000, 1053.74, undefined)).toBe(53.7);
    expect(sourceDowntimeMs(null, 1053, 41)).toBe(41);
    expect(sourceDowntimeMs(1000, null, 0)).toBeNull(); // query-migrate right after completion can read 0
    expect(sourceDowntimeMs(2000, 1000, undefined)).toBeNull();
  });

  it('a migrate request needs tcp:HOST:PORT; defaults are filled; every bad field is listed', () => {
    expect(parseMigrateRequest({ uri: 'tcp:10.0.0.2:4444' }, 'vm1')).toEqual({ uri: 'tcp:10.0.0.2:4444', timeoutMs: 120_000 });
    expect(parseMigrateRequest({ uri: 'tcp:[::1]:4444', replicationJob: false }, 'vm1')).toMatchObject({ replicationJob: false });
    const e = (() => {
      try {
        return parseMigrateRequest({ uri: 'exec:rm -rf /', timeoutMs: 0 }, 'vm1');
      } catch (x) {
        return x;
      }
    })();
    expect(e).toMatchObject({ code: 'REQUEST_INVALID' });
    expect((e as { issues: { path: string }[] }).issues.map((i) => i.path).sort()).toEqual(['timeoutMs', 'uri']);
  });
});

describe('LiveMigrator on simulated hosts (SIMULATED hypervisor): holding at switchover', () => {
  const setUp = async () => {
    const w = SimWorld.twoHosts({ timings: { migrationBytesPerMs: 1024 * 1024, migrationDowntimeMs: 30 } });
    const d1 = w.driver('h1');
    const d2 = w.driver('h2');
    await d1.create(baseSpec('a'));
    await d2.create(baseSpec('a', { incoming: true }));
    await d1.start('a');
    await d2.start('a');
    await d2.migrateIncoming('a', 'tcp:10.0.0.2:4444');
    await d2.cont('a'); // runs as soon as the state arrived
    const noReplication = { has: () => false, handOver: async () => ({ caughtUp: true, ms: 0 }), forget: async () => undefined, release: async () => undefined };
    const m = new LiveMigrator({ driver: d1, clock: w.clock, log: silentLogger, replication: noReplication, fenced: () => false, pollMs: 10 });
    return { w, d1, d2, m };
  };

  it('answers at pre-switchover with the source paused and the destination not running; continue completes it', async () => {
    const { d1, d2, m } = await setUp();
    const held = await m.migrate('a', { uri: 'tcp:10.0.0.2:4444', timeoutMs: 60_000, holdAtSwitchover: true });
    expect(held).toMatchObject({ ok: true, status: 'pre-switchover' });
    expect((await d1.status('a')).state).toBe('paused');
    expect((await d2.status('a')).state).toBe('inmigrate'); // the clients may be moved now: nothing runs
    const end = await m.continueHeld('a', false);
    expect(end).toMatchObject({ ok: true, status: 'completed' });
    expect((await d2.status('a')).state).toBe('running');
    expect((await d1.status('a')).state).toBe('postmigrate');
    await expect(m.continueHeld('a', false)).rejects.toMatchObject({ code: 'VM_INVALID_STATE' });
  });

  it('abort, or no word within holdTimeoutMs: cancelled, the source runs on', async () => {
    const a = await setUp();
    await a.m.migrate('a', { uri: 'tcp:10.0.0.2:4444', timeoutMs: 60_000, holdAtSwitchover: true });
    expect(await a.m.continueHeld('a', true)).toMatchObject({ ok: false, status: 'cancelled', error: expect.stringMatching(/by the caller/) });
    expect((await a.d1.status('a')).state).toBe('running');

    const b = await setUp();
    await b.m.migrate('a', { uri: 'tcp:10.0.0.2:4444', timeoutMs: 60_000, holdAtSwitchover: true, holdTimeoutMs: 200 });
    const end = b.m.migrate('a', { uri: 'tcp:10.0.0.2:4444', timeoutMs: 60_000 }).catch((e: { code?: string }) => e.code);
    expect(await end).toBe('CONFLICT'); // one migration of a VM at a time, held ones included
    for (let i = 0; i < 50 && (await b.d1.status('a')).state !== 'running'; i++) await b.w.clock.sleep(20);
    expect((await b.d1.status('a')).state).toBe('running');
    await expect(b.m.continueHeld('a', false)).rejects.toMatchObject({ code: 'VM_INVALID_STATE' });
  });
});
