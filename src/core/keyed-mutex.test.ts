import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './keyed-mutex.js';

/** A promise with its resolve, to hold a job open until the test lets it finish. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe('KeyedMutex', () => {
  it('runs jobs of one key one at a time, in order, even after a failure', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const g = gate();
    const a = m.run('k', async () => {
      log.push('a start');
      await g.wait;
      log.push('a end');
      throw new Error('a failed');
    });
    const b = m.run('k', async () => {
      log.push('b');
      return 2;
    });
    await Promise.resolve();
    expect(log).toEqual(['a start']);
    g.open();
    await expect(a).rejects.toThrow('a failed');
    await expect(b).resolves.toBe(2);
    expect(log).toEqual(['a start', 'a end', 'b']);
  });

  it('lets different keys run at the same time', async () => {
    const m = new KeyedMutex();
    const g = gate();
    const log: string[] = [];
    const a = m.run('a', async () => {
      await g.wait;
      log.push('a');
    });
    await m.run('b', async () => {
      log.push('b');
    });
    expect(log).toEqual(['b']);
    g.open();
    await a;
    expect(log).toEqual(['b', 'a']);
  });
});
