/**
 * Retire (the graceful end of an old primary) on the SIMULATED hypervisor and targets (virtual
 * time): the pure plan, the VM manager's and the shadow manager's retire (isolation before the
 * vCPUs run again, ACPI power-off or kill, removal, a planned exit), and the route's dispatch.
 * The real-QEMU counterpart is test/retire.test.ts.
 */
import type http from 'node:http';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { shadowSpecSchema } from '../api/shadow-protocol.js';
import { isUmbraError } from '../core/errors.js';
import type { SimHypervisorDriver } from '../hypervisor/sim/sim-driver.js';
import type { SimHost } from '../hypervisor/sim/sim-host.js';
import { SimBlockTargetDriver, SimTargetWorld } from '../storage/sim/sim-targets.js';
import { HttpError } from './http-errors.js';
import { sequentialPorts } from './ports.js';
import { planRetire } from './retire.js';
import { retireRoutes } from './retire-routes.js';
import { ShadowManager } from './shadows/shadow-manager.js';
import { INITRD, KERNEL, recordingLogger, simManager, simWorld, tempRunDir, vmSpec } from './test-helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'no error',
    (e: unknown) => (isUmbraError(e) || e instanceof HttpError ? e.code : String(e)),
  );
}

/**
 * Records the order of the driver calls that matter, and at each `cont` of the guest (inside
 * the simulated powerdown) whether its service would answer: it must not, ever.
 */
function watch(driver: SimHypervisorDriver, host: SimHost, endpoint: () => string | null) {
  const calls: string[] = [];
  const answeredWhileRunning: boolean[] = [];
  const setLink = driver.setLink.bind(driver);
  driver.setLink = async (id, up) => {
    calls.push(`setLink ${id} ${up}`);
    return setLink(id, up);
  };
  const powerdown = driver.powerdown.bind(driver);
  driver.powerdown = async (id, opts) => {
    calls.push(`powerdown ${id} resume=${opts?.resume ?? false}`);
    return powerdown(id, opts);
  };
  const kill = driver.kill.bind(driver);
  driver.kill = async (id) => {
    calls.push(`kill ${id}`);
    return kill(id);
  };
  const cont = host.cont.bind(host);
  host.cont = (id) => {
    calls.push(`cont ${id}`);
    cont(id);
    const u = endpoint() ? new URL(endpoint()!) : null;
    if (u) answeredWhileRunning.push(host.serviceAnswers(u.hostname, Number(u.port)));
  };
  return { calls, answeredWhileRunning };
}

describe('planRetire', () => {
  const plan = (state: string | null, extra: { blockJobs?: number | null; fenced?: boolean } = {}) => planRetire({ state, blockJobs: extra.blockJobs === undefined ? 0 : extra.blockJobs, fenced: extra.fenced ?? false });
  it('powers off by ACPI only a running or paused guest with no block job on a host with its lease', () => {
    expect(plan('paused')).toEqual({ kind: 'acpi' });
    expect(plan('running')).toEqual({ kind: 'acpi' });
    expect(plan('exited').kind).toBe('gone');
    expect(plan('defined').kind).toBe('gone');
    for (const s of ['postmigrate', 'inmigrate', 'prelaunch', 'crashed', 'shutdown']) expect(plan(s).kind, s).toBe('kill');
    expect(plan(null)).toMatchObject({ kind: 'kill', reason: expect.stringMatching(/monitor/) });
    expect(plan('paused', { fenced: true })).toMatchObject({ kind: 'kill', reason: expect.stringMatching(/fenced/) });
    expect(plan('paused', { blockJobs: 1 })).toMatchObject({ kind: 'kill', reason: expect.stringMatching(/block job/) });
    expect(plan('paused', { blockJobs: null }).kind).toBe('kill');
  });
});

describe('VmManager.retire (simulated)', () => {
  function setup(extra: { fenced?: () => boolean } = {}) {
    const world = simWorld();
    const driver = world.driver('h1');
    const { dir, cleanup } = tempRunDir();
    cleanups.push(cleanup);
    const { log, lines } = recordingLogger();
    const ended: string[] = [];
    const manager = simManager(world, driver, dir, { log, onEndOnPurpose: (id, op) => ended.push(`${id} ${op}`), ...extra });
    cleanups.push(() => manager.close());
    return { world, driver, dir, manager, lines, ended, host: world.host('h1') };
  }
  const exitLines = (lines: { level: string; msg: string; fields: object }[]) => lines.filter((l) => l.msg.startsWith('VM process ended')).map((l) => [l.level, (l.fields as { state: string }).state]);

  it('a paused primary: links down, button, resumed, powered off by ACPI; removed; a planned exit; its service never answered', async () => {
    const { world, driver, dir, manager, lines, ended, host } = setup();
    const vm = await manager.ensure(vmSpec('vm1'));
    await manager.op('vm1', 'stop');
    const w = watch(driver, host, () => vm.endpoint);
    const t0 = world.clock.now();
    const out = await manager.retire('vm1', { timeoutMs: 10_000 });
    expect(out).toEqual({ how: 'acpi', ms: world.clock.now() - t0, timedOut: false, reason: null });
    expect(out.ms).toBeGreaterThanOrEqual(world.timings.shutdownMs); // SIMULATED shutdown time
    expect(w.calls).toEqual(['setLink vm1 false', 'powerdown vm1 resume=true', 'cont vm1', 'kill vm1']); // the last kill: a no-op check
    expect(w.answeredWhileRunning).toEqual([false]);
    expect(ended).toEqual(['vm1 retire']);
    expect(exitLines(lines)).toEqual([['info', 'exited']]);
    expect(host.vms.has('vm1')).toBe(false);
    expect(world.files.has(`${dir}/disks/vm1.qcow2`)).toBe(false);
    expect(manager.ids()).toEqual([]);
    expect(await codeOf(manager.observe('vm1'))).toBe('VM_NOT_FOUND');
  });

  it('a guest that does not power off in time is killed after the timeout (still a planned exit)', async () => {
    const { manager, lines, host } = setup();
    await manager.ensure(vmSpec('vm1'));
    await manager.op('vm1', 'stop');
    const out = await manager.retire('vm1', { timeoutMs: 100 }); // the simulated guest takes 600 ms
    expect(out).toMatchObject({ how: 'killed', timedOut: true, reason: 'no power-off within 100 ms' });
    expect(out.ms).toBeGreaterThanOrEqual(100);
    expect(exitLines(lines)).toEqual([['info', 'exited']]);
    expect(host.vms.has('vm1')).toBe(false);
  });

  it('a primary killed by fencing (or a crash) is just removed: gone', async () => {
    const { manager, driver, host } = setup();
    await manager.ensure(vmSpec('vm1'));
    await manager.op('vm1', 'kill');
    const w = watch(driver, host, () => null);
    expect(await manager.retire('vm1', { timeoutMs: 10_000 })).toMatchObject({ how: 'gone', timedOut: false, reason: 'no process (exited)' });
    expect(w.calls).toEqual(['kill vm1']); // the no-op check only: no link, no button
    expect(host.vms.has('vm1')).toBe(false);
    expect(manager.ids()).toEqual([]);
  });

  it('never runs a guest that must not run: a fenced host or a block job means a kill at once', async () => {
    let fenced = true;
    const { manager, driver, host } = setup({ fenced: () => fenced });
    fenced = false;
    await manager.ensure(vmSpec('vm1'));
    await manager.ensure(vmSpec('vm2'));
    await manager.op('vm1', 'stop');
    await manager.op('vm2', 'stop');
    const w = watch(driver, host, () => null);
    fenced = true;
    expect(await manager.retire('vm1', { timeoutMs: 10_000 })).toMatchObject({ how: 'killed', timedOut: false, reason: expect.stringMatching(/fenced/) });
    fenced = false;
    driver.queryBlockJobs = async () => [{ jobId: 'm0', device: 'data', type: 'mirror', len: 1, offset: 1, ready: true, status: 'ready', speed: 0 }] as never;
    expect(await manager.retire('vm2', { timeoutMs: 10_000 })).toMatchObject({ how: 'killed', reason: expect.stringMatching(/block job/) });
    expect(w.calls.filter((c) => c.startsWith('cont') || c.startsWith('powerdown'))).toEqual([]);
    expect(host.vms.size).toBe(0);
  });

  it('an unknown VM is VM_NOT_FOUND; a second retire of a retired one too', async () => {
    const { manager } = setup();
    expect(await codeOf(manager.retire('nope', { timeoutMs: 1000 }))).toBe('VM_NOT_FOUND');
    await manager.ensure(vmSpec('vm1'));
    await manager.retire('vm1', { timeoutMs: 10_000 });
    expect(await codeOf(manager.retire('vm1', { timeoutMs: 1000 }))).toBe('VM_NOT_FOUND');
  });
});

describe('ShadowManager.retire (simulated)', () => {
  const TOKEN = 'admin-token-0123456789';
  function setup() {
    const world = simWorld();
    const { dir, cleanup } = tempRunDir();
    cleanups.push(cleanup);
    const driver = world.driver('h1');
    const sim = new SimTargetWorld(world.clock, world, 'h1');
    const ended: string[] = [];
    // The guest service, modelled: any running VM answers as primary; a promotion is accepted.
    const running = (url: string) => {
      const u = new URL(url);
      return world.host('h1').serviceAnswers(u.hostname, Number(u.port));
    };
    const manager = new ShadowManager({
      driver,
      targets: new SimBlockTargetDriver(sim),
      clock: world.clock,
      log: recordingLogger().log,
      runDir: dir,
      address: '10.0.0.1',
      ports: sequentialPorts(20000, () => new Set([...world.forwards.keys(), ...world.nbdServers.keys()])),
      http: async (url) => {
        if (!running(url)) throw new Error('connect ECONNREFUSED');
        return { status: 200, body: JSON.stringify({ status: 'ok', role: 'primary', seq: 1 }) };
      },
      post: async () => ({ status: 200, body: '{"seq":1,"ms":1}' }),
      onEndOnPurpose: (id, op) => ended.push(`${id} ${op}`),
    });
    cleanups.push(() => manager.close());
    return { world, driver, sim, manager, ended, host: world.host('h1') };
  }
  const spec = (id: string) => shadowSpecSchema.parse({ id, primaryId: 'vm1', flavor: 'warm', diskBytes: 64 * 1024 * 1024, vcpus: 1, maxVcpus: 2, memoryMiB: 128, maxMemoryMiB: 256, kernel: KERNEL, initrd: INITRD, adminToken: TOKEN });

  it('a promoted shadow fenced by a pause: retiring while it runs, isolated, powered off by ACPI; VM, target and record removed', async () => {
    const { manager, driver, host, sim, ended } = setup();
    await manager.start();
    const st = await manager.ensure(spec('s1'));
    expect((await manager.promote('s1', { mode: 'warm', bootTimeoutMs: 10_000 })).ok).toBe(true);
    await driver.stop('s1'); // the fence of the next failover
    const w = watch(driver, host, () => st.vm.endpoint);
    let retiringAtButton: string[] = [];
    const pd = driver.powerdown;
    driver.powerdown = async (id, o) => {
      retiringAtButton = manager.retiringIds();
      return pd(id, o);
    };
    const out = await manager.retire('s1', { timeoutMs: 10_000 });
    expect(out).toMatchObject({ how: 'acpi', timedOut: false, reason: null });
    expect(retiringAtButton).toEqual(['s1']); // the heartbeat reports its exit as planned meanwhile
    expect(w.calls.slice(0, 3)).toEqual(['setLink s1 false', 'powerdown s1 resume=true', 'cont s1']);
    expect(w.answeredWhileRunning).toEqual([false]);
    expect(ended).toEqual(['s1 retire']);
    expect(host.vms.has('s1')).toBe(false);
    expect(sim.targets.has('s1')).toBe(false);
    expect(manager.ids()).toEqual([]);
    expect(manager.retiringIds()).toEqual([]);
  });

  it('a standby shadow is not retired (CONFLICT: delete it); an unknown one is NOT_FOUND', async () => {
    const { manager, host } = setup();
    await manager.start();
    await manager.ensure(spec('s1'));
    expect(await codeOf(manager.retire('s1', { timeoutMs: 1000 }))).toBe('CONFLICT');
    expect(host.vms.get('s1')?.state).toBe('running');
    expect(await codeOf(manager.retire('nope', { timeoutMs: 1000 }))).toBe('NOT_FOUND');
  });
});

describe('the retire route', () => {
  const req = (body: string) => Object.assign(Readable.from([Buffer.from(body)]), { headers: {} }) as unknown as http.IncomingMessage;
  const outcome = { how: 'acpi' as const, ms: 5, timedOut: false, reason: null };
  const targets = () => {
    const seen: string[] = [];
    return {
      seen,
      t: {
        vms: { retire: async (id: string, o: { timeoutMs: number }) => (seen.push(`vm ${id} ${o.timeoutMs}`), outcome) },
        shadows: { ids: () => ['s1'], retire: async (id: string, o: { timeoutMs: number }) => (seen.push(`shadow ${id} ${o.timeoutMs}`), outcome) },
      },
    };
  };

  it('sends a shadow id to the shadow manager and any other to the VM manager; timeoutMs defaults to 10 s', async () => {
    const { seen, t } = targets();
    const route = retireRoutes(t);
    expect(await route('POST', '/v1/vms/s1/retire', req('{"timeoutMs":2500}'), new URLSearchParams())).toEqual({ status: 200, body: { vmId: 's1', ...outcome } });
    expect(await route('POST', '/v1/vms/vm1/retire', req(''), new URLSearchParams())).toMatchObject({ status: 200, body: { vmId: 'vm1', how: 'acpi' } });
    expect(seen).toEqual(['shadow s1 2500', 'vm vm1 10000']);
    expect(await route('POST', '/v1/vms/vm1/stop', req(''), new URLSearchParams())).toBeNull();
    expect(await codeOf(route('GET', '/v1/vms/vm1/retire', req(''), new URLSearchParams()))).toBe('METHOD_NOT_ALLOWED');
    expect(await codeOf(route('POST', '/v1/vms/vm1/retire', req('{"timeoutMs":-1}'), new URLSearchParams()))).toBe('BAD_REQUEST');
  });
});
