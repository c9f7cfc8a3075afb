/**
 * The server's API end to end: a real `startServer` on 127.0.0.1:0 with a SQLite file store and
 * a manual clock (loops run when the test moves time), and stand-in agents: small HTTP servers
 * on loopback that speak the agent side of src/api/protocol.ts. Real agents with QEMU are the
 * lab's integration test.
 */
import http from 'node:http';
import type net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { agentVmSpecSchema, type AgentVmSpec, type StatusReport, type UsageSample, type VmRecord } from '../src/api/protocol.js';
import { ManualClock } from '../src/core/clock.js';
import { createServerLogger } from '../src/server/log.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';

const TOKEN = 'test-token-0123456789abcdef';
const DAY = 86_400;
const NOW = 1_736_208_000; // 2025-01-07T00:00:00Z
const LEASE_MS = 15_000;

/** A protocol stand-in for one agent: records what it is asked; `bad-*` VMs fail to start. */
class FakeAgent {
  readonly ensured: AgentVmSpec[] = [];
  readonly deleted: string[] = [];
  private server!: http.Server;
  url = '';
  private pid = 1000;
  private readonly running = new Map<string, object>();

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const reply = (status: number, body?: unknown) => {
          res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
          res.end(body === undefined ? undefined : JSON.stringify(body));
        };
        if (req.headers.authorization !== `Bearer ${TOKEN}`) return reply(401, { error: { code: 'UNAUTHORIZED', message: 'no', retryable: false, context: {} } });
        const m = /^\/v1\/vms\/([^/]+)$/.exec(req.url ?? '');
        if (!m) return reply(404, { error: { code: 'NOT_FOUND', message: 'no route', retryable: false, context: {} } });
        if (req.method === 'DELETE') {
          this.deleted.push(m[1]);
          this.running.delete(m[1]);
          return reply(204);
        }
        const spec = agentVmSpecSchema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        this.ensured.push(spec);
        if (spec.id.startsWith('bad')) {
          return reply(502, {
            error: {
              code: 'VM_START_FAILED',
              message: 'QEMU exited with status 1 during start',
              retryable: false,
              context: { vmId: spec.id, stderrTail: "qemu-system-x86_64: -blockdev file: Could not open '/nope.img': No such file or directory" },
            },
          });
        }
        // Idempotent like a real agent: a VM it runs already is returned as it is.
        const vm = this.running.get(spec.id) ?? { id: spec.id, state: 'running', pid: ++this.pid, endpoint: `${this.url}/guest/${spec.id}`, startedAt: 1, lastError: null };
        this.running.set(spec.id, vm);
        reply(200, vm);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('umbra server API', () => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-server-test-'));
  const clock = new ManualClock(NOW * 1000);
  const logs: string[] = [];
  let server: RunningServer;
  let h1: FakeAgent;
  let h2: FakeAgent;

  const api = async (method: string, path: string, body?: unknown, token: string | null = TOKEN) => {
    const res = await fetch(server.url + path, {
      method,
      headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as any) : undefined };
  };
  const register = (name: string, agent: FakeAgent, capacity = { cores: 2, memoryMiB: 1024 }, vms: unknown[] = []) =>
    api('POST', '/v1/agents/register', { name, apiUrl: agent.url, address: '127.0.0.1', capacity, vms });
  /** Moves the manual clock; the loops due by then run. */
  const advance = (ms: number) => clock.advance(ms);
  const vmState = async (id: string) => ((await api('GET', `/v1/vms/${id}`)).json as VmRecord).status;

  beforeAll(async () => {
    h1 = await new FakeAgent().start();
    h2 = await new FakeAgent().start();
    server = await startServer({
      store: openSqliteStore({ path: join(dir, 'umbra.db'), now: 0 }),
      clock,
      token: TOKEN,
      log: createServerLogger({ level: 'debug', write: (s) => void logs.push(s) }),
      image: async () => ({ kernel: '/img/vmlinuz', initrd: '/img/initrd.cpio' }),
      leaseMs: LEASE_MS,
      reconcileMs: 5000,
      profileMs: 900_000,
      maintenanceMs: 600_000,
      maxBodyBytes: 1024 * 1024,
    });
  });

  afterAll(async () => {
    await server.close();
    await h1.close();
    await h2.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds to loopback and needs the bearer token everywhere but /healthz', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await api('GET', '/healthz', undefined, null)).status).toBe(200);
    for (const [method, path] of [
      ['GET', '/v1/status'],
      ['GET', '/v1/agents'],
      ['GET', '/v1/vms'],
      ['POST', '/v1/vms'],
      ['POST', '/v1/samples'],
      ['POST', '/v1/agents/register'],
      ['POST', '/v1/agents/h1/heartbeat'],
      ['GET', '/v1/vms/x/forecasts'],
    ]) {
      const none = await api(method, path, undefined, null);
      expect([path, none.status, none.json.error.code]).toEqual([path, 401, 'UNAUTHORIZED']);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      expect((await api(method, path, undefined, 'wrong-token-0123456789')).status).toBe(401);
    }
    expect((await api('GET', '/v1/nothing')).json.error.code).toBe('NOT_FOUND');
    expect((await api('PUT', '/v1/status')).status).toBe(405);
  });

  it('registers agents under a lease, renews it on heartbeats, and marks an agent lost when it runs out', async () => {
    const reg = await register('h1', h1);
    expect(reg).toMatchObject({ status: 200, json: { leaseSeconds: 15, heartbeatSeconds: 5 } });
    const t0 = clock.now();
    let agents = (await api('GET', '/v1/agents')).json.agents;
    expect(agents).toEqual([
      { name: 'h1', apiUrl: h1.url, address: '127.0.0.1', labels: {}, capacity: { cores: 2, memoryMiB: 1024 }, leaseExpiresAt: t0 + LEASE_MS, alive: true },
    ]);
    // An agent the server does not know is told so (it registers again).
    expect((await api('POST', '/v1/agents/ghost/heartbeat', { vms: [] })).json.error.code).toBe('NOT_FOUND');

    advance(10_000);
    expect((await api('POST', '/v1/agents/h1/heartbeat', { vms: [] })).json).toEqual({ leaseSeconds: 15 });
    agents = (await api('GET', '/v1/agents')).json.agents;
    expect(agents[0]).toMatchObject({ leaseExpiresAt: t0 + 10_000 + LEASE_MS, alive: true });

    advance(LEASE_MS); // no heartbeat within the lease
    agents = (await api('GET', '/v1/agents')).json.agents;
    expect(agents[0].alive).toBe(false);
    await vi.waitFor(async () => {
      const events = (await api('GET', '/v1/events?kind=agent.lost')).json.events;
      expect(events.map((e: { data: { host: string } }) => e.data.host)).toContain('h1');
    });
    // A heartbeat after expiry brings it back.
    await api('POST', '/v1/agents/h1/heartbeat', { vms: [] });
    expect((await api('GET', '/v1/agents')).json.agents[0].alive).toBe(true);
  });

  it('rejects a bad body with 400 naming every bad field path', async () => {
    const bad = await api('POST', '/v1/samples', {
      agent: 'h1',
      samples: [
        { vmId: 'v', metric: 'cpu_cores', t: 'soon', value: 1, unit: 'cores' },
        { vmId: 'v', metric: 'cpu_cores', t: 1, unit: 'cores' },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: 'REQUEST_INVALID', retryable: false, context: { path: 'samples[0].t' } });
    expect(bad.json.error.context.issues.map((i: { path: string }) => i.path)).toEqual(['samples[0].t', 'samples[1].value']);
    expect(bad.json.error.message).toMatch(/samples\[0\]\.t: .*; samples\[1\]\.value: /);
    expect((await api('POST', '/v1/vms', '{"id": ')).json.error).toMatchObject({ code: 'REQUEST_INVALID', message: expect.stringContaining('not JSON') });
    expect((await api('POST', '/v1/vms', { id: 'Bad_Id' })).json.error.context.path).toBe('id');
    expect((await api('GET', '/v1/vms/x/samples?from=yesterday')).json.error.context.path).toBe('query.from');
    expect((await api('GET', '/v1/vms/x/samples?colour=red')).status).toBe(400);
    const huge = await api('POST', '/v1/samples', JSON.stringify({ agent: 'h1', samples: [], pad: 'x'.repeat(2 * 1024 * 1024) }));
    expect([huge.status, huge.json.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('places a VM on the least loaded live host and asks that host to ensure it', async () => {
    await register('h1', h1, { cores: 2, memoryMiB: 1024 });
    await register('h2', h2, { cores: 2, memoryMiB: 2048 });
    const created = await api('POST', '/v1/vms', { id: 'web-1', vcpus: 1, memoryMiB: 256, labels: { app: 'web' } });
    expect(created.status).toBe(201);
    const vm = created.json as VmRecord;
    // h2: max(1/8, 256/2048) = 0.125 beats h1: max(1/8, 256/1024) = 0.25 (4× CPU overcommit).
    expect(vm.spec).toEqual({ id: 'web-1', host: 'h2', vcpus: 1, memoryMiB: 256, labels: { app: 'web' }, protect: false });
    expect(h1.ensured).toEqual([]);
    expect(h2.ensured).toHaveLength(1);
    expect(h2.ensured[0]).toMatchObject({ id: 'web-1', vcpus: 1, memoryMiB: 256, kernel: '/img/vmlinuz', initrd: '/img/initrd.cpio', labels: { app: 'web' } });
    expect(vm.status).toMatchObject({ state: 'running', host: 'h2', pid: 1001, endpoint: `${h2.url}/guest/web-1`, lastError: null });

    // Same request again: the same record (200), no second VM; another spec: 409.
    const again = await api('POST', '/v1/vms', { id: 'web-1', vcpus: 1, memoryMiB: 256, labels: { app: 'web' } });
    expect([again.status, again.json.spec.host]).toEqual([200, 'h2']);
    expect((await api('POST', '/v1/vms', { id: 'web-1', vcpus: 2, memoryMiB: 256 })).json.error.code).toBe('CONFLICT');

    // A heartbeat without endpoints keeps the endpoint for the same pid; status comes from it.
    await api('POST', '/v1/agents/h2/heartbeat', { vms: [{ id: 'web-1', state: 'paused', pid: 1001 }] });
    await vi.waitFor(async () => expect(await vmState('web-1')).toMatchObject({ state: 'paused', pid: 1001, endpoint: `${h2.url}/guest/web-1` }));

    // A QEMU that fails to start: the VM is recorded, its status says why, with QEMU's stderr.
    const bad = await api('POST', '/v1/vms', { id: 'bad-1', host: 'h1' });
    expect(bad.status).toBe(201);
    expect(bad.json.status).toMatchObject({ state: 'failed', host: 'h1', lastError: { code: 'VM_START_FAILED', stderrTail: expect.stringContaining('Could not open') } });

    // No room anywhere (2 cores × 4 per host): 409 NO_CAPACITY with each host's free room.
    const big = await api('POST', '/v1/vms', { id: 'big-1', vcpus: 9 });
    expect(big.status).toBe(409);
    expect(big.json.error).toMatchObject({ code: 'NO_CAPACITY', message: expect.stringContaining('h2: 7 vCPU') });
    expect((await api('POST', '/v1/vms', { id: 'x-1', host: 'h9' })).status).toBe(404);

    const status = (await api('GET', '/v1/status')).json as StatusReport;
    expect(status.server).toMatchObject({ url: server.url, startedAt: NOW * 1000 });
    expect(status.agents.map((a) => [a.name, a.alive])).toEqual([
      ['h1', true],
      ['h2', true],
    ]);
    expect(status.vms).toEqual([
      { id: 'bad-1', role: 'primary', host: 'h1', pid: null, state: 'failed', endpoint: null, sync: null },
      { id: 'web-1', role: 'primary', host: 'h2', pid: 1001, state: 'paused', endpoint: `${h2.url}/guest/web-1`, sync: null },
    ]);

    // Delete: the live host is asked to remove it, then the record goes.
    expect((await api('DELETE', '/v1/vms/bad-1')).status).toBe(204);
    expect(h1.deleted).toEqual(['bad-1']);
    expect((await api('GET', '/v1/vms/bad-1')).status).toBe(404);
    expect((await api('DELETE', '/v1/vms/bad-1')).status).toBe(404);
  });

  it('rebuilds a VM status as host_lost when its host lease runs out, and back when it returns', async () => {
    await register('h2', h2, { cores: 2, memoryMiB: 2048 }, [{ id: 'web-1', state: 'running', pid: 1001 }]);
    await vi.waitFor(async () => expect((await vmState('web-1')).state).toBe('running'));
    advance(LEASE_MS + 1);
    await vi.waitFor(async () => expect(await vmState('web-1')).toMatchObject({ state: 'host_lost', host: 'h2', pid: 1001 }));
    const events = (await api('GET', '/v1/events?vm=web-1&kind=vm.state')).json.events;
    expect(events.at(-1).data).toEqual({ from: 'running', to: 'host_lost', host: 'h2' });
    await api('POST', '/v1/agents/h2/heartbeat', { vms: [{ id: 'web-1', state: 'running', pid: 1001 }] });
    await vi.waitFor(async () => expect((await vmState('web-1')).state).toBe('running'));
  });

  it('re-ensures a VM its live host does not report', async () => {
    const before = h2.ensured.length;
    await api('POST', '/v1/agents/h2/heartbeat', { vms: [] });
    await vi.waitFor(() => expect(h2.ensured.length).toBe(before + 1));
    expect(h2.ensured.at(-1)!.id).toBe('web-1');
  });

  it('ingests samples, serves them, and downsamples them past the raw retention', async () => {
    const now = Math.floor(clock.now() / 1000 / 300) * 300;
    // Ten days of one sample a minute, posted in batches as agents would (they batch per pass).
    const all: UsageSample[] = [];
    for (let t = now - 10 * DAY; t < now; t += 60) all.push({ vmId: 'web-1', t, metric: 'cpu_cores', value: (t / 60) % 5, unit: 'cores' });
    const t0 = performance.now();
    for (let i = 0; i < all.length; i += 2000) {
      const r = await api('POST', '/v1/samples', { agent: 'h2', samples: all.slice(i, i + 2000) });
      expect(r.json).toEqual({ accepted: Math.min(2000, all.length - i) });
    }
    const rate = all.length / ((performance.now() - t0) / 1000);
    console.log(`[measure] sample ingestion: ${all.length} samples in batches of 2000: ${Math.round(rate)} samples/s`);

    const range = `from=${now - 10 * DAY}&to=${now}`;
    let samples = (await api('GET', `/v1/vms/web-1/samples?metric=cpu_cores&${range}`)).json.samples;
    expect(samples).toHaveLength(10 * 1440);
    expect(samples[0]).toEqual({ vmId: 'web-1', metric: 'cpu_cores', t: now - 10 * DAY, value: ((now - 10 * DAY) / 60) % 5, unit: 'cores', resolution: 'raw', count: 1 });

    // The maintenance loop runs every 10 minutes of clock time.
    advance(600_000);
    const cutoff = Math.floor((clock.now() / 1000 - 7 * DAY) / 300) * 300;
    await vi.waitFor(async () => {
      samples = (await api('GET', `/v1/vms/web-1/samples?metric=cpu_cores&${range}`)).json.samples;
      expect(samples[0].resolution).toBe('downsampled');
    });
    const down = samples.filter((s: { resolution: string }) => s.resolution === 'downsampled');
    const raw = samples.filter((s: { resolution: string }) => s.resolution === 'raw');
    expect(down.length).toBe((cutoff - (now - 10 * DAY)) / 300);
    expect(raw[0].t).toBe(cutoff);
    // Each 5-minute average of (t/60) mod 5 over five minutes is exactly 2.
    expect(down.every((s: { value: number; count: number }) => s.value === 2 && s.count === 5)).toBe(true);
  });

  it('runs the profiler on its schedule and stores a forecast from ~3 days of samples', async () => {
    const now = Math.floor(clock.now() / 1000 / 300) * 300;
    const samples: UsageSample[] = [];
    for (let t = now - 3 * DAY; t < now; t += 60) samples.push({ vmId: 'db-1', t, metric: 'mem_rss_mib', value: 500 + 100 * Math.sin((2 * Math.PI * t) / DAY), unit: 'MiB' });
    samples.push({ vmId: 'db-1', t: now - 60, metric: 'net_rx_bps', value: 10, unit: 'B/s' });
    for (let i = 0; i < samples.length; i += 2000) await api('POST', '/v1/samples', { agent: 'h1', samples: samples.slice(i, i + 2000) });
    expect((await api('GET', '/v1/vms/db-1/forecasts')).json.forecasts).toEqual([]);

    const passes = server.loops.profile.passes;
    advance(900_000);
    await vi.waitFor(() => expect(server.loops.profile.passes).toBeGreaterThan(passes), { timeout: 30_000 });
    const body = (await api('GET', '/v1/vms/db-1/forecasts')).json;
    expect(body.forecasts).toHaveLength(1);
    const f = body.forecasts[0];
    expect(f).toMatchObject({ series: 'db-1', metric: 'mem_rss_mib', unit: 'MiB', stepSeconds: 300 });
    // The policy default horizons (1 h, 6 h, 24 h): points go to the longest, every 5 minutes.
    expect(f.points).toHaveLength(288);
    expect(Object.keys(f.points[0].intervals).sort()).toEqual(['80', '95']);
    for (const p of f.points) {
      const [lo, hi] = p.intervals['95'];
      expect(lo).toBeLessThanOrEqual(p.mean);
      expect(p.mean).toBeLessThanOrEqual(hi);
      // Within the range the series ever had.
      expect(p.mean).toBeGreaterThan(390);
      expect(p.mean).toBeLessThan(610);
    }
    expect(body.computedAt).toEqual({ mem_rss_mib: clock.now() / 1000 });
    // One sample of net_rx_bps: skipped and noted, not an error.
    expect(body.skipped).toEqual([{ metric: 'net_rx_bps', code: expect.stringMatching(/INSUFFICIENT_HISTORY|INPUT_INVALID/), reason: expect.any(String) }]);
  });

  it('answers fast enough (measured) and never logs the token', async () => {
    await register('h1', h1);
    const time = async (fn: () => Promise<unknown>) => {
      const ms: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t = performance.now();
        await fn();
        ms.push(performance.now() - t);
      }
      ms.sort((a, b) => a - b);
      return ms[100];
    };
    const status = await time(() => api('GET', '/v1/status'));
    const heartbeat = await time(() => api('POST', '/v1/agents/h1/heartbeat', { vms: [] }));
    console.log(`[measure] median latency: GET /v1/status ${status.toFixed(2)} ms, heartbeat ${heartbeat.toFixed(2)} ms`);
    expect(status).toBeLessThan(50);

    expect(logs.length).toBeGreaterThan(100);
    expect(logs.some((l) => l.includes('"msg":"request"'))).toBe(true);
    expect(logs.filter((l) => l.includes(TOKEN))).toEqual([]);
  });
});
