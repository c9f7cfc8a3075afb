/**
 * The HAProxy traffic driver against a REAL haproxy (Debian's 2.6): started from the config
 * config.ts renders, bound to 127.0.0.1 on free high ports, its config, admin socket, pid file
 * and log in a temp dir; backends are tiny node:http servers on 127.0.0.1-3 answering their
 * name. haproxy is stopped by its recorded pid in afterAll, and SIGKILLed by that pid as a last
 * resort, whatever happened; the temp dir is removed.
 *
 * Timing is measured and printed (switch latency: ensure → first request on the new backend),
 * never asserted.
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrafficSwitchContract } from '../src/traffic/contract.js';
import { killRecordedDaemons } from '../src/traffic/daemon.js';
import { ensureTrafficTools } from '../src/traffic/host-tools.js';
import { HaproxyTrafficSwitch } from '../src/traffic/haproxy/haproxy-switch.js';
import { startHaproxy, type HaproxyProcess } from '../src/traffic/haproxy/process.js';
import { runtimeCommand } from '../src/traffic/haproxy/runtime.js';
import { errorRateBetween } from '../src/traffic/stats.js';
import type { Backend } from '../src/traffic/switch.js';
import { freePort } from './support/net.js';
import { untilWithin } from './support/poll.js';

const dir = mkdtempSync(join(tmpdir(), 'uhx-')); // short: the admin socket path must stay < 108 bytes
const socketPath = join(dir, 'admin.sock');
const servers: http.Server[] = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 }); // a client that keeps its connection, like a real one
let haproxy: HaproxyProcess | null = null;
const until = untilWithin(10_000, 50);

/** A backend answering `name` (status `status`) on every path but /health, which answers 200. */
async function backendServer(name: string, host: string, status = 200): Promise<Backend> {
  const s = http.createServer((req, res) => {
    res.statusCode = req.url === '/health' ? 200 : status;
    res.end(name);
  });
  servers.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, host, () => resolve());
  });
  return { host, port: (s.address() as AddressInfo).port };
}

/** GET through a frontend, on the kept-alive connection. */
function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: +s[s.length >> 1].toFixed(2), max: +s[s.length - 1].toFixed(2), n: s.length };
};

let A: Backend, B: Backend, C: Backend, E: Backend;
let port1: number, port2: number, port3: number;

beforeAll(async () => {
  await ensureTrafficTools();
  A = await backendServer('A', '127.0.0.1');
  B = await backendServer('B', '127.0.0.2');
  C = await backendServer('C', '127.0.0.3');
  E = await backendServer('E', '127.0.0.1', 500);
  [port1, port2, port3] = [await freePort(), await freePort(), await freePort()];
  haproxy = await startHaproxy({
    dir,
    config: {
      socketPath,
      services: [
        { service: 'vm-1', listen: { host: '127.0.0.1', port: port1 }, backend: A },
        { service: 'vm-2', listen: { host: '127.0.0.1', port: port2 }, backend: B },
        // No backend yet: the slot starts in maintenance.
        { service: 'vm-3', listen: { host: '127.0.0.1', port: port3 }, backend: null },
      ],
    },
  });
}, 120_000);

afterAll(async () => {
  agent.destroy();
  await haproxy?.daemon.stop().catch(() => undefined);
  killRecordedDaemons(dir);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

runTrafficSwitchContract({
  name: 'HAProxy (real haproxy 2.6)',
  make: () => ({
    switch: new HaproxyTrafficSwitch({ socketPath }),
    services: ['vm-1', 'vm-2'],
    backends: [A, B, C],
    tamper: async (service, b) => {
      const answer = await runtimeCommand(socketPath, `set server be_${service}/active addr ${b.host} port ${b.port}`);
      expect(answer).toMatch(/changed/);
    },
    unknownService: 'vm-9',
  }),
});

describe('HAProxy traffic switch with real haproxy', () => {
  const sw = new HaproxyTrafficSwitch({ socketPath });

  it('switches A → B: the first request after ensure answers B (keep-alive client); measures the switch latency', async () => {
    await sw.ensure('vm-1', A);
    await until('vm-1 serves A', async () => (await get(port1)).body === 'A');
    const switchMs: number[] = [];
    const ensureMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const to = i % 2 === 0 ? B : A;
      const want = to === B ? 'B' : 'A';
      const t0 = performance.now();
      const r = await sw.ensure('vm-1', to, { assumeHealthy: true });
      const t1 = performance.now();
      const first = await get(port1);
      const t2 = performance.now();
      expect(r.changed).toBe(true);
      expect(first).toEqual({ status: 200, body: want });
      ensureMs.push(t1 - t0);
      switchMs.push(t2 - t0);
    }
    console.log(`[traffic-haproxy] ensure (observe + set addr): ${JSON.stringify(stats(ensureMs))} ms; ensure → first response on the new backend: ${JSON.stringify(stats(switchMs))} ms`);
  });

  it('heals a route changed behind its back on the next ensure', async () => {
    await sw.ensure('vm-1', B);
    expect((await get(port1)).body).toBe('B');
    await runtimeCommand(socketPath, `set server be_vm-1/active addr ${C.host} port ${C.port}`);
    await runtimeCommand(socketPath, 'set server be_vm-1/active state drain');
    expect((await sw.observe('vm-1')).targets[0]).toMatchObject({ host: C.host, port: C.port, enabled: false });
    const healed = await sw.ensure('vm-1', B);
    expect(healed.actions).toEqual([`set server be_vm-1/active addr ${B.host} port ${B.port}`, 'set server be_vm-1/active state ready']);
    expect(await get(port1)).toEqual({ status: 200, body: 'B' });
    expect((await sw.ensure('vm-1', B)).changed).toBe(false);
  });

  it('a slot configured without a backend answers 503 until the first ensure', async () => {
    expect((await sw.observe('vm-3')).targets[0].enabled).toBe(false);
    expect((await get(port3)).status).toBe(503);
    const r = await sw.ensure('vm-3', C, { assumeHealthy: true });
    expect(r.actions).toContain('set server be_vm-3/active state ready');
    expect(await get(port3)).toEqual({ status: 200, body: 'C' });
    await sw.disable('vm-3');
    expect((await get(port3)).status).toBe(503);
  });

  it('stats count requests and 5xx per server: a 500-answering backend has an error rate of 1', async () => {
    await sw.ensure('vm-2', E, { assumeHealthy: true });
    const s0 = await sw.stats('vm-2');
    for (let i = 0; i < 10; i++) expect((await get(port2)).status).toBe(500);
    const s1 = await sw.stats('vm-2');
    expect(s1.servers.active.address).toBe(`${E.host}:${E.port}`);
    expect(errorRateBetween(s0.servers.active, s1.servers.active)).toMatchObject({ requests: 10, errors: 10, rate: 1 });
    expect(errorRateBetween(s0.backend, s1.backend)).toMatchObject({ requests: 10, errors: 10, rate: 1 });
    await sw.ensure('vm-2', B, { assumeHealthy: true });
    for (let i = 0; i < 10; i++) expect((await get(port2)).status).toBe(200);
    const s2 = await sw.stats('vm-2');
    expect(errorRateBetween(s1.servers.active, s2.servers.active)).toMatchObject({ requests: 10, errors: 0, rate: 0 });
    console.log(`[traffic-haproxy] vm-2 counters: ${JSON.stringify(s2.servers.active)}`);
  });

  it('a dead backend goes down by health check; moving to a live one with assumeHealthy serves at once', async () => {
    const dead = { host: '127.0.0.1', port: await freePort() };
    await sw.ensure('vm-2', dead);
    const t0 = performance.now();
    await until('vm-2 marked down', async () => (await sw.observe('vm-2')).targets[0].health === 'down');
    const downMs = performance.now() - t0;
    const s0 = await sw.stats('vm-2');
    expect((await get(port2)).status).toBe(503);
    const s1 = await sw.stats('vm-2');
    // HAProxy's own 503 ("no server available") counts on the backend row.
    expect(s1.backend.http5xx - s0.backend.http5xx).toBe(1);

    // Without assumeHealthy the new backend waits for its first passing check (downinter).
    let t = performance.now();
    await sw.ensure('vm-2', B);
    let failed = 0;
    while ((await get(port2)).status !== 200) {
      if (++failed > 10_000 || performance.now() - t > 10_000) throw new Error(`vm-2 did not serve B within 10 s (${failed} × 503)`);
    }
    const checkedMs = performance.now() - t;
    await sw.ensure('vm-2', dead);
    await until('vm-2 marked down again', async () => (await sw.observe('vm-2')).targets[0].health === 'down');
    t = performance.now();
    const r = await sw.ensure('vm-2', B, { assumeHealthy: true });
    expect(r.actions).toContain('set server be_vm-2/active health up');
    expect(await get(port2)).toEqual({ status: 200, body: 'B' });
    const assumedMs = performance.now() - t;
    console.log(
      `[traffic-haproxy] dead backend marked down after ${downMs.toFixed(0)} ms; switch off a down slot: ${checkedMs.toFixed(1)} ms (${failed} × 503) waiting for the check, ${assumedMs.toFixed(1)} ms with assumeHealthy`,
    );
  });

  it('an unreachable admin socket is TRAFFIC_UNAVAILABLE and retryable', async () => {
    const gone = new HaproxyTrafficSwitch({ socketPath: join(dir, 'nope.sock') });
    await expect(gone.observe('vm-1')).rejects.toMatchObject({ code: 'TRAFFIC_UNAVAILABLE', retryable: true });
  });

  it('a haproxy that cannot start reports why (its log), and leaves no process', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'uhx-'));
    try {
      const err = await startHaproxy({
        dir: d2,
        // The port is taken by backend A.
        config: { socketPath: join(d2, 'admin.sock'), services: [{ service: 'x', listen: { host: A.host, port: A.port }, backend: B }] },
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'TrafficStartError', code: 'TRAFFIC_UNAVAILABLE', retryable: false });
      expect((err as { logTail: string }).logTail).toMatch(/cannot bind|Address already in use/i);
      expect(killRecordedDaemons(d2)).toEqual([]);
    } finally {
      rmSync(d2, { recursive: true, force: true });
    }
  });
});
