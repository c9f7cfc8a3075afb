import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { EventHub, Fanout, waitForEvent } from './events.js';
import { SkippingClock } from './sim/skipping-clock.js';

const ev = (vmId: string, type: string, atMs = 0) => ({ vmId, type, atMs, data: {} });

describe('Fanout and EventHub', () => {
  it('buffers for iterators, filters, and ends iterators on close', async () => {
    const hub = new EventHub();
    const it = hub.iterate({ vmId: 'a', types: ['STOP'] });
    hub.publish(ev('b', 'STOP'));
    hub.publish(ev('a', 'RESUME'));
    hub.publish(ev('a', 'STOP', 1));
    hub.publish(ev('a', 'STOP', 2));
    expect((await it.next()).value).toMatchObject({ vmId: 'a', type: 'STOP', atMs: 1 });
    expect((await it.next()).value).toMatchObject({ atMs: 2 });
    const pending = it.next();
    hub.close();
    expect((await pending).done).toBe(true);
    expect((await hub.iterate().next()).done).toBe(true);
  });

  it('keeps delivering when a listener throws', () => {
    const f = new Fanout<number>();
    const got: number[] = [];
    f.subscribe(() => {
      throw new Error('bug');
    });
    const off = f.subscribe((v) => got.push(v));
    f.publish(1);
    off();
    f.publish(2);
    expect(got).toEqual([1]);
  });
});

describe('waitForEvent', () => {
  it('resolves with the first match and times out on the injected clock', async () => {
    const hub = new EventHub();
    const clock = new ManualClock(0);
    const p = waitForEvent(hub, (e) => e.type === 'STOP', { clock, timeoutMs: 100, filter: { vmId: 'a' } });
    hub.publish(ev('b', 'STOP'));
    hub.publish(ev('a', 'STOP', 7));
    expect((await p).atMs).toBe(7);

    const q = waitForEvent(hub, (e) => e.type === 'STOP', { clock, timeoutMs: 100 }).catch((e: unknown) => e);
    clock.advance(99);
    await Promise.resolve();
    clock.advance(1);
    expect(await q).toMatchObject({ code: 'QMP_TIMEOUT', retryable: true });
  });
});

describe('SkippingClock', () => {
  it('wakes sleepers in time order, jumping straight to each', async () => {
    const c = new SkippingClock(1000);
    const order: string[] = [];
    await Promise.all([
      c.sleep(300).then(() => order.push(`b@${c.now()}`)),
      c.sleep(100).then(() => order.push(`a@${c.now()}`)),
      c.sleep(300).then(() => order.push(`c@${c.now()}`)),
    ]);
    expect(order).toEqual(['a@1100', 'b@1300', 'c@1300']);
  });

  it('drops an aborted sleeper without moving time to it', async () => {
    const c = new SkippingClock(0);
    const ac = new AbortController();
    const long = c.sleep(10_000, ac.signal).catch(() => 'aborted');
    ac.abort();
    expect(await long).toBe('aborted');
    await c.sleep(5);
    expect(c.now()).toBe(5);
  });
});
