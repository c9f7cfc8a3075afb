import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../core/clock.js';
import { QmpClient, type QmpEvent } from './qmp-client.js';
import { isHypervisorError } from '../errors.js';

/** A fake QMP server on a unix socket: a protocol test double, scripted per test. */
class FakeQmp {
  readonly server: net.Server;
  readonly received: Record<string, unknown>[] = [];
  conns: net.Socket[] = [];
  connections = 0;
  /** Reply to a command: an object to send back, or null to send nothing. */
  handler: (cmd: Record<string, unknown>) => Record<string, unknown> | null = () => ({ return: {} });
  greeting: string | null = JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 }, package: 'fake' }, capabilities: ['oob'] } });

  constructor(readonly path: string) {
    this.server = net.createServer((c) => {
      this.connections++;
      this.conns.push(c);
      c.setEncoding('utf8');
      if (this.greeting !== null) c.write(`${this.greeting}\r\n`);
      let buf = '';
      c.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const cmd = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
          buf = buf.slice(nl + 1);
          this.received.push(cmd);
          const r = cmd.execute === 'qmp_capabilities' ? { return: {} } : this.handler(cmd);
          if (r) c.write(`${JSON.stringify({ ...r, id: cmd.id })}\r\n`);
        }
      });
      c.on('error', () => undefined);
    });
  }
  listen(): Promise<void> {
    return new Promise((r) => this.server.listen(this.path, () => r()));
  }
  send(obj: unknown): void {
    for (const c of this.conns) if (!c.destroyed) c.write(`${JSON.stringify(obj)}\r\n`);
  }
  dropAll(): void {
    for (const c of this.conns) c.destroy();
    this.conns = [];
  }
  close(): Promise<void> {
    this.dropAll();
    return new Promise((r) => this.server.close(() => r()));
  }
}

let dir: string;
let fake: FakeQmp;
let clients: QmpClient[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'umbra-qmp-'));
  fake = new FakeQmp(join(dir, 'qmp.sock'));
  await fake.listen();
});

afterEach(async () => {
  for (const c of clients) await c.close();
  clients = [];
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(clock = new ManualClock(0)): Promise<QmpClient> {
  const c = await QmpClient.connect({ path: fake.path, clock, commandTimeoutMs: 1000, connectTimeoutMs: 1000, context: { vmId: 'vm1' } });
  clients.push(c);
  return c;
}

function flush(): Promise<void> {
  return new Promise((r) => setTimeout(r, 20));
}

describe('QmpClient against a fake QMP server', () => {
  it('reads the greeting and negotiates capabilities first', async () => {
    const c = await connect();
    expect(c.greeting.version.qemu).toEqual({ major: 7, minor: 2, micro: 22 });
    expect(fake.received[0].execute).toBe('qmp_capabilities');
    expect(c.connected).toBe(true);
  });

  it('matches replies to commands by id, also when they arrive out of order', async () => {
    const held: Record<string, unknown>[] = [];
    fake.handler = (cmd) => {
      held.push(cmd);
      if (held.length < 2) return null;
      // Answer the second command first, then the first one.
      for (const h of [...held].reverse()) fake.send({ return: { echo: h.execute }, id: h.id });
      return null;
    };
    const c = await connect();
    const [a, b] = await Promise.all([c.execute('query-status'), c.execute('query-version')]);
    expect(a).toEqual({ echo: 'query-status' });
    expect(b).toEqual({ echo: 'query-version' });
    const ids = fake.received.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('passes arguments and turns an error reply into HV_COMMAND_FAILED', async () => {
    fake.handler = (cmd) => ({ error: { class: 'DeviceNotFound', desc: `Device '${(cmd.arguments as { device: string }).device}' not found` } });
    const c = await connect();
    const err = await c.execute('block-job-cancel', { device: 'm0' }).catch((e: unknown) => e);
    expect(isHypervisorError(err, 'HV_COMMAND_FAILED')).toBe(true);
    expect(err).toMatchObject({ errorClass: 'DeviceNotFound', desc: "Device 'm0' not found", retryable: false });
    expect((err as { context: { vmId: string } }).context.vmId).toBe('vm1');
    expect(fake.received[1]).toMatchObject({ execute: 'block-job-cancel', arguments: { device: 'm0' } });
  });

  it('times a silent command out on the injected clock (retryable) and ignores the late reply', async () => {
    const clock = new ManualClock(0);
    fake.handler = () => null;
    const c = await connect(clock);
    const p = c.execute('query-status', undefined, { timeoutMs: 250 }).catch((e: unknown) => e);
    await flush();
    clock.advance(249);
    await flush();
    let settled = false;
    void p.then(() => (settled = true));
    await flush();
    expect(settled).toBe(false);
    clock.advance(1);
    const err = await p;
    expect(isHypervisorError(err, 'QMP_TIMEOUT')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(true);
    fake.send({ return: {}, id: fake.received[1].id }); // late: must be dropped quietly
    fake.handler = () => ({ return: { status: 'running' } });
    expect(await c.execute('query-status')).toEqual({ status: 'running' });
  });

  it('delivers events to listeners and iterators with QEMU timestamps', async () => {
    const c = await connect();
    const seen: QmpEvent[] = [];
    const off = c.onEvent((e) => seen.push(e), (e) => e.event === 'STOP');
    const ac = new AbortController();
    const it = c.events({ signal: ac.signal });
    fake.send({ event: 'RESUME', timestamp: { seconds: 100, microseconds: 500 } });
    fake.send({ event: 'STOP', timestamp: { seconds: 101, microseconds: 0 }, data: { x: 1 } });
    const first = await it.next();
    const second = await it.next();
    expect(first.value).toEqual({ event: 'RESUME', data: {}, atMs: 100000.5 });
    expect(second.value).toMatchObject({ event: 'STOP', data: { x: 1 }, atMs: 101000 });
    expect(seen.map((e) => e.event)).toEqual(['STOP']);
    off();
    ac.abort();
    expect((await it.next()).done).toBe(true);
  });

  it('rejects pending commands on a dropped connection, reports it, and reconnects', async () => {
    fake.handler = () => null;
    const c = await connect();
    const drops: Error[] = [];
    c.onDisconnect((e) => drops.push(e));
    const p = c.execute('query-status').catch((e: unknown) => e);
    await flush();
    fake.dropAll();
    const err = await p;
    expect(isHypervisorError(err, 'QMP_DISCONNECTED')).toBe(true);
    await flush();
    expect(drops).toHaveLength(1);
    expect(c.connected).toBe(false);
    expect(isHypervisorError(await c.execute('query-status').catch((e: unknown) => e), 'QMP_DISCONNECTED')).toBe(true);

    fake.handler = () => ({ return: { status: 'running' } });
    await c.reconnect();
    expect(fake.connections).toBe(2);
    expect(await c.execute('query-status')).toEqual({ status: 'running' });
    // The second connection negotiated capabilities again before anything else.
    const caps = fake.received.filter((r) => r.execute === 'qmp_capabilities');
    expect(caps).toHaveLength(2);
  });

  it('refuses a peer that does not greet with QMP', async () => {
    fake.greeting = JSON.stringify({ hello: 'world' });
    const err = await connect().catch((e: unknown) => e);
    expect(isHypervisorError(err, 'QMP_PROTOCOL')).toBe(true);
  });

  it('times out when the greeting never comes (a monitor busy with another client)', async () => {
    fake.greeting = null;
    const clock = new ManualClock(0);
    const p = QmpClient.connect({ path: fake.path, clock, connectTimeoutMs: 300 }).catch((e: unknown) => e);
    await flush();
    clock.advance(300);
    const err = await p;
    expect(isHypervisorError(err, 'QMP_TIMEOUT')).toBe(true);
  });

  it('fails to connect to a missing socket with a retryable QMP_DISCONNECTED', async () => {
    const err = await QmpClient.connect({ path: join(dir, 'nope.sock') }).catch((e: unknown) => e);
    expect(isHypervisorError(err, 'QMP_DISCONNECTED')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(true);
    expect(String((err as Error).message)).toContain('ENOENT');
  });

  it('close() rejects pending commands, ends iterators and releases the socket', async () => {
    fake.handler = () => null;
    const c = await connect();
    const it = c.events();
    const p = c.execute('query-status').catch((e: unknown) => e);
    await flush();
    await c.close();
    expect(isHypervisorError(await p, 'QMP_DISCONNECTED')).toBe(true);
    expect((await it.next()).done).toBe(true);
    await expect(c.reconnect()).rejects.toMatchObject({ code: 'QMP_DISCONNECTED' });
    await flush();
    expect(fake.conns.every((s) => s.destroyed || s.readableEnded)).toBe(true);
  });
});
