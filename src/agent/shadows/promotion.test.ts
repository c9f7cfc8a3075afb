/**
 * Promotion on the SIMULATED hypervisor and targets (virtual time): warm and cold promotion of
 * shadows, and a live migration from a primary on h1 (VmManager + ReplicationManager +
 * LiveMigrator) into a migrate shadow on h2 (ShadowManager). The guest service is a model: a
 * standby guest (umbra.data=none) answers role standby until POST /admin/promote with the
 * token; a guest booted with a data disk, or one that received a migration, is primary.
 * The real-QEMU counterpart is test/promotion.test.ts.
 */
import type http from 'node:http';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { shadowSpecSchema, type ReplicationStatus, type ShadowSpec } from '../../api/shadow-protocol.js';
import { isUmbraError } from '../../core/errors.js';
import { SimWorld } from '../../hypervisor/sim/world.js';
import type { SimVm } from '../../hypervisor/sim/sim-host.js';
import { SimBlockTargetDriver, SimTargetWorld } from '../../storage/sim/sim-targets.js';
import type { AgentLogger } from '../log.js';
import { HttpError } from '../http-errors.js';
import { sequentialPorts } from '../ports.js';
import { RecordStore } from '../records.js';
import { LiveMigrator } from '../replication/migrate.js';
import { ReplicationManager } from '../replication/manager.js';
import { INITRD, KERNEL, simManager, tempRunDir, vmSpec } from '../test-helpers.js';
import type { HttpPost } from './promote.js';
import type { HttpGet } from './rehearse.js';
import { ShadowRecordStore } from './records.js';
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

/** Everything logged, as text (to check the token never appears). */
function capturingLog(): AgentLogger & { text: () => string } {
  const lines: string[] = [];
  const keep = (fields: object, msg: string) => void lines.push(`${msg} ${JSON.stringify(fields)}`);
  return { debug: keep, info: keep, warn: keep, error: keep, text: () => lines.join('\n') };
}

/** The lab guest's service, modelled (see the module comment). `promoteStatus` forces an answer of /admin/promote. */
function guestModel(world: SimWorld) {
  const promoted = new Set<string>();
  const posts: { url: string; auth: string | undefined }[] = [];
  const opts = { promoteStatus: null as number | null };
  const vmAt = (url: string): SimVm | null => {
    const u = new URL(url);
    const f = world.forwards.get(`${u.hostname}:${u.port}`);
    const vm = f ? world.host(f.host).vms.get(f.vmId) : undefined;
    return vm && vm.state === 'running' ? vm : null;
  };
  const role = (vm: SimVm) => {
    const append = vm.spec.boot.kind === 'kernel' ? (vm.spec.boot.append ?? '') : '';
    return promoted.has(`${vm.spec.id}:${vm.pid}`) || vm.spec.incoming || !append.includes('umbra.data=none') ? 'primary' : 'standby';
  };
  const get: HttpGet = async (url) => {
    const vm = vmAt(url);
    if (!vm) throw new Error('connect ECONNREFUSED');
    await world.clock.sleep(20);
    if (new URL(url).pathname === '/health') return { status: 200, body: JSON.stringify({ status: 'ok', role: role(vm), seq: 7 }) };
    return { status: 404, body: 'not found' };
  };
  const post: HttpPost = async (url, headers) => {
    posts.push({ url, auth: headers.authorization });
    const vm = vmAt(url);
    if (!vm) throw new Error('connect ECONNREFUSED');
    await world.clock.sleep(100); // flush + mount
    if (opts.promoteStatus !== null) return { status: opts.promoteStatus, body: '{"error":"forced"}' };
    if (headers.authorization !== `Bearer ${TOKEN}`) return { status: 401, body: '{"error":"bad token"}' };
    if (role(vm) === 'primary') return { status: 409, body: '{"error":"already primary"}' };
    promoted.add(`${vm.spec.id}:${vm.pid}`);
    return { status: 200, body: '{"seq":7,"ms":100}' };
  };
  return { get, post, posts, opts };
}

/** A shadow host h1 (10.0.0.1) alone. */
function shadowHost(opts: { runDir?: string; world?: SimWorld; sim?: SimTargetWorld; fenced?: () => boolean } = {}) {
  const world = opts.world ?? SimWorld.oneHost();
  world.addFile(KERNEL, 10);
  world.addFile(INITRD, 2);
  let runDir = opts.runDir;
  if (!runDir) {
    const t = tempRunDir();
    runDir = t.dir;
    cleanups.push(t.cleanup);
  }
  const driver = world.driver('h1');
  const sim = opts.sim ?? new SimTargetWorld(world.clock, world, 'h1');
  const targets = new SimBlockTargetDriver(sim);
  const guest = guestModel(world);
  const log = capturingLog();
  const ports = sequentialPorts(20000, () => new Set([...world.forwards.keys(), ...world.nbdServers.keys(), ...world.incoming.keys()]));
  const manager = new ShadowManager({ driver, targets, clock: world.clock, log, runDir, address: '10.0.0.1', ports, http: guest.get, post: guest.post, fenced: opts.fenced });
  cleanups.push(() => manager.close());
  return { world, runDir, driver, sim, targets, manager, guest, log, host: world.host('h1') };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'no error',
    (e: unknown) => (isUmbraError(e) || e instanceof HttpError ? e.code : String(e)),
  );
}

describe('warm and cold promotion (simulated)', () => {
  it('warm: the standby guest is asked with the token, then answers primary; the shadow is promoted and keeps its VM and target', async () => {
    const { manager, guest, log, world } = shadowHost();
    await manager.start();
    const st = await manager.ensure(shadowSpec('s1', 'warm'));
    expect(st).toMatchObject({ promoted: false, promotion: null });
    const t0 = world.clock.now();
    const p = await manager.promote('s1', { mode: 'warm', bootTimeoutMs: 10_000 });
    expect(p).toMatchObject({ shadowId: 's1', mode: 'warm', ok: true, seq: 7, error: null, vm: { state: 'running', pid: st.vm.pid, endpoint: st.vm.endpoint } });
    expect(p.ms).toBeGreaterThanOrEqual(120); // SIMULATED: 100 ms mount + a 20 ms health answer
    expect(guest.posts).toEqual([{ url: `${st.vm.endpoint}/admin/promote?dev=vda`, auth: `Bearer ${TOKEN}` }]);
    const after = await manager.status('s1');
    expect(after).toMatchObject({ promoted: true, promotion: { mode: 'warm', ms: p.ms }, targetPid: st.targetPid, vm: { pid: st.vm.pid } });
    expect(after.promotion!.at).toBeGreaterThanOrEqual(t0);
    expect(log.text()).not.toContain(TOKEN);
    expect(log.text()).toContain('shadow promoted');
  });

  it('a promoted shadow: a second promotion, ensure, rehearse and a plain delete are CONFLICT; delete with killPromoted kills it', async () => {
    const { manager, host, sim } = shadowHost();
    await manager.start();
    await manager.ensure(shadowSpec('s1', 'warm'));
    await manager.promote('s1', { mode: 'warm', bootTimeoutMs: 10_000 });
    expect(await codeOf(manager.promote('s1', { mode: 'warm', bootTimeoutMs: 10_000 }))).toBe('CONFLICT');
    expect(await codeOf(manager.promote('s1', { mode: 'cold', bootTimeoutMs: 10_000 }))).toBe('CONFLICT');
    expect(await codeOf(manager.ensure(shadowSpec('s1', 'warm')))).toBe('CONFLICT');
    expect(await codeOf(manager.rehearse('s1', { bootTimeoutMs: 1000 }))).toBe('CONFLICT');
    expect(await codeOf(manager.delete('s1'))).toBe('CONFLICT');
    expect(host.vms.get('s1')?.state).toBe('running');
    expect(await codeOf(manager.promote('nope', { mode: 'warm', bootTimeoutMs: 1000 }))).toBe('NOT_FOUND');
    expect(manager.promotedIds()).toEqual(['s1']);
    await manager.delete('s1', { killPromoted: true });
    expect(host.vms.has('s1')).toBe(false);
    expect(sim.targets.has('s1')).toBe(false);
  });

  it('a dead target of a promoted shadow is still restarted (it serves the VM disk); the VM is never replaced', async () => {
    const { manager, targets, world } = shadowHost();
    await manager.start();
    const st = await manager.ensure(shadowSpec('s1', 'warm'));
    await manager.promote('s1', { mode: 'warm', bootTimeoutMs: 10_000 });
    await targets.kill('s1');
    await world.clock.sleep(1100);
    expect(await manager.status('s1')).toMatchObject({ targetState: 'restarted', targetRestarts: 1, target: st.target, vm: { pid: st.vm.pid }, promoted: true });
  });

  it('a refused promotion answers ok false with the reason, leaves the shadow unpromoted, and may be retried', async () => {
    const { manager, guest } = shadowHost();
    await manager.start();
    await manager.ensure(shadowSpec('s1', 'warm'));
    guest.opts.promoteStatus = 500;
    const p = await manager.promote('s1', { mode: 'warm', bootTimeoutMs: 10_000 });
    expect(p).toMatchObject({ ok: false, vm: { state: 'running' } });
    expect(p.error).toMatch(/answered 500/);
    expect(guest.posts).toHaveLength(3); // a failed mount is retried twice
    expect(await manager.status('s1')).toMatchObject({ promoted: false, lastError: { code: 'PROMOTION_FAILED' } });
    guest.opts.promoteStatus = null;
    expect(await manager.promote('s1', { mode: 'warm', bootTimeoutMs: 10_000 })).toMatchObject({ ok: true });
    // A guest that never answers: ok false after bootTimeoutMs.
    const other = shadowHost();
    await other.manager.start();
    await other.manager.ensure(shadowSpec('s2', 'warm'));
    other.guest.opts.promoteStatus = 401;
    const refused = await other.manager.promote('s2', { mode: 'warm', bootTimeoutMs: 10_000 });
    expect(refused.ok).toBe(false);
    expect(other.guest.posts).toHaveLength(1); // 401 is final
  });

  it('warm on a migrate shadow and any promotion on a fenced host are VM_INVALID_STATE', async () => {
    let fenced = false;
    const { manager } = shadowHost({ fenced: () => fenced });
    await manager.start();
    await manager.ensure(shadowSpec('s2', 'migrate'));
    expect(await codeOf(manager.promote('s2', { mode: 'warm', bootTimeoutMs: 1000 }))).toBe('VM_INVALID_STATE');
    fenced = true;
    expect(await codeOf(manager.promote('s2', { mode: 'cold', bootTimeoutMs: 1000 }))).toBe('VM_INVALID_STATE');
    expect(await codeOf(manager.incoming('s2', { autoResume: true }))).toBe('VM_INVALID_STATE');
    expect((await manager.status('s2')).promoted).toBe(false);
  });

  it('cold: the paused incoming VM is replaced by a normal boot on the same export (umbra.data=vda, not incoming); the target is untouched', async () => {
    const { manager, host } = shadowHost();
    await manager.start();
    const st = await manager.ensure(shadowSpec('s2', 'migrate'));
    expect(st.vm.state).toBe('inmigrate');
    const p = await manager.promote('s2', { mode: 'cold', bootTimeoutMs: 30_000 });
    expect(p).toMatchObject({ shadowId: 's2', mode: 'cold', ok: true, error: null, vm: { state: 'running', endpoint: st.vm.endpoint } });
    expect(p.vm.pid).not.toBe(st.vm.pid);
    const spec = host.vms.get('s2')!.spec;
    expect(spec.incoming).toBe(false);
    expect(spec.boot.kind === 'kernel' && spec.boot.append).toContain('umbra.data=vda');
    expect(spec.disks).toEqual([{ kind: 'nbd', id: 'data', host: '10.0.0.1', port: st.target.port, export: 's2', readOnly: false, snapshot: false, reconnectDelaySeconds: 15 }]);
    expect(await manager.status('s2')).toMatchObject({ promoted: true, promotion: { mode: 'cold' }, targetPid: st.targetPid });
  });

  it('a restarted agent clears an interrupted promotion (retry allowed) and keeps a finished one', async () => {
    const first = shadowHost();
    await first.manager.start();
    await first.manager.ensure(shadowSpec('s1', 'warm'));
    await first.manager.ensure(shadowSpec('s2', 'warm'));
    await first.manager.promote('s2', { mode: 'warm', bootTimeoutMs: 10_000 });
    await first.manager.close();
    new ShadowRecordStore(first.runDir).update('s1', (r) => (r.promoting = 'warm'));
    const second = shadowHost({ world: first.world, sim: first.sim, runDir: first.runDir });
    await second.manager.start();
    expect(await second.manager.status('s1')).toMatchObject({ promoted: false, lastError: { code: 'PROMOTION_FAILED' } });
    expect(await second.manager.status('s2')).toMatchObject({ promoted: true, promotion: { mode: 'warm' } });
    expect(await second.manager.promote('s1', { mode: 'warm', bootTimeoutMs: 10_000 })).toMatchObject({ ok: true });
  });

  it('routes: promote, incoming and resume bodies are validated; DELETE ?promoted=kill', async () => {
    const { manager } = shadowHost();
    await manager.start();
    const routes = shadowRoutes(manager);
    const req = (body?: unknown) => Readable.from(body === undefined ? [] : [Buffer.from(JSON.stringify(body))]) as unknown as http.IncomingMessage;
    const q = new URLSearchParams();
    await routes('PUT', '/v1/shadows/s1', req(shadowSpec('s1', 'warm')), q);
    expect(await codeOf(routes('POST', '/v1/shadows/s1/promote', req({ mode: 'hot' }), q))).toBe('REQUEST_INVALID');
    expect(await codeOf(routes('POST', '/v1/shadows/s1/promote', req({}), q))).toBe('REQUEST_INVALID');
    expect(await codeOf(routes('POST', '/v1/shadows/s1/incoming', req({}), q))).toBe('VM_INVALID_STATE'); // a warm shadow
    expect(await codeOf(routes('POST', '/v1/shadows/s1/resume', req({ timeoutMs: -1 }), q))).toBe('REQUEST_INVALID');
    expect(await codeOf(routes('GET', '/v1/shadows/s1/promote', req(), q))).toBe('METHOD_NOT_ALLOWED');
    expect(await routes('POST', '/v1/shadows/s1/promote', req({ mode: 'warm' }), q)).toMatchObject({ status: 200, body: { ok: true, mode: 'warm' } });
    expect(await routes('GET', '/v1/shadows', req(), q)).toMatchObject({ body: { shadows: [{ id: 's1', promoted: true }] } });
    expect(await codeOf(routes('DELETE', '/v1/shadows/s1', req(), q))).toBe('CONFLICT');
    expect(await codeOf(routes('DELETE', '/v1/shadows/s1', req(), new URLSearchParams('promoted=yes')))).toBe('REQUEST_INVALID');
    expect(await routes('DELETE', '/v1/shadows/s1', req(), new URLSearchParams('promoted=kill'))).toEqual({ status: 204, body: null });
  });
});

/** h1: a primary with its replication and migrator; h2: the shadow host. */
async function migrationWorld() {
  const world = SimWorld.twoHosts();
  world.addFile(KERNEL, 10);
  world.addFile(INITRD, 2);
  const t1 = tempRunDir();
  const t2 = tempRunDir();
  cleanups.push(t1.cleanup, t2.cleanup);
  const log = capturingLog();
  const d1 = world.driver('h1');
  const records = new RecordStore(t1.dir);
  let repl: ReplicationManager | null = null;
  const vms = simManager(world, d1, t1.dir, { records, onEndOnPurpose: (id, op) => repl?.hold(id, op) });
  repl = new ReplicationManager({ driver: d1, clock: world.clock, log, records, runDir: t1.dir, fenced: () => false });
  repl.start();
  const migrator = new LiveMigrator({ driver: d1, clock: world.clock, log, replication: repl, fenced: () => false });
  const d2 = world.driver('h2');
  const guest = guestModel(world);
  const ports = sequentialPorts(21000, () => new Set([...world.forwards.keys(), ...world.nbdServers.keys(), ...world.incoming.keys()]));
  const shadows = new ShadowManager({ driver: d2, targets: new SimBlockTargetDriver(new SimTargetWorld(world.clock, world, 'h2')), clock: world.clock, log, runDir: t2.dir, address: '10.0.0.2', ports, http: guest.get, post: guest.post });
  await shadows.start();
  cleanups.push(() => shadows.close(), () => repl!.close());
  await vms.ensure(vmSpec('vm1', { maxVcpus: 2, maxMemoryMiB: 256 }));
  const sh = await shadows.ensure(shadowSpec('vm1-m', 'migrate'));
  await repl.ensure('vm1', { shadowId: 'vm1-m', target: sh.target, mode: 'sync' });
  const until = async (pred: (s: ReplicationStatus) => boolean) => {
    for (let i = 0; i < 600; i++) {
      const s = await repl!.get('vm1');
      if (pred(s)) return s;
      await world.clock.sleep(100);
    }
    throw new Error('replication condition not met');
  };
  await until((s) => s.state === 'ready');
  return { world, d1, d2, vms, repl, migrator, shadows, sh, log, until };
}

describe('live migration into a migrate shadow (simulated)', () => {
  it('incoming → migrate: the mirror is handed over at switchover, the guest runs on the shadow at once, the source is postmigrate and never resumed', async () => {
    const m = await migrationWorld();
    const { uri } = await m.shadows.incoming('vm1-m', { autoResume: true });
    expect(uri).toBe('tcp:10.0.0.2:21002');
    expect(await m.shadows.incoming('vm1-m', { autoResume: true })).toEqual({ uri }); // the same listener
    const res = await m.migrator.migrate('vm1', { uri, timeoutMs: 60_000 });
    expect(res).toMatchObject({ vmId: 'vm1', ok: true, status: 'completed', error: null, handOver: { caughtUp: true } });
    // SIMULATED: the model pauses 30 ms at switchover.
    expect(res.downtimeMs).toBe(30);
    expect(res.stoppedAt).not.toBeNull();
    const st = await m.shadows.status('vm1-m');
    expect(st).toMatchObject({ promoted: true, promotion: { mode: 'migrate', ms: null }, vm: { state: 'running', pid: m.sh.vm.pid } });
    expect(st.promotion!.at - res.stoppedAt!).toBe(30);
    const r = await m.shadows.resume('vm1-m', { timeoutMs: 1000 });
    expect(r).toMatchObject({ shadowId: 'vm1-m', ok: true, resumedAt: st.promotion!.at, vm: { state: 'running' } });
    expect((await m.d1.status('vm1')).state).toBe('postmigrate');
    expect(await codeOf(m.vms.op('vm1', 'cont'))).toBe('VM_INVALID_STATE');
    expect(m.repl.has('vm1')).toBe(false);
    expect(await m.d1.queryBlockJobs('vm1')).toEqual([]);
    expect(m.log.text()).toContain('live migration completed');
  });

  it('the promoted VM can be replicated in turn (its new shadow), though it has no VM record', async () => {
    const m = await migrationWorld();
    const { uri } = await m.shadows.incoming('vm1-m', { autoResume: true });
    expect((await m.migrator.migrate('vm1', { uri, timeoutMs: 60_000 })).ok).toBe(true);
    const t = tempRunDir();
    cleanups.push(t.cleanup);
    const otherVms = { has: (id: string) => m.shadows.limitsOf(id)?.promoted ?? false, digest: (id: string, chunk: number) => m.shadows.digest(id, chunk) };
    const repl2 = new ReplicationManager({ driver: m.d2, clock: m.world.clock, log: m.log, records: new RecordStore(t.dir), runDir: t.dir, fenced: () => false, otherVms });
    repl2.start();
    cleanups.push(() => repl2.close());
    // The new shadow's target, on h1.
    await new SimBlockTargetDriver(new SimTargetWorld(m.world.clock, m.world, 'h1')).ensure({ id: 'n1', sizeBytes: 64 * MiB, host: '10.0.0.1', port: 22000, exportName: 'n1' });
    await repl2.ensure('vm1-m', { shadowId: 'vm1-m-s2', target: { host: '10.0.0.1', port: 22000, export: 'n1' }, mode: 'sync' });
    await m.world.clock.sleep(1000);
    expect(await repl2.get('vm1-m')).toMatchObject({ state: 'ready', generation: 1 });
    expect((await repl2.diskDigest('vm1-m', MiB)).chunks).toHaveLength(64);
    expect(await codeOf(repl2.ensure('vm1-w', { shadowId: 'x', target: { host: '10.0.0.1', port: 22000, export: 'n1' }, mode: 'sync' }))).toBe('VM_NOT_FOUND');
  });

  it('without autoResume the guest waits for resume, which runs it', async () => {
    const m = await migrationWorld();
    const { uri } = await m.shadows.incoming('vm1-m', { autoResume: false });
    expect((await m.migrator.migrate('vm1', { uri, timeoutMs: 60_000 })).ok).toBe(true);
    expect((await m.d2.status('vm1-m')).state).toBe('paused');
    expect((await m.shadows.status('vm1-m')).promoted).toBe(false);
    const r = await m.shadows.resume('vm1-m', { timeoutMs: 5000 });
    expect(r).toMatchObject({ ok: true, migrationStatus: 'completed', vm: { state: 'running' } });
    expect(r.resumedAt).not.toBeNull();
    expect((await m.shadows.status('vm1-m')).promotion?.mode).toBe('migrate');
  });

  it('a migration that cannot connect answers ok false; the source runs on with its replication', async () => {
    const m = await migrationWorld();
    const res = await m.migrator.migrate('vm1', { uri: 'tcp:10.0.0.2:29999', timeoutMs: 10_000 });
    expect(res).toMatchObject({ ok: false, status: 'failed', handOver: null });
    expect(res.error).toMatch(/Connection refused/);
    expect((await m.d1.status('vm1')).state).toBe('running');
    expect(await m.repl.get('vm1')).toMatchObject({ state: 'ready', generation: 1, held: null });
  });

  it('refusals: no replication to hand over, a VM that does not run, a resume without incoming, incoming on a warm shadow', async () => {
    const m = await migrationWorld();
    await m.repl.remove('vm1');
    expect(await codeOf(m.migrator.migrate('vm1', { uri: 'tcp:10.0.0.2:21002', replicationJob: true, timeoutMs: 1000 }))).toBe('VM_INVALID_STATE');
    await m.vms.op('vm1', 'stop');
    expect(await codeOf(m.migrator.migrate('vm1', { uri: 'tcp:10.0.0.2:21002', replicationJob: false, timeoutMs: 1000 }))).toBe('VM_INVALID_STATE');
    expect(await codeOf(m.shadows.resume('vm1-m', { timeoutMs: 1000 }))).toBe('VM_INVALID_STATE');
    await m.shadows.ensure(shadowSpec('vm1-w', 'warm'));
    expect(await codeOf(m.shadows.incoming('vm1-w', { autoResume: true }))).toBe('VM_INVALID_STATE');
    expect(await codeOf(m.shadows.incoming('nope', { autoResume: true }))).toBe('NOT_FOUND');
  });

  it('a primary killed on purpose: its replication is held, a new process gets no copy; PUT again releases it', async () => {
    const m = await migrationWorld();
    await m.vms.op('vm1', 'kill');
    const held = await m.until((s) => s.state === 'stopped');
    expect(held.held).toMatch(/kill/);
    await m.vms.op('vm1', 'start');
    await m.world.clock.sleep(5000);
    expect(await m.repl.get('vm1')).toMatchObject({ state: 'stopped', generation: 1, jobId: null, retryAt: null });
    expect(await m.d1.queryBlockJobs('vm1')).toEqual([]);
    await m.repl.ensure('vm1', { shadowId: 'vm1-m', target: m.sh.target, mode: 'sync' });
    expect(await m.until((s) => s.state === 'ready')).toMatchObject({ generation: 2, held: null });
  });
});
