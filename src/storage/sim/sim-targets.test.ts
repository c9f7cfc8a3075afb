import { describe, expect, it } from 'vitest';
import { SimWorld } from '../../hypervisor/sim/world.js';
import { runBlockTargetContract, type ExportRef } from '../contract.js';
import { SimBlockTargetDriver, SimTargetWorld } from './sim-targets.js';

/** The export behind a ref: the live target, or one of its point-in-time exports. */
function locate(sim: SimTargetWorld, ref: ExportRef): { id: string; pit?: string } {
  for (const t of sim.targets.values()) {
    if (t.spec.host !== ref.host || t.spec.port !== ref.port || t.pid === null) continue;
    if (t.spec.exportName === ref.export) return { id: t.spec.id };
    for (const name of t.pits.keys()) if (`${t.spec.exportName}-${name}` === ref.export) return { id: t.spec.id, pit: name };
  }
  throw new Error(`no simulated export ${ref.host}:${ref.port}/${ref.export}`);
}

runBlockTargetContract({
  name: 'sim',
  make: async () => {
    const world = SimWorld.oneHost();
    const sim = new SimTargetWorld(world.clock, world, 'h1');
    let port = 30000;
    const h = {
      driver: new SimBlockTargetDriver(sim),
      host: '10.0.0.1',
      freePort: async () => port++,
      async write(ref: ExportRef, offset: number, len: number, byte: number) {
        const at = locate(sim, ref);
        if (at.pit) throw new Error('point-in-time exports are read-only');
        await h.driver.write(at.id, offset, Buffer.alloc(len, byte));
      },
      async holds(ref: ExportRef, offset: number, len: number, byte: number) {
        const at = locate(sim, ref);
        return h.driver.read(at.id, offset, len, at.pit).equals(Buffer.alloc(len, byte));
      },
      async reopen() {
        await h.driver.close();
        h.driver = new SimBlockTargetDriver(sim);
        return h.driver;
      },
      async cleanup() {},
    };
    return h;
  },
});

describe('SimBlockTargetDriver in a SimWorld', () => {
  it('registers running targets (and point-in-time exports) as NBD servers, and drops them when killed', async () => {
    const world = SimWorld.oneHost();
    const d = new SimBlockTargetDriver(new SimTargetWorld(world.clock, world, 'h1'));
    await d.ensure({ id: 't1', sizeBytes: 1 << 20, host: '10.0.0.1', port: 10809, exportName: 't1' });
    const exportsNow = () => [...(world.nbdServers.get('10.0.0.1:10809')?.exports.keys() ?? [])];
    expect(exportsNow()).toEqual(['t1']);
    await d.exportPointInTime('t1', 'r1');
    expect(exportsNow()).toEqual(['t1', 't1-r1']);
    await d.releasePointInTime('t1', 'r1');
    expect(exportsNow()).toEqual(['t1']);
    await d.kill('t1');
    expect(world.nbdServers.has('10.0.0.1:10809')).toBe(false);
  });
});
