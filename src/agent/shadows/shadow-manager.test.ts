import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { shadowSpecSchema, type ShadowSpec } from '../../api/shadow-protocol.js';
import type { UmbraError } from '../../core/errors.js';
import type { SimWorld } from '../../hypervisor/sim/world.js';
import { SimBlockTargetDriver, SimTargetWorld } from '../../storage/sim/sim-targets.js';
import { silentLogger } from '../log.js';
import { sequentialPorts } from '../ports.js';
import { INITRD, KERNEL, simWorld, tempRunDir } from '../test-helpers.js';
import { ShadowRecordStore } from './records.js';
import { COMMAND_TASK_UNSUPPORTED, type HttpGet } from './rehearse.js';
import { shadowRoutes } from './routes.js';
import { ShadowManager } from './shadow-manager.js';

const TOKEN = 'admin-token-0123456789';
const MiB = 1024 * 1024;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function shadowSpec(id: string, flavor: 'warm' | 'migrate', extra: Partial<ShadowSpec> = {}): ShadowSpec {
  return shadowSpecSchema.parse({ id, primaryId: 'vm1', flavor, diskBytes: 64 * MiB, vcpus: 1, maxVcpus: 2, memoryMiB: 128, maxMemoryMiB: 256, kernel: KERNEL, initrd: INITRD, adminToken: TOKEN, ...extra });
}

/**
 * A guest service stand-in: a host port answers when a simulated VM forwarding it runs
 * (`inmigrate` VMs do not answer); `down` makes every service refuse.
 */
function simHttp(world: SimWorld, opts: { down?: boolean } = {}): HttpGet & { calls: string[] } {
  const calls: string[] = [];
  const get = (async (url: string) => {
    calls.push(url);
    const u = new URL(url);
    const f = world.forwards.get(`${u.hostname}:${u.port}`);
    const vm = f ? world.host(f.host).vms.get(f.vmId) : undefined;
    if (opts.down || !vm || vm.state !== 'running') throw new Error('connect ECONNREFUSED');
    await world.clock.sleep(50);
    if (u.pathname === '/health') return { status: 200, body: '{"status":"ok","role":"standby"}' };
    return { status: 404, body: 'not found' };
  }) as unknown as HttpGet & { calls: string[] };
  get.calls = calls;
  return get;
}

function setup(opts: { down?: boolean; runDir?: string; sim?: SimTargetWorld; world?: SimWorld } = {}) {
  const world = opts.world ?? simWorld();
  let runDir = opts.runDir;
  if (!runDir) {
    const t = tempRunDir();
    runDir = t.dir;
    cleanups.push(t.cleanup);
  }
  const driver = world.driver('h1');
  const sim = opts.sim ?? new SimTargetWorld(world.clock, world, 'h1');
  const targets = new SimBlockTargetDriver(sim);
  const http = simHttp(world, { down: opts.down });
  const ports = sequentialPorts(20000, () => new Set([...world.forwards.keys(), ...world.nbdServers.keys()]));
  const manager = new ShadowManager({ driver, targets, clock: world.clock, log: silentLogger, runDir, address: '10.0.0.1', ports, http });
  cleanups.push(() => manager.close());
  return { world, runDir, driver, sim, targets, manager, http, host: world.host('h1') };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'no error',
    (e: UmbraError) => e.code ?? String(e),
  );
}

describe('ShadowManager on a simulated host (SIMULATED hypervisor and targets)', () => {
  it('ensures a warm shadow: target exported on the agent address, VM booted in standby on the NBD export', async () => {
    const { manager, host, runDir, world } = setup();
    await manager.start();
    const st = await manager.ensure(shadowSpec('s1', 'warm'));
    expect(st).toMatchObject({
      id: 's1',
      primaryId: 'vm1',
      flavor: 'warm',
      target: { host: '10.0.0.1', port: 20000, export: 's1' },
      targetState: 'running',
      targetRestarts: 0,
      vm: { state: 'running', endpoint: 'http://10.0.0.1:20001' },
      lastError: null,
    });
    expect(st.targetPid).toBeTypeOf('number');
    const vm = host.get('s1', 'test').spec;
    expect(vm.disks).toEqual([{ kind: 'nbd', id: 'data', host: '10.0.0.1', port: 20000, export: 's1', readOnly: false, snapshot: false, reconnectDelaySeconds: 15 }]);
    expect(vm.boot).toMatchObject({ kind: 'kernel', kernel: KERNEL, initrd: INITRD });
    expect(vm.boot.kind === 'kernel' && vm.boot.append).toContain('umbra.data=none');
    expect(vm.boot.kind === 'kernel' && vm.boot.append).toContain(`umbra.token=${TOKEN}`);
    expect(vm.incoming).toBe(false);
    expect(vm.vcpus).toEqual({ base: 1, max: 2 });
    expect(vm.memory).toMatchObject({ baseMiB: 128, maxMiB: 256 });
    expect(world.nbdServers.get('10.0.0.1:20000')?.exports.has('s1')).toBe(true);
    expect(existsSync(join(runDir, 'agent', 'shadows', 's1.json'))).toBe(true);

    const again = await manager.ensure(shadowSpec('s1', 'warm'));
    const named = await manager.ensure(shadowSpec('s1', 'warm', { exportPort: 20000, servicePort: 20001 }));
    expect([again.targetPid, named.targetPid, again.vm.pid, named.vm.pid]).toEqual([st.targetPid, st.targetPid, st.vm.pid, st.vm.pid]);
    expect(await codeOf(manager.ensure(shadowSpec('s1', 'warm', { memoryMiB: 64 })))).toBe('CONFLICT');
    expect((await manager.list()).map((s) => s.id)).toEqual(['s1']);
  });

  it('ensures a migrate shadow as a paused incoming VM of the same shape', async () => {
    const { manager, host } = setup();
    await manager.start();
    const st = await manager.ensure(shadowSpec('s2', 'migrate'));
    expect(st.vm).toMatchObject({ state: 'inmigrate', ready: true }); // waiting for the stream
    const vm = host.get('s2', 'test').spec;
    expect(vm.incoming).toBe(true);
    expect(vm.boot.kind === 'kernel' && vm.boot.append).toContain('umbra.data=vda');
    expect(vm.devices).toEqual([{ kind: 'pcie-root-port', id: 'rp1', chassis: 1, slot: 1 }]);
  });

  it('a warm shadow is ready once its standby guest answers its probe (asked once per QEMU process)', async () => {
    const down = setup({ down: true });
    await down.manager.start();
    expect((await down.manager.ensure(shadowSpec('s1', 'warm'))).vm).toMatchObject({ state: 'running', ready: false });
    const { manager, http } = setup();
    await manager.start();
    await manager.ensure(shadowSpec('s1', 'warm'));
    expect((await manager.status('s1')).vm.ready).toBe(true);
    const probes = http.calls.length;
    expect((await manager.status('s1')).vm.ready).toBe(true);
    expect(http.calls.length).toBe(probes); // remembered for this process
  });

  it('refuses an invalid spec with every problem, before picking ports or writing a record', async () => {
    const { manager, runDir } = setup();
    const e = await manager.ensure(shadowSpec('s3', 'warm', { maxVcpus: 1, vcpus: 2, diskBytes: 1000 })).catch((x: UmbraError) => x);
    expect((e as UmbraError).code).toBe('VM_SPEC_INVALID');
    expect(String((e as Error).message)).toMatch(/maxVcpus.*diskBytes/);
    expect(existsSync(join(runDir, 'agent', 'shadows', 's3.json'))).toBe(false);
  });

  it('restarts a dead target on the same port within ~1 s: `restarted` once, then `running`', async () => {
    const { manager, targets, world } = setup();
    await manager.start();
    const st = await manager.ensure(shadowSpec('s1', 'warm'));
    await targets.kill('s1');
    expect((await manager.status('s1')).targetState).toBe('stopped');
    await world.clock.sleep(1100);
    const after = await manager.status('s1');
    expect(after).toMatchObject({ targetState: 'restarted', targetRestarts: 1, target: st.target });
    expect(after.targetPid).not.toBe(st.targetPid);
    expect((await manager.status('s1')).targetState).toBe('running');
    expect((await manager.status('s1')).vm.pid).toBe(st.vm.pid); // the VM is untouched
  });

  it('digests the target bytes; unknown shadows are NOT_FOUND', async () => {
    const { manager, targets } = setup();
    await manager.start();
    await manager.ensure(shadowSpec('s1', 'warm'));
    const zero = await manager.digest('s1');
    expect(zero.chunks).toHaveLength(64);
    await targets.write('s1', 3 * MiB, Buffer.alloc(4096, 0x5a));
    const d = await manager.digest('s1');
    expect(d.chunks.filter((c, i) => c !== zero.chunks[i]).length).toBe(1);
    expect(d.chunks[3]).not.toBe(zero.chunks[3]);
    expect(await codeOf(manager.digest('nope'))).toBe('NOT_FOUND');
    expect(await codeOf(manager.status('nope'))).toBe('NOT_FOUND');
    expect(await codeOf(manager.delete('nope'))).toBe('NOT_FOUND');
  });

  it('rehearses a warm shadow in place: probe path, HTTP tasks, and a clear refusal of command tasks', async () => {
    const { manager, http } = setup();
    await manager.start();
    const st = await manager.ensure(shadowSpec('s1', 'warm'));
    const probe = await manager.rehearse('s1', { bootTimeoutMs: 1000 });
    expect(probe).toMatchObject({ shadowId: 's1', flavor: 'warm', where: 'in-shadow', ok: true, timeToReadyMs: null, task: null, error: null });
    expect(http.calls.at(-1)).toBe(`${st.vm.endpoint}/health`);
    const task = await manager.rehearse('s1', { bootTimeoutMs: 1000, task: { http: { path: '/health', expectStatus: 200, timeoutMs: 1000 } } });
    expect(task).toMatchObject({ ok: true, task: { ok: true, status: 200 } });
    const wrong = await manager.rehearse('s1', { bootTimeoutMs: 1000, task: { http: { path: '/missing', expectStatus: 200, timeoutMs: 1000 } } });
    expect(wrong).toMatchObject({ ok: false, task: { ok: false, status: 404 } });
    expect(wrong.error).toMatch(/answered 404/);
    const cmd = await manager.rehearse('s1', { bootTimeoutMs: 1000, task: { command: { argv: ['true'], timeoutMs: 1000 } } });
    expect(cmd).toMatchObject({ ok: false, task: { ok: false, error: COMMAND_TASK_UNSUPPORTED }, error: COMMAND_TASK_UNSUPPORTED });
    const port = await manager.rehearse('s1', { bootTimeoutMs: 1000, task: { http: { path: '/health', port: 8080, expectStatus: 200, timeoutMs: 1000 } } });
    expect(port.ok).toBe(false);
  });

  it('rehearses a migrate shadow on a throwaway VM booted from a point-in-time export, then removes it', async () => {
    const { manager, host, targets, http, world } = setup();
    await manager.start();
    const st = await manager.ensure(shadowSpec('s2', 'migrate'));
    const seen: unknown[] = [];
    const orig = world.forwards.get.bind(world.forwards);
    // Capture the throwaway VM's spec while it exists.
    world.forwards.get = (k: string) => {
      const f = orig(k);
      if (f?.vmId === 's2-r1') seen.push(host.vms.get('s2-r1')?.spec.disks);
      return f;
    };
    const r = await manager.rehearse('s2', { bootTimeoutMs: 30_000, task: { http: { path: '/health', expectStatus: 200, timeoutMs: 1000 } } });
    world.forwards.get = orig;
    expect(r).toMatchObject({ shadowId: 's2', flavor: 'migrate', where: 'pit-copy', ok: true, task: { ok: true, status: 200 }, error: null });
    expect(r.timeToReadyMs).toBeGreaterThanOrEqual(0);
    expect(seen[0]).toEqual([{ kind: 'nbd', id: 'data', host: '10.0.0.1', port: st.target.port, export: 's2-r1', readOnly: false, snapshot: true }]);
    expect(http.calls.some((u) => u.endsWith('/health') && !u.startsWith(st.vm.endpoint!))).toBe(true);
    expect(host.vms.has('s2-r1')).toBe(false);
    expect(await targets.listPointInTime('s2')).toEqual([]);
    const now = await manager.status('s2');
    expect(now.targetPid).toBe(st.targetPid); // the live target was never touched
    expect(now.vm).toMatchObject({ state: 'inmigrate', pid: st.vm.pid });
    const second = await manager.rehearse('s2', { bootTimeoutMs: 30_000 });
    expect(second).toMatchObject({ ok: true, task: null });
    expect(host.vms.has('s2-r2')).toBe(false);
  });

  it('a copy that never gets ready fails after bootTimeoutMs and is still cleaned up', async () => {
    const { manager, host, targets } = setup({ down: true });
    await manager.start();
    await manager.ensure(shadowSpec('s2', 'migrate'));
    const r = await manager.rehearse('s2', { bootTimeoutMs: 5000 });
    expect(r).toMatchObject({ ok: false, where: 'pit-copy', timeToReadyMs: null });
    expect(r.error).toMatch(/not ready within 5000 ms/);
    expect(host.vms.has('s2-r1')).toBe(false);
    expect(await targets.listPointInTime('s2')).toEqual([]);
  });

  it('delete kills the VM, removes the target and the record', async () => {
    const { manager, host, sim, runDir, world } = setup();
    await manager.start();
    await manager.ensure(shadowSpec('s1', 'warm'));
    await manager.delete('s1');
    expect(host.vms.has('s1')).toBe(false);
    expect(sim.targets.has('s1')).toBe(false);
    expect(world.nbdServers.size).toBe(0);
    expect(existsSync(join(runDir, 'agent', 'shadows', 's1.json'))).toBe(false);
    expect(await codeOf(manager.status('s1'))).toBe('NOT_FOUND');
  });

  it('a restarted agent finds its shadows again, restarts a target that died meanwhile, and cleans up an interrupted rehearsal', async () => {
    const first = setup();
    await first.manager.start();
    const warm = await first.manager.ensure(shadowSpec('s1', 'warm'));
    const mig = await first.manager.ensure(shadowSpec('s2', 'migrate'));
    await first.manager.close();
    // While the agent is down: one target dies, and s2 was mid-rehearsal (VM and export left).
    await first.targets.kill('s1');
    await first.targets.exportPointInTime('s2', 'r1');
    const records = new ShadowRecordStore(first.runDir);
    records.update('s2', (r) => {
      r.rehearsals = 1;
      r.rehearsing = { vmId: 's2-r1', pit: 'r1' };
    });
    await first.driver.create({ id: 's2-r1', vcpus: { base: 1 }, memory: { baseMiB: 128 }, boot: { kind: 'none' } });
    await first.driver.start('s2-r1');

    const second = setup({ world: first.world, sim: first.sim, runDir: first.runDir });
    await second.manager.start();
    const s1 = await second.manager.status('s1');
    expect(s1).toMatchObject({ targetState: 'restarted', targetRestarts: 1, target: warm.target, vm: { pid: warm.vm.pid } });
    const s2 = await second.manager.status('s2');
    expect(s2).toMatchObject({ targetPid: mig.targetPid, targetState: 'running', vm: { state: 'inmigrate', pid: mig.vm.pid } });
    expect(first.host.vms.has('s2-r1')).toBe(false);
    expect(await second.targets.listPointInTime('s2')).toEqual([]);
    expect(await second.manager.ensure(shadowSpec('s1', 'warm'))).toMatchObject({ vm: { pid: warm.vm.pid } });
  });
});

describe('shadow routes', () => {
  function req(body?: unknown): http.IncomingMessage {
    return Readable.from(body === undefined ? [] : [Buffer.from(JSON.stringify(body))]) as unknown as http.IncomingMessage;
  }

  it('serve the protocol: ensure, list, get, digest, rehearse, delete; validation errors name the field', async () => {
    const { manager } = setup();
    await manager.start();
    const routes = shadowRoutes(manager);
    const q = new URLSearchParams();
    const put = await routes('PUT', '/v1/shadows/s1', req(shadowSpec('s1', 'warm')), q);
    expect(put).toMatchObject({ status: 200, body: { id: 's1', targetState: 'running' } });
    expect(await routes('GET', '/v1/shadows', req(), q)).toMatchObject({ status: 200, body: { shadows: [{ id: 's1' }] } });
    expect(await routes('GET', '/v1/shadows/s1', req(), q)).toMatchObject({ status: 200, body: { id: 's1' } });
    const dg = await routes('GET', '/v1/shadows/s1/disk-digest', req(), new URLSearchParams('chunk=4194304'));
    expect((dg?.body as { chunks: string[] }).chunks).toHaveLength(16);
    expect(await codeOf(routes('GET', '/v1/shadows/s1/disk-digest', req(), new URLSearchParams('chunk=12')))).toBe('REQUEST_INVALID');
    const rh = await routes('POST', '/v1/shadows/s1/rehearse', req({}), q);
    expect(rh).toMatchObject({ status: 200, body: { ok: true, where: 'in-shadow' } });
    expect(await codeOf(routes('POST', '/v1/shadows/s1/rehearse', req({ task: { http: { path: 'no-slash' } } }), q))).toBe('REQUEST_INVALID');
    expect(await codeOf(routes('PUT', '/v1/shadows/s9', req({ ...shadowSpec('s9', 'warm'), id: 'other' }), q))).toBe('REQUEST_INVALID');
    const bad = await routes('PUT', '/v1/shadows/s9', req({ primaryId: 'vm1' }), q).catch((e: UmbraError) => e);
    expect((bad as UmbraError).code).toBe('REQUEST_INVALID');
    expect(((bad as UmbraError).context.issues as { path: string }[]).map((i) => i.path)).toEqual(expect.arrayContaining(['flavor', 'diskBytes', 'kernel', 'adminToken']));
    expect(await routes('DELETE', '/v1/shadows/s1', req(), q)).toEqual({ status: 204, body: null });
    expect(await codeOf(routes('GET', '/v1/shadows/s1', req(), q))).toBe('NOT_FOUND');
    expect(await routes('GET', '/v1/vms', req(), q)).toBeNull(); // not ours
    expect(await codeOf(routes('POST', '/v1/shadows', req(), q))).toBe('METHOD_NOT_ALLOWED');
  });
});
