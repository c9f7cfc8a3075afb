/**
 * The replication routes through the real agent HTTP API (auth, body parsing, error mapping),
 * over a ReplicationManager on the SIMULATED hypervisor.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { diskDigestSchema, quiesceReplySchema, replicationStatusSchema } from '../../api/shadow-protocol.js';
import { baseSpec } from '../../hypervisor/contract.js';
import { SimWorld } from '../../hypervisor/sim/world.js';
import { startAgentApi } from '../api.js';
import { silentLogger } from '../log.js';
import { RecordStore } from '../records.js';
import type { Sampler } from '../sampler.js';
import { INITRD, KERNEL, simManager, tempRunDir, vmSpec } from '../test-helpers.js';
import { ReplicationManager } from './manager.js';
import { parseChunk, replicationRoutes } from './routes.js';

const TOKEN = 'routes-test-token-0123456789';
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function setup() {
  const world = SimWorld.twoHosts();
  world.addFile(KERNEL, 10);
  world.addFile(INITRD, 2);
  world.addFile('/h2/t.raw', 64);
  const { dir, cleanup } = tempRunDir();
  cleanups.push(cleanup);
  const records = new RecordStore(dir);
  const vms = simManager(world, world.driver('h1'), dir, { records });
  await vms.ensure(vmSpec('vm1'));
  const d2 = world.driver('h2');
  await d2.create(baseSpec('tgt', { disks: [{ kind: 'file', id: 'data', path: '/h2/t.raw' }], incoming: true }));
  await d2.start('tgt');
  await d2.startNbdExport('tgt', { host: '10.0.0.2', port: 10809, exports: [{ name: 's0', device: 'data', writable: true }] });
  const digests: { image: string; chunk: number }[] = [];
  const repl = new ReplicationManager({
    driver: world.driver('h1'),
    clock: world.clock,
    log: silentLogger,
    records,
    runDir: dir,
    fenced: () => false,
    // The real digester needs a real image (digest.test.ts, test/replication.test.ts).
    digester: async (image, _format, chunkBytes) => {
      digests.push({ image, chunk: chunkBytes });
      return { sizeBytes: 2 * chunkBytes, chunkBytes, chunks: ['a', 'b'], digest: 'c', ms: 1 };
    },
  });
  repl.start();
  cleanups.push(() => repl.close());
  const api = await startAgentApi({ manager: vms, sampler: {} as Sampler, info: () => { throw new Error('unused'); }, token: TOKEN, log: silentLogger, routes: [replicationRoutes(repl)] }, '127.0.0.1', 0);
  cleanups.push(() => api.close());
  const call = async (method: string, path: string, body?: unknown, token = TOKEN) => {
    const res = await fetch(`http://127.0.0.1:${api.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  return { call, digests, dir };
}

const spec = { shadowId: 'vm1-s1', target: { host: '10.0.0.2', port: 10809, export: 's0' }, mode: 'sync' };

describe('replication routes', () => {
  it('serve the protocol: PUT/GET/resync/quiesce/unquiesce/disk-digest/DELETE', async () => {
    const { call, digests, dir } = await setup();
    expect((await call('GET', '/v1/vms/vm1/replication', undefined, 'wrong-token')).status).toBe(401);
    const put = await call('PUT', '/v1/vms/vm1/replication', spec);
    expect(put.status).toBe(200);
    expect(replicationStatusSchema.parse(put.body)).toMatchObject({ vmId: 'vm1', generation: 1, mode: 'sync' });
    const get = await call('GET', '/v1/vms/vm1/replication');
    expect(replicationStatusSchema.parse(get.body).vmId).toBe('vm1');
    const rs = await call('POST', '/v1/vms/vm1/replication/resync');
    expect(replicationStatusSchema.parse(rs.body).generation).toBe(2);
    const q = await call('POST', '/v1/vms/vm1/quiesce', { maxPauseMs: 60_000 });
    expect(q.status).toBe(200);
    quiesceReplySchema.parse(q.body);
    const u = await call('POST', '/v1/vms/vm1/unquiesce');
    expect(u.status).toBe(200);
    expect(u.body.pauseMs).toBeGreaterThanOrEqual(0);
    const dg = await call('GET', '/v1/vms/vm1/disk-digest?chunk=65536');
    expect(diskDigestSchema.parse(dg.body)).toMatchObject({ chunkBytes: 65536, chunks: ['a', 'b'] });
    await call('GET', '/v1/vms/vm1/disk-digest');
    expect(digests).toEqual([
      { image: `${dir}/disks/vm1.qcow2`, chunk: 65536 },
      { image: `${dir}/disks/vm1.qcow2`, chunk: 1024 * 1024 },
    ]);
    expect((await call('DELETE', '/v1/vms/vm1/replication')).status).toBe(204);
    const gone = await call('GET', '/v1/vms/vm1/replication');
    expect(gone).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
  });

  it('answer typed errors: unknown VM 404, bad body 400 with every field path, bad chunk 400, wrong method 405', async () => {
    const { call } = await setup();
    expect(await call('PUT', '/v1/vms/nope/replication', spec)).toMatchObject({ status: 404, body: { error: { code: 'VM_NOT_FOUND' } } });
    expect(await call('GET', '/v1/vms/nope/disk-digest')).toMatchObject({ status: 404, body: { error: { code: 'VM_NOT_FOUND' } } });
    expect(await call('POST', '/v1/vms/vm1/quiesce', {})).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    const bad = await call('PUT', '/v1/vms/vm1/replication', { shadowId: 'X', target: { host: 'h', port: 70000, export: 's0' }, mode: 'sync', intervalSeconds: -1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('REQUEST_INVALID');
    expect(bad.body.error.context.issues.map((i: { path: string }) => i.path).sort()).toEqual(['intervalSeconds', 'shadowId', 'target.port']);
    expect((await call('PUT', '/v1/vms/vm1/replication', '{not json')).status).toBe(400);
    const chunk = await call('GET', '/v1/vms/vm1/disk-digest?chunk=12abc');
    expect(chunk).toMatchObject({ status: 400, body: { error: { code: 'REQUEST_INVALID', context: { path: 'chunk' } } } });
    expect((await call('POST', '/v1/vms/vm1/replication')).status).toBe(405);
    expect((await call('GET', '/v1/vms/vm1/quiesce')).status).toBe(405);
  });
});

describe('parseChunk', () => {
  it('defaults to 1 MiB and bounds the value', () => {
    expect(parseChunk(null, 'v')).toBe(1024 * 1024);
    expect(parseChunk('4096', 'v')).toBe(4096);
    for (const bad of ['0', '4095', '1.5', '-4096', String(2 ** 28 + 1)]) expect(() => parseChunk(bad, 'v')).toThrow(/chunk/);
  });
});
