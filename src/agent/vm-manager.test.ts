import { afterEach, describe, expect, it } from 'vitest';
import { isHypervisorError, VmStartFailedError } from '../hypervisor/errors.js';
import { classifyExit, HUNG_AFTER_MS } from './vm-manager.js';
import { simManager, simWorld, tempRunDir, vmSpec } from './test-helpers.js';
import type { PortPicker } from './ports.js';
import { RecordStore } from './records.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

function setup(extra: Parameters<typeof simManager>[3] = {}) {
  const world = simWorld();
  const driver = world.driver('h1');
  const { dir, cleanup } = tempRunDir();
  cleanups.push(cleanup);
  const changes: string[] = [];
  const manager = simManager(world, driver, dir, { onChange: (id) => changes.push(id), ...extra });
  return { world, driver, dir, manager, changes, host: world.host('h1') };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'no error',
    (e: unknown) => (isHypervisorError(e) ? e.code : String(e)),
  );
}

describe('classifyExit', () => {
  it('planned exits and guest power-offs are `exited`; the rest `crashed`', () => {
    expect(classifyExit('killed', true)).toBe('exited');
    expect(classifyExit('guest-shutdown', false)).toBe('exited');
    expect(classifyExit('guest-reset', false)).toBe('crashed'); // a panic under -no-reboot
    expect(classifyExit('killed', false)).toBe('crashed');
    expect(classifyExit('unknown', false)).toBe('crashed');
  });
});

describe('VmManager on a simulated host', () => {
  it('ensure creates the data disk, picks a port, starts the VM', async () => {
    const { world, manager, dir, host } = setup();
    const vm = await manager.ensure(vmSpec('vm1'));
    expect(vm).toMatchObject({ id: 'vm1', state: 'running', endpoint: 'http://10.0.0.1:20000', lastError: null });
    expect(vm.pid).toBeTypeOf('number');
    expect(world.files.get(`${dir}/disks/vm1.qcow2`)?.sizeBytes).toBe(64 * 1024 * 1024);
    expect(world.forwards.get('10.0.0.1:20000')).toEqual({ host: 'h1', vmId: 'vm1' });
    const spec = host.get('vm1', 'test').spec;
    expect(spec.network?.forwards).toEqual([{ hostAddr: '10.0.0.1', hostPort: 20000, guestPort: 80 }]);
    expect(spec.disks[0]).toMatchObject({ kind: 'file', id: 'data', path: `${dir}/disks/vm1.qcow2`, format: 'qcow2' });
    expect(spec.boot).toMatchObject({ kind: 'kernel', kernel: '/img/vmlinux', initrd: '/img/initrd.gz' });
  });

  it('summaries never wait on a hung hypervisor: the last answer stands, then the VM is reported unknown with its last pid', async () => {
    // The manager's own clock, steered here (the simulated hypervisor keeps the world's).
    let skew = 0;
    const world0 = simWorld();
    const clock = { now: () => world0.clock.now() + skew, sleep: (ms: number) => world0.clock.sleep(ms) };
    const driver = world0.driver('h1');
    const { dir, cleanup } = tempRunDir();
    cleanups.push(cleanup);
    const manager = simManager(world0, driver, dir, { clock });
    const vm = await manager.ensure(vmSpec('vm1'));
    expect(await manager.summaries()).toEqual([{ id: 'vm1', state: 'running', pid: vm.pid }]);
    const status = driver.status.bind(driver);
    driver.status = () => new Promise(() => undefined); // a monitor that never answers
    const t0 = performance.now();
    // One missed deadline: the last answer stands.
    expect(await manager.summaries(50)).toEqual([{ id: 'vm1', state: 'running', pid: vm.pid }]);
    expect(performance.now() - t0).toBeLessThan(5000);
    skew = HUNG_AFTER_MS + 1;
    expect(await manager.summaries(50)).toEqual([{ id: 'vm1', state: 'unknown', pid: vm.pid }]);
    driver.status = status;
  });

  it('kill does not wait on a hung monitor: the process is killed by pid', async () => {
    const { manager, driver } = setup();
    const vm = await manager.ensure(vmSpec('vm1'));
    await manager.summaries(); // remembers the pid
    const status = driver.status.bind(driver);
    let calls = 0;
    // The monitor hangs for the status asked before the kill; later calls (the process is gone) answer.
    driver.status = (id: string) => (calls++ === 0 ? new Promise(() => undefined) : status(id));
    const after = await manager.op('vm1', 'kill');
    expect(after.pid).toBeNull();
    expect(after.state).toBe('exited'); // planned: the kill was asked for
    expect(vm.pid).not.toBeNull();
  });

  it('ensure is idempotent: the same spec (also concurrently) gives the same process', async () => {
    const { manager, host } = setup();
    const [a, b] = await Promise.all([manager.ensure(vmSpec('vm1')), manager.ensure(vmSpec('vm1'))]);
    const c = await manager.ensure(vmSpec('vm1'));
    const d = await manager.ensure(vmSpec('vm1', { servicePort: 20000 })); // naming the picked port: same VM
    expect(new Set([a.pid, b.pid, c.pid, d.pid]).size).toBe(1);
    expect(host.vms.size).toBe(1);
    expect(await codeOf(manager.ensure(vmSpec('vm1', { memoryMiB: 256 })))).toBe('VM_EXISTS');
  });

  it('gives each VM its own port', async () => {
    const { manager } = setup();
    const a = await manager.ensure(vmSpec('vm1'));
    const b = await manager.ensure(vmSpec('vm2'));
    expect([a.endpoint, b.endpoint]).toEqual(['http://10.0.0.1:20000', 'http://10.0.0.1:20001']);
  });

  it('refuses an invalid spec listing every bad field, and records nothing', async () => {
    const { manager, world } = setup();
    const err = await manager.ensure(vmSpec('vm1', { dataDiskMiB: 8, maxVcpus: 1, vcpus: 2 })).catch((e: unknown) => e);
    expect(isHypervisorError(err, 'VM_SPEC_INVALID')).toBe(true);
    expect((err as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual(['dataDiskMiB', 'maxVcpus']);
    expect(manager.ids()).toEqual([]);
    expect([...world.files.keys()].filter((f) => f.includes('disks'))).toEqual([]);
  });

  it('a VM that cannot start reports QEMU\'s stderr tail, in the error and in lastError', async () => {
    const { manager } = setup();
    const err = await manager.ensure(vmSpec('bad', { kernel: '/no/such/vmlinux' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VmStartFailedError);
    expect((err as VmStartFailedError).stderrTail).toContain("could not load kernel '/no/such/vmlinux'");
    const vm = await manager.observe('bad');
    expect(vm.state).toBe('defined');
    expect(vm.lastError?.code).toBe('VM_START_FAILED');
    expect(vm.lastError?.stderrTail).toContain("could not load kernel '/no/such/vmlinux'");
  });

  it('the exit event of a process that failed to start does not turn its start failure into a crash', async () => {
    const { manager, host, dir } = setup();
    await manager.ensure(vmSpec('bad', { kernel: '/no/such/vmlinux' })).catch(() => undefined);
    // QEMU's EXITED for that process may arrive after the start already failed (the sim's does not).
    host.events.publish({ vmId: 'bad', type: 'EXITED', atMs: Date.now(), data: { pid: 4242, reason: 'exit code 1' } });
    expect(new RecordStore(dir).get('bad')?.lastExit).toMatchObject({ state: 'exited', reason: 'start-failed' });
    expect((await manager.observe('bad')).lastError?.code).toBe('VM_START_FAILED');
  });

  it('moves to another port when the picked one was taken before QEMU bound it', async () => {
    const { world, manager } = setup();
    await manager.ensure(vmSpec('holder', { servicePort: 20000 }));
    let n = 0;
    const naive: PortPicker = {
      pick: async () => (n++ === 0 ? 20000 : 20005),
      isFree: async (a, p) => !world.forwards.has(`${a}:${p}`),
    };
    const m2 = simManagerWithPorts(world, naive);
    const vm = await m2.ensure(vmSpec('vm2'));
    expect(vm).toMatchObject({ state: 'running', endpoint: 'http://10.0.0.1:20005', lastError: null });
  });

  it('supervision: an unplanned exit is `crashed`, a kill or powerdown asked of the agent `exited`; nothing restarts', async () => {
    const { manager, host, changes } = setup();
    const vm = await manager.ensure(vmSpec('vm1'));
    host.kill('vm1'); // the process dies on its own (not through the agent)
    expect(await manager.observe('vm1')).toMatchObject({ state: 'crashed', pid: null });
    expect(changes).toEqual(['vm1']);
    expect(host.get('vm1', 't').pid).toBeNull(); // not restarted
    // ensure starts it again (an explicit request), then the agent kills it: planned.
    const again = await manager.ensure(vmSpec('vm1'));
    expect(again.pid).not.toBe(vm.pid);
    expect((await manager.op('vm1', 'kill')).state).toBe('exited');
    await manager.op('vm1', 'start');
    expect((await manager.op('vm1', 'powerdown')).state).toBe('exited');
  });

  it('stop and cont pause and resume the vCPUs', async () => {
    const { manager } = setup();
    await manager.ensure(vmSpec('vm1'));
    expect((await manager.op('vm1', 'stop')).state).toBe('paused');
    expect((await manager.op('vm1', 'cont')).state).toBe('running');
    expect(await codeOf(manager.op('nope', 'stop'))).toBe('VM_NOT_FOUND');
  });

  it('while fenced nothing makes vCPUs run (start, cont, ensure of a stopped VM); stop still works', async () => {
    let fenced = false;
    const { manager } = setup({ fenced: () => fenced });
    await manager.ensure(vmSpec('vm1'));
    await manager.op('vm1', 'stop');
    await manager.op('vm1', 'kill');
    fenced = true;
    expect(await codeOf(manager.op('vm1', 'start'))).toBe('VM_INVALID_STATE');
    expect(await codeOf(manager.ensure(vmSpec('vm2')))).toBe('VM_INVALID_STATE');
    fenced = false;
    await manager.op('vm1', 'start');
    await manager.op('vm1', 'stop');
    fenced = true;
    expect(await codeOf(manager.op('vm1', 'cont'))).toBe('VM_INVALID_STATE');
  });

  it('re-adopts its VMs after a restart: same pid, no second process, ensure still idempotent', async () => {
    const { world, manager, dir, host, driver } = setup();
    const before = await manager.ensure(vmSpec('vm1'));
    manager.close();
    await driver.close(); // the agent goes away; the VM keeps running
    const driver2 = world.driver('h1');
    const m2 = simManager(world, driver2, dir);
    const adopted = await m2.adoptAll();
    expect(adopted).toEqual([before]);
    const again = await m2.ensure(vmSpec('vm1'));
    expect(again.pid).toBe(before.pid);
    expect(host.vms.size).toBe(1);
    // A crash seen while the new agent watches is still reported.
    host.kill('vm1');
    expect((await m2.observe('vm1')).state).toBe('crashed');
  });

  it('a VM that died while no agent ran is reported `crashed` after adoption', async () => {
    const { world, manager, dir, host, driver } = setup();
    await manager.ensure(vmSpec('vm1'));
    manager.close();
    await driver.close();
    host.kill('vm1');
    const m2 = simManager(world, world.driver('h1'), dir);
    expect((await m2.adoptAll())[0]).toMatchObject({ id: 'vm1', state: 'crashed', pid: null });
  });

  it('delete kills the VM and removes its run dir, disk and record', async () => {
    const { world, manager, host, dir } = setup();
    await manager.ensure(vmSpec('vm1'));
    await manager.delete('vm1');
    expect(host.vms.has('vm1')).toBe(false);
    expect(world.files.has(`${dir}/disks/vm1.qcow2`)).toBe(false);
    expect(manager.ids()).toEqual([]);
    expect(await codeOf(manager.observe('vm1'))).toBe('VM_NOT_FOUND');
    expect(await codeOf(manager.delete('vm1'))).toBe('VM_NOT_FOUND');
  });
});

function simManagerWithPorts(world: ReturnType<typeof simWorld>, ports: PortPicker) {
  const { dir, cleanup } = tempRunDir();
  cleanups.push(cleanup);
  return simManager(world, world.driver('h1'), dir, { ports });
}
