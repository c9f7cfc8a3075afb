import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from './log.js';
import { SampleBuffer } from './sample-buffer.js';
import { Sampler } from './sampler.js';
import { FakeServer, simManager, simWorld, tempRunDir, vmSpec } from './test-helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

async function setup(bufferCapacity = 1000) {
  const world = simWorld(); // SIMULATED: the sim host's counters follow its model, nothing is measured
  const driver = world.driver('h1');
  const { dir, cleanup } = tempRunDir();
  cleanups.push(cleanup);
  const manager = simManager(world, driver, dir);
  await manager.ensure(vmSpec('vm1'));
  const server = new FakeServer(() => world.clock.now());
  const probed: string[] = [];
  let cpuUs = 0;
  const sampler = new Sampler({
    agent: 'h1',
    driver,
    source: manager,
    clock: world.clock,
    log: silentLogger,
    buffer: new SampleBuffer(bufferCapacity),
    client: server,
    intervalMs: 10_000,
    probe: async (url) => {
      probed.push(url);
      return { ok: true, latencyMs: 3, status: 200 };
    },
    cpuUsageUs: () => (cpuUs += 750), // 1.5 ms of agent CPU per pass (two reads)
  });
  return { world, manager, server, sampler, probed, host: world.host('h1') };
}

const by = (samples: { metric: string; value: number }[]) => Object.fromEntries(samples.map((s) => [s.metric, s.value]));

describe('Sampler (simulated host)', () => {
  it('turns two readings into cores, % of allocation, RSS, disk rates and probe results', async () => {
    const { world, sampler, host, probed } = await setup();
    host.setGuestLoad('vm1', 0.5);
    const first = await sampler.samplePass();
    expect(by(first)).toEqual({ mem_rss_mib: 154, probe_ok: 1, probe_latency_ms: 3 }); // no rates yet
    host.guestWrite('vm1', 'data', 1024 * 1024); // 16 write ops of 64 KiB
    await world.clock.sleep(10_000);
    const s = by(await sampler.samplePass());
    expect(s.cpu_cores).toBeCloseTo(0.52, 9); // 0.5 guest load + 0.02 idle QEMU (the sim's model)
    expect(s.cpu_pct).toBeCloseTo(52, 9); // of 1 vCPU
    expect(s.disk_write_iops).toBeCloseTo(1.6, 9);
    expect(s.disk_write_bps).toBeCloseTo(104857.6, 6);
    expect(s.disk_read_iops).toBe(0);
    expect(s.net_rx_bps).toBeUndefined(); // user-mode networking: no NIC counters
    expect(probed).toEqual(['http://10.0.0.1:20000/health', 'http://10.0.0.1:20000/health']);
    expect(sampler.latestSamples('vm1').length).toBe(9);
    expect(sampler.stats().cpuMsPerVm).toEqual({ mean: 0.75, max: 0.75 });
  });

  it('does not probe a paused VM and samples nothing for a VM without a process', async () => {
    const { manager, sampler, probed } = await setup();
    await manager.op('vm1', 'stop');
    const s = await sampler.samplePass();
    expect(s.map((x) => x.metric)).toEqual(['mem_rss_mib']);
    expect(probed).toEqual([]);
    await manager.op('vm1', 'kill');
    expect(await sampler.samplePass()).toEqual([]);
    expect(sampler.latestSamples('vm1')).toEqual([]);
  });

  it('runs on a fixed grid and posts every pass', async () => {
    const { world, sampler, server } = await setup();
    const ac = new AbortController();
    const running = sampler.run(ac.signal);
    await world.clock.sleep(45_000);
    ac.abort();
    await running;
    const st = sampler.stats();
    expect(st.passes).toBe(5); // t = 0, 10, 20, 30, 40 s
    expect(st.jitterMs).toEqual({ p50: 0, p95: 0, max: 0 }); // virtual time: exactly on the grid
    expect(st.skippedTicks).toBe(0);
    const times = [...new Set(server.samples.filter((x) => x.metric === 'mem_rss_mib').map((x) => x.t))];
    const t0 = times[0];
    expect(times.map((t) => t - t0)).toEqual([0, 10, 20, 30, 40]);
    expect(st).toMatchObject({ buffered: 0, dropped: 0, posted: server.samples.length });
  });

  it('buffers while the server is unreachable and posts everything, in order, when it is back', async () => {
    const { world, sampler, server } = await setup();
    server.up = false;
    for (let i = 0; i < 4; i++) {
      await sampler.samplePass();
      await sampler.flush();
      await world.clock.sleep(10_000);
    }
    expect(server.samples).toEqual([]);
    const held = sampler.stats().buffered;
    // first pass: rss + probe_ok + latency; then also cpu_cores, cpu_pct and 4 disk rates
    expect(held).toBe(3 + 3 * 9);
    expect(sampler.stats().lastPostError).toContain('connection refused');
    server.up = true;
    await sampler.flush();
    expect(server.samples.length).toBe(held);
    const ts = server.samples.map((s) => s.t);
    expect([...ts].sort((a, b) => a - b)).toEqual(ts);
    expect(sampler.stats()).toMatchObject({ buffered: 0, dropped: 0, lastPostError: null });
  });

  it('drops the oldest samples beyond the buffer capacity', async () => {
    const { world, sampler, server } = await setup(10);
    server.up = false;
    for (let i = 0; i < 4; i++) {
      await sampler.samplePass();
      await world.clock.sleep(10_000);
    }
    expect(sampler.stats()).toMatchObject({ buffered: 10 });
    expect(sampler.stats().dropped).toBeGreaterThan(0);
  });
});
