import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { Loop } from './loop.js';

const log = { warn: vi.fn(), debug: vi.fn() };

describe('Loop', () => {
  it('runs at start, then once per interval of clock time; kick runs it early; abort stops it', async () => {
    const clock = new ManualClock(0);
    const runs: number[] = [];
    const loop = new Loop({ name: 't', clock, intervalMs: 1000, log, run: async () => void runs.push(clock.now()) });
    const ac = new AbortController();
    const done = loop.run(ac.signal);
    await vi.waitFor(() => expect(runs).toEqual([0]));
    clock.advance(999);
    await new Promise((r) => setTimeout(r, 20));
    expect(runs).toEqual([0]);
    clock.advance(1);
    await vi.waitFor(() => expect(runs).toEqual([0, 1000]));
    clock.advance(200);
    loop.kick();
    await vi.waitFor(() => expect(runs).toEqual([0, 1000, 1200]));
    // The manual clock's sleep ignores the signal: abort must still end the loop.
    ac.abort();
    await done;
    clock.advance(5000);
    await new Promise((r) => setTimeout(r, 20));
    expect(runs).toEqual([0, 1000, 1200]);
    expect(loop.passes).toBe(3);
  });

  it('logs a failed pass and goes on', async () => {
    const clock = new ManualClock(0);
    let n = 0;
    const warn = vi.fn();
    const loop = new Loop({
      name: 'f',
      clock,
      intervalMs: 10,
      log: { warn, debug: vi.fn() },
      run: async () => {
        if (n++ === 0) throw new Error('boom');
      },
    });
    const ac = new AbortController();
    const done = loop.run(ac.signal);
    await vi.waitFor(() => expect(warn).toHaveBeenCalledWith({ loop: 'f', err: 'boom' }, 'loop pass failed'));
    clock.advance(10);
    await vi.waitFor(() => expect(n).toBe(2));
    ac.abort();
    await done;
  });

  it('with runAtStart false waits one interval first', async () => {
    const clock = new ManualClock(0);
    const run = vi.fn(async () => undefined);
    const ac = new AbortController();
    const done = new Loop({ name: 'w', clock, intervalMs: 50, log, run, runAtStart: false }).run(ac.signal);
    await new Promise((r) => setTimeout(r, 20));
    expect(run).not.toHaveBeenCalled();
    clock.advance(50);
    await vi.waitFor(() => expect(run).toHaveBeenCalledTimes(1));
    ac.abort();
    await done;
  });
});
