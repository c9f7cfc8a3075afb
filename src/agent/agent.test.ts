/**
 * The whole agent on a SIMULATED host (sim driver, its own skipping clock) with the agent's
 * loops on a manual clock, a fake server client, and the agent's real HTTP API on loopback.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { Agent, type AgentConfig } from './agent.js';
import { simDisks } from './disks.js';
import { sequentialPorts } from './ports.js';
import { advance, FakeServer, INITRD, KERNEL, recordingLogger, settle, simWorld, tempRunDir } from './test-helpers.js';

const TOKEN = 'sekrit-token-4f1c';
const agents: Agent[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.crash();
  cleanups.splice(0).forEach((f) => f());
});

async function startAgent(world: ReturnType<typeof simWorld>, runDir: string, clock: ManualClock, server: FakeServer) {
  const { log, lines } = recordingLogger();
  const cfg: AgentConfig = {
    name: 'h1',
    serverUrl: 'http://unused.invalid',
    token: TOKEN,
    address: '10.0.0.1',
    listenHost: '127.0.0.1',
    listenPort: 0,
    runDir,
    intervalMs: 10_000,
    leaseMs: 10_000,
    capacity: { cores: 4, memoryMiB: 8192 },
  };
  const agent = await Agent.start(cfg, {
    driver: world.driver('h1'),
    clock,
    log,
    client: server,
    disks: simDisks(world),
    ports: sequentialPorts(20000, () => new Set(world.forwards.keys())),
    random: () => 0,
    probe: async () => ({ ok: true, latencyMs: 2, status: 200 }),
    cpuUsageUs: () => 0,
  });
  agents.push(agent);
  return { agent, lines };
}

function setup() {
  const world = simWorld();
  const clock = new ManualClock(1_700_000_000_000);
  const server = new FakeServer(() => clock.now());
  const { dir, cleanup } = tempRunDir();
  cleanups.push(cleanup);
  return { world, clock, server, dir };
}

async function call(agent: Agent, method: string, path: string, body?: unknown, token: string | null = TOKEN) {
  const res = await fetch(agent.apiUrl + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const spec = { kernel: KERNEL, initrd: INITRD };

/** Moves the agent's manual clock and the simulated world's clock together (rates need both). */
async function advanceBoth(world: ReturnType<typeof simWorld>, clock: ManualClock, ms: number, step = 500): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    await world.clock.sleep(step);
    await advance(clock, step, step);
  }
}

describe('Agent API (simulated host)', () => {
  it('needs the bearer token everywhere but /healthz, and never logs it', async () => {
    const { world, clock, server, dir } = setup();
    const { agent, lines } = await startAgent(world, dir, clock, server);
    expect((await call(agent, 'GET', '/healthz', undefined, null)).status).toBe(200);
    expect(await call(agent, 'GET', '/v1/vms', undefined, null)).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED' } } });
    expect((await call(agent, 'GET', '/v1/vms', undefined, 'wrong')).status).toBe(401);
    expect((await call(agent, 'GET', '/v1/vms', undefined, TOKEN + 'x')).status).toBe(401);
    expect(await call(agent, 'GET', '/v1/vms')).toEqual({ status: 200, body: { vms: [] } });
    await call(agent, 'PUT', '/v1/vms/vm1', spec);
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
    expect(JSON.stringify(server.registrations)).not.toContain(TOKEN);
  });

  it('PUT ensures (idempotent), ops act, DELETE removes; errors carry code, status and context', async () => {
    const { world, clock, server, dir } = setup();
    const { agent } = await startAgent(world, dir, clock, server);
    const a = await call(agent, 'PUT', '/v1/vms/vm1', spec);
    expect(a).toMatchObject({ status: 200, body: { id: 'vm1', state: 'running', endpoint: 'http://10.0.0.1:20000', lastError: null } });
    const b = await call(agent, 'PUT', '/v1/vms/vm1', { ...spec, id: 'vm1' });
    expect(b.body.pid).toBe(a.body.pid);
    expect(world.host('h1').vms.size).toBe(1);
    expect(await call(agent, 'PUT', '/v1/vms/vm1', { ...spec, memoryMiB: 512 })).toMatchObject({ status: 409, body: { error: { code: 'VM_EXISTS', retryable: false } } });
    expect(await call(agent, 'PUT', '/v1/vms/vm1', { ...spec, id: 'other' })).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST' } } });
    const invalid = await call(agent, 'PUT', '/v1/vms/vm2', { kernel: KERNEL, vcpus: 0 });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('VM_SPEC_INVALID');
    expect(invalid.body.error.context.issues.map((i: { path: string }) => i.path).sort()).toEqual(['initrd', 'vcpus']);
    expect((await call(agent, 'POST', '/v1/vms/vm1/stop')).body.state).toBe('paused');
    expect((await call(agent, 'POST', '/v1/vms/vm1/cont')).body.state).toBe('running');
    expect((await call(agent, 'POST', '/v1/vms/vm1/reboot')).status).toBe(404);
    expect((await call(agent, 'GET', '/v1/vms/vm1/stop')).status).toBe(405);
    expect(await call(agent, 'GET', '/v1/vms/nope')).toMatchObject({ status: 404, body: { error: { code: 'VM_NOT_FOUND' } } });
    expect((await call(agent, 'GET', '/v1/vms')).body.vms.map((v: { id: string }) => v.id)).toEqual(['vm1']);
    expect(await call(agent, 'DELETE', '/v1/vms/vm1')).toEqual({ status: 204, body: null });
    expect((await call(agent, 'GET', '/v1/vms')).body.vms).toEqual([]);
  });

  it('migrate/continue: an invalid body names its field; with no migration held it is 409', async () => {
    const { world, clock, server, dir } = setup();
    const { agent } = await startAgent(world, dir, clock, server);
    await call(agent, 'PUT', '/v1/vms/vm1', spec);
    const bad = await call(agent, 'POST', '/v1/vms/vm1/migrate/continue', { abort: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.context.issues.map((i: { path: string }) => i.path)).toEqual(['abort']);
    expect(await call(agent, 'POST', '/v1/vms/vm1/migrate/continue', {})).toMatchObject({ status: 409, body: { error: { code: 'VM_INVALID_STATE' } } });
    expect((await call(agent, 'GET', '/v1/vms/vm1/migrate/continue')).status).toBe(405);
  });

  it('a VM that fails to start answers 502 with QEMU\'s stderr tail, and shows it in lastError', async () => {
    const { world, clock, server, dir } = setup();
    const { agent } = await startAgent(world, dir, clock, server);
    const r = await call(agent, 'PUT', '/v1/vms/bad', { ...spec, kernel: '/nope/vmlinux' });
    expect(r.status).toBe(502);
    expect(r.body.error.code).toBe('VM_START_FAILED');
    expect(r.body.error.context.stderrTail).toContain("could not load kernel '/nope/vmlinux'");
    const vm = await call(agent, 'GET', '/v1/vms/bad');
    expect(vm.body.lastError.stderrTail).toContain("could not load kernel '/nope/vmlinux'");
  });

  it('registers with its API URL, samples every interval and posts the samples', async () => {
    const { world, clock, server, dir } = setup();
    const { agent } = await startAgent(world, dir, clock, server);
    expect(server.registrations[0]).toMatchObject({ name: 'h1', apiUrl: agent.apiUrl, address: '10.0.0.1', capacity: { cores: 4, memoryMiB: 8192 }, vms: [] });
    await call(agent, 'PUT', '/v1/vms/vm1', spec);
    await advanceBoth(world, clock, 20_000);
    const metrics = new Set(server.samples.map((s) => s.metric));
    expect([...metrics].sort()).toEqual(['cpu_cores', 'cpu_pct', 'disk_read_bps', 'disk_read_iops', 'disk_write_bps', 'disk_write_iops', 'mem_rss_mib', 'probe_latency_ms', 'probe_ok']);
    expect(server.heartbeats.at(-1)?.hb.vms).toEqual([{ id: 'vm1', state: 'running', pid: expect.any(Number) }]);
    const stats = await call(agent, 'GET', '/v1/vms/vm1/stats');
    expect(stats.body.map((s: { metric: string }) => s.metric)).toContain('probe_ok');
    const info = (await call(agent, 'GET', '/v1/info')).body;
    expect(info).toMatchObject({ name: 'h1', driver: { kind: 'sim', simulated: true }, lease: { registered: true, leaseSeconds: 10, fenced: false }, vms: 1 });
    expect(info.sampling.passes).toBeGreaterThanOrEqual(2);
    expect(info.metrics.cpu_cores.unit).toBe('cores');
  });

  it('fences its primaries when the lease runs out, refuses to run VMs while fenced, and keeps them paused after recovering', async () => {
    const { world, clock, server, dir } = setup();
    const { agent } = await startAgent(world, dir, clock, server);
    await call(agent, 'PUT', '/v1/vms/vm1', spec);
    await call(agent, 'PUT', '/v1/vms/sh1', { ...spec, labels: { role: 'shadow' } });
    server.up = false;
    const fenceAt = agent.lease.deadline;
    await advance(clock, fenceAt - clock.now() - 200, 200);
    expect((await call(agent, 'GET', '/v1/vms/vm1')).body.state).toBe('running');
    await advance(clock, 400, 200);
    await settle(20);
    expect((await call(agent, 'GET', '/v1/vms/vm1')).body.state).toBe('paused');
    expect((await call(agent, 'GET', '/v1/vms/sh1')).body.state).toBe('running');
    expect(agent.lastFence).toMatchObject({ stopped: ['vm1'], killed: [], skipped: [{ id: 'sh1', reason: 'shadow' }] });
    expect((await call(agent, 'GET', '/v1/info')).body.lease.fenced).toBe(true);
    expect(await call(agent, 'POST', '/v1/vms/vm1/cont')).toMatchObject({ status: 409, body: { error: { code: 'VM_INVALID_STATE' } } });
    expect((await call(agent, 'PUT', '/v1/vms/vm2', spec)).status).toBe(409);
    server.up = true;
    await advance(clock, 2500, 250);
    expect((await call(agent, 'GET', '/v1/info')).body.lease.fenced).toBe(false);
    expect((await call(agent, 'GET', '/v1/vms/vm1')).body.state).toBe('paused'); // the server decides
    expect((await call(agent, 'POST', '/v1/vms/vm1/cont')).body.state).toBe('running');
  });

  it('a restarted agent re-adopts its VMs (same pid, no second process) and reports them when registering', async () => {
    const { world, clock, server, dir } = setup();
    const first = await startAgent(world, dir, clock, server);
    const vm = (await call(first.agent, 'PUT', '/v1/vms/vm1', spec)).body;
    await first.agent.crash();
    const second = await startAgent(world, dir, clock, server);
    expect(server.registrations[1].vms).toEqual([{ id: 'vm1', state: 'running', pid: vm.pid }]);
    const again = await call(second.agent, 'PUT', '/v1/vms/vm1', spec);
    expect(again.body).toMatchObject({ pid: vm.pid, endpoint: vm.endpoint, startedAt: vm.startedAt });
    expect(world.host('h1').vms.size).toBe(1);
  });

  it('stop (SIGTERM) leaves the VMs running and posts what was buffered', async () => {
    const { world, clock, server, dir } = setup();
    server.reply = { leaseSeconds: 60, heartbeatSeconds: 5 }; // an outage shorter than the lease
    const { agent } = await startAgent(world, dir, clock, server);
    const vm = (await call(agent, 'PUT', '/v1/vms/vm1', spec)).body;
    server.up = false;
    await advanceBoth(world, clock, 10_000);
    expect(agent.sampler.stats().buffered).toBeGreaterThan(0);
    server.up = true;
    const before = server.samples.length;
    agents.splice(agents.indexOf(agent), 1);
    await agent.stop();
    expect(server.samples.length).toBeGreaterThan(before);
    expect(world.host('h1').status('vm1')).toMatchObject({ state: 'running', pid: vm.pid });
  });
});

describe('Agent start', () => {
  it('reports a taken API port as a usage error and leaves nothing listening', async () => {
    const { world, clock, server, dir } = setup();
    const first = await startAgent(world, dir, clock, server);
    const port = Number(new URL(first.agent.apiUrl).port);
    const err = await Agent.start(
      { name: 'h2', serverUrl: 'http://unused.invalid', token: TOKEN, address: '10.0.0.1', listenHost: '127.0.0.1', listenPort: port, runDir: dir },
      { driver: world.driver('h1'), clock, client: server, disks: simDisks(world) },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'USAGE' });
    expect(String((err as Error).message)).toContain('EADDRINUSE');
  });
});
