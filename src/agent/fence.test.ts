import { afterEach, describe, expect, it } from 'vitest';
import { SimHypervisorDriver } from '../hypervisor/sim/sim-driver.js';
import type { VmStatus } from '../hypervisor/types.js';
import { fenceVms } from './fence.js';
import { silentLogger } from './log.js';
import { simManager, simWorld, tempRunDir, vmSpec } from './test-helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

/** A driver whose monitor never answers `stop` (a wedged QEMU). */
class WedgedStop extends SimHypervisorDriver {
  override stop(): Promise<VmStatus> {
    return new Promise(() => undefined);
  }
}

describe('fenceVms (simulated host)', () => {
  it('pauses every running primary, skips shadows, paused and dead VMs', async () => {
    const world = simWorld();
    const driver = world.driver('h1');
    const { dir, cleanup } = tempRunDir();
    cleanups.push(cleanup);
    const m = simManager(world, driver, dir);
    await m.ensure(vmSpec('run1'));
    await m.ensure(vmSpec('run2'));
    await m.ensure(vmSpec('paused'));
    await m.op('paused', 'stop');
    await m.ensure(vmSpec('dead'));
    await m.op('dead', 'kill');
    await m.ensure(vmSpec('shadow', { labels: { role: 'shadow' } }));

    const report = await fenceVms(driver, m.fenceTargets(), { clock: world.clock, log: silentLogger });
    expect(report.stopped.sort()).toEqual(['run1', 'run2']);
    expect(report.killed).toEqual([]);
    expect(report.failed).toEqual([]);
    expect(report.skipped.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: 'dead', reason: 'no process' },
      { id: 'paused', reason: 'already paused' },
      { id: 'shadow', reason: 'shadow' },
    ]);
    const states = Object.fromEntries((await m.list()).map((v) => [v.id, v.state]));
    expect(states).toEqual({ dead: 'exited', paused: 'paused', run1: 'paused', run2: 'paused', shadow: 'running' });
    // Fencing stops execution but keeps the processes (the failover controller decides later).
    expect((await m.list()).filter((v) => v.id.startsWith('run')).every((v) => v.pid !== null)).toBe(true);
  });

  it('kills a VM whose monitor does not answer `stop` in time', async () => {
    const world = simWorld();
    const driver = new WedgedStop(world.host('h1'));
    const { dir, cleanup } = tempRunDir();
    cleanups.push(cleanup);
    const m = simManager(world, driver, dir);
    await m.ensure(vmSpec('vm1'));
    const t0 = world.clock.now();
    const report = await fenceVms(driver, m.fenceTargets(), { clock: world.clock, log: silentLogger, timeoutMs: 1500 });
    expect(report).toMatchObject({ stopped: [], killed: ['vm1'], failed: [] });
    expect(world.clock.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(world.host('h1').get('vm1', 't').pid).toBeNull();
  });
});
