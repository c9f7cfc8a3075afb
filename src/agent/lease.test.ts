import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { defaultFenceMarginMs, fenceDeadline, LeaseKeeper, type LeaseKeeperOptions } from './lease.js';
import { silentLogger } from './log.js';
import { advance, FakeServer, settle } from './test-helpers.js';

const T0 = 1_000_000;

function setup(extra: Partial<LeaseKeeperOptions> = {}) {
  const clock = new ManualClock(T0);
  const server = new FakeServer(() => clock.now()); // lease 10 s, heartbeat 2 s
  const fences: number[] = [];
  const keeper = new LeaseKeeper({
    name: 'h1',
    clock,
    client: server,
    log: silentLogger,
    leaseMs: 15_000,
    random: () => 0, // no jitter: delays are the exponential values
    registration: async () => ({ name: 'h1', apiUrl: 'http://127.0.0.1:7070', address: '127.0.0.1', labels: {}, capacity: { cores: 2, memoryMiB: 4096 }, vms: [] }),
    heartbeat: async () => ({ vms: [] }),
    fence: async () => {
      fences.push(clock.now());
    },
    ...extra,
  });
  const ac = new AbortController();
  return { clock, server, fences, keeper, ac };
}

let stop: (() => void) | undefined;
afterEach(() => stop?.());

describe('fenceDeadline / margin', () => {
  it('fences a margin before the lease ends (10 %, at most 2 s)', () => {
    expect(defaultFenceMarginMs(10_000)).toBe(1000);
    expect(defaultFenceMarginMs(60_000)).toBe(2000);
    expect(fenceDeadline({ lastRenewedAt: 5000, leaseMs: 10_000 }, 1000)).toBe(14_000);
  });
});

describe('LeaseKeeper (manual clock)', () => {
  it('registers, then heartbeats every heartbeatSeconds from the reply', async () => {
    const { clock, server, keeper, ac, fences } = setup();
    stop = () => ac.abort();
    expect(await keeper.renewOnce()).toBe(true);
    expect(keeper.state).toMatchObject({ registered: true, leaseMs: 10_000, heartbeatMs: 2000, lastRenewedAt: T0 });
    void keeper.run(ac.signal);
    await advance(clock, 10_000);
    expect(server.registrations).toHaveLength(1);
    expect(server.heartbeats.map((h) => h.at - T0)).toEqual([2000, 4000, 6000, 8000, 10_000]);
    expect(fences).toEqual([]);
  });

  it('fences exactly once when it cannot renew for longer than the lease, then recovers', async () => {
    const { clock, server, keeper, ac, fences } = setup();
    stop = () => ac.abort();
    await keeper.renewOnce();
    void keeper.run(ac.signal);
    await advance(clock, 4000); // renewed at +4000
    server.up = false;
    const deadline = T0 + 4000 + 10_000 - 1000;
    expect(keeper.deadline).toBe(deadline);
    await advance(clock, deadline - clock.now() - 100);
    expect(fences).toEqual([]);
    expect(keeper.state.failures).toBeGreaterThanOrEqual(3); // retried with backoff meanwhile
    await advance(clock, 200);
    expect(fences).toEqual([deadline]);
    expect(keeper.state.fenced).toBe(true);
    await advance(clock, 30_000);
    expect(fences).toHaveLength(1); // fenced once per loss
    // The server comes back: the next retry renews, fencing is cleared.
    server.up = true;
    await advance(clock, 2100);
    expect(keeper.state).toMatchObject({ fenced: false, failures: 0 });
    const renewedAt = keeper.state.lastRenewedAt;
    // Lost again: fenced again, a lease after the last renewal.
    server.up = false;
    await advance(clock, 12_000);
    expect(fences).toEqual([deadline, renewedAt + 9000]);
  });

  it('retries with exponential backoff capped at the heartbeat period', async () => {
    const { clock, server, keeper, ac } = setup();
    stop = () => ac.abort();
    await keeper.renewOnce();
    server.up = false;
    const attempts: number[] = [];
    const orig = server.heartbeat.bind(server);
    server.heartbeat = async (n, hb) => {
      attempts.push(clock.now() - T0);
      return orig(n, hb);
    };
    void keeper.run(ac.signal);
    await advance(clock, 10_000, 50);
    // a heartbeat period after the last success, then 500, 1000, 2000 (capped at the heartbeat period), 2000, ...
    expect(attempts).toEqual([2000, 2500, 3500, 5500, 7500, 9500]);
  });

  it('fences on time even when the heartbeat request hangs', async () => {
    const { clock, server, keeper, ac, fences } = setup();
    stop = () => ac.abort();
    await keeper.renewOnce();
    server.hang = true;
    void keeper.run(ac.signal);
    await advance(clock, 9100);
    expect(fences).toEqual([T0 + 9000]);
  });

  it('re-registers at once when the server forgot the agent (404)', async () => {
    const { clock, server, keeper, ac, fences } = setup();
    stop = () => ac.abort();
    await keeper.renewOnce();
    void keeper.run(ac.signal);
    await advance(clock, 2000);
    server.forgetOnce = true;
    await advance(clock, 2000);
    await settle();
    expect(server.registrations).toHaveLength(2);
    expect(keeper.state).toMatchObject({ registered: true, failures: 0 });
    expect(fences).toEqual([]);
  });

  it('a restarted agent whose last renewal is older than the lease fences at once when the server is unreachable', async () => {
    const saved: number[] = [];
    const { server, keeper, ac, fences } = setup({ persistence: { load: () => T0 - 60_000, save: (t) => saved.push(t) } });
    stop = () => ac.abort();
    server.up = false;
    expect(await keeper.renewOnce()).toBe(false);
    void keeper.run(ac.signal);
    await settle();
    expect(fences).toEqual([T0]);
    expect(saved).toEqual([]);
  });

  it('persists each renewal, and a restart while the server is up renews before any fencing', async () => {
    const saved: number[] = [];
    const { keeper, fences, ac } = setup({ persistence: { load: () => T0 - 60_000, save: (t) => saved.push(t) } });
    stop = () => ac.abort();
    expect(await keeper.renewOnce()).toBe(true);
    void keeper.run(ac.signal);
    await settle();
    expect(fences).toEqual([]);
    expect(saved[0]).toBe(T0);
  });

  it('poke sends a heartbeat at once', async () => {
    const { clock, server, keeper, ac } = setup();
    stop = () => ac.abort();
    await keeper.renewOnce();
    void keeper.run(ac.signal);
    await advance(clock, 500);
    keeper.poke();
    await settle();
    expect(server.heartbeats.map((h) => h.at - T0)).toEqual([500]);
  });
});
