import { afterEach, describe, expect, it } from 'vitest';
import { isUmbraError } from '../core/errors.js';
import { VmNotFoundError } from '../hypervisor/errors.js';
import { silentLogger } from './log.js';
import { planResize, Resizer } from './resize.js';
import { simManager, simWorld, tempRunDir, vmSpec } from './test-helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanups.splice(0)) f();
});

describe('planResize (pure)', () => {
  const limits = { maxVcpus: 4, maxMemoryMiB: 1024 };
  it('adds the missing vCPUs and one DIMM of the missing memory rounded up to 128 MiB', () => {
    expect(planResize({ vcpus: 1, memoryMiB: 128 }, { vcpus: 3, memoryMiB: 256 }, limits)).toEqual({ plan: { vcpus: 2, dimmMiB: 128 } });
    expect(planResize({ vcpus: 1, memoryMiB: 128 }, { vcpus: 1, memoryMiB: 200 }, limits)).toEqual({ plan: { vcpus: 0, dimmMiB: 128 } });
    expect(planResize({ vcpus: 1, memoryMiB: 128 }, { vcpus: 1, memoryMiB: 1000 }, limits)).toEqual({ plan: { vcpus: 0, dimmMiB: 896 } });
  });
  it('never removes: a smaller request plans nothing', () => {
    expect(planResize({ vcpus: 3, memoryMiB: 512 }, { vcpus: 1, memoryMiB: 128 }, limits)).toEqual({ plan: { vcpus: 0, dimmMiB: 0 } });
  });
  it('refuses what passes the maxima, every field, and a DIMM step that would pass the maximum', () => {
    expect(planResize({ vcpus: 1, memoryMiB: 128 }, { vcpus: 5, memoryMiB: 2048 }, limits)).toEqual({
      issues: [
        { path: 'vcpus', message: "at most the VM's maxVcpus (4)" },
        { path: 'memoryMiB', message: "at most the VM's maxMemoryMiB (1024)" },
      ],
    });
    const odd = planResize({ vcpus: 1, memoryMiB: 128 }, { vcpus: 1, memoryMiB: 200 }, { maxVcpus: 1, maxMemoryMiB: 200 });
    expect('issues' in odd && odd.issues[0].path).toBe('memoryMiB');
  });
});

describe('Resizer (simulated hypervisor)', () => {
  async function setup() {
    const world = simWorld();
    const driver = world.driver('h1');
    const t = tempRunDir();
    cleanups.push(t.cleanup);
    const vms = simManager(world, driver, t.dir);
    await vms.ensure(vmSpec('vm1', { maxVcpus: 2, maxMemoryMiB: 512 }));
    const resizer = new Resizer({
      driver,
      clock: world.clock,
      log: silentLogger,
      limitsOf: (id) => {
        if (id !== 'vm1') throw new VmNotFoundError(id, 'resize');
        return { maxVcpus: 2, maxMemoryMiB: 512 };
      },
    });
    return { world, driver, vms, resizer };
  }

  it('hot-adds vCPUs and one DIMM up to the request; again is a no-op', async () => {
    const { driver, resizer } = await setup();
    const r = await resizer.resize('vm1', { vcpus: 2, memoryMiB: 384 });
    expect(r).toMatchObject({ vcpus: 2, memoryMiB: 384, added: { vcpus: 1, memoryMiB: 256 } });
    expect(await driver.status('vm1')).toMatchObject({ vcpus: 2, memoryMiB: 384 });
    expect(await resizer.resize('vm1', { vcpus: 2, memoryMiB: 384 })).toMatchObject({ vcpus: 2, memoryMiB: 384, added: { vcpus: 0, memoryMiB: 0 } });
    expect(await resizer.resize('vm1', { vcpus: 1, memoryMiB: 512 })).toMatchObject({ vcpus: 2, memoryMiB: 512, added: { vcpus: 0, memoryMiB: 128 } });
  });

  it('typed errors: beyond the maxima REQUEST_INVALID, unknown VM_NOT_FOUND, no process VM_INVALID_STATE', async () => {
    const { vms, resizer } = await setup();
    const code = (p: Promise<unknown>) => p.then(() => 'no error', (e: unknown) => (isUmbraError(e) ? e.code : String(e)));
    const beyond = await resizer.resize('vm1', { vcpus: 3, memoryMiB: 128 }).catch((e: unknown) => e);
    expect(beyond).toMatchObject({ code: 'REQUEST_INVALID', context: { issues: [{ path: 'vcpus' }] } });
    expect(await code(resizer.resize('nope', { vcpus: 1, memoryMiB: 128 }))).toBe('VM_NOT_FOUND');
    await vms.op('vm1', 'kill');
    expect(await code(resizer.resize('vm1', { vcpus: 2, memoryMiB: 128 }))).toBe('VM_INVALID_STATE');
  });
});
