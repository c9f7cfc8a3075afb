import { describe, expect, it } from 'vitest';
import { FailoverGate } from './gate.js';

describe('FailoverGate', () => {
  it('runs guarded calls of a VM that is not held, with a current ticket', async () => {
    const g = new FailoverGate();
    expect(await g.guard('vm1', g.ticket('vm1'), async () => 7)).toBe(7);
  });

  it('a hold skips guarded calls, waits for the running ones, and outdates earlier tickets for ever', async () => {
    const g = new FailoverGate();
    const before = g.ticket('vm1');
    let finish!: () => void;
    const log: string[] = [];
    const running = g.guard('vm1', before, () => new Promise<void>((r) => (finish = r)).then(() => void log.push('replication call ended')));
    const held = g.hold('vm1').then((release) => (log.push('held'), release));
    await new Promise((r) => setTimeout(r, 10));
    expect(log).toEqual([]); // the hold waits for the call already running
    finish();
    await running;
    const release = await held;
    expect(log).toEqual(['replication call ended', 'held']);

    let called = false;
    expect(await g.guard('vm1', g.ticket('vm1'), async () => (called = true))).toBeUndefined();
    expect(await g.guard('vm2', g.ticket('vm2'), async () => 'other VMs go on')).toBe('other VMs go on');
    release();
    expect(g.isHeld('vm1')).toBe(false);
    // A decision taken before the failover (stale ticket) stays skipped after it.
    expect(await g.guard('vm1', before, async () => (called = true))).toBeUndefined();
    expect(called).toBe(false);
    expect(await g.guard('vm1', g.ticket('vm1'), async () => 'fresh')).toBe('fresh');
  });

  it('a guarded call that fails does not block a hold', async () => {
    const g = new FailoverGate();
    const p = g.guard('vm1', 0, async () => {
      throw new Error('agent down');
    });
    await expect(p).rejects.toThrow('agent down');
    const release = await g.hold('vm1');
    release();
    release(); // twice is harmless
    expect(g.isHeld('vm1')).toBe(false);
  });
});
