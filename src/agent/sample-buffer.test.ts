import { describe, expect, it } from 'vitest';
import { SampleBuffer } from './sample-buffer.js';

const s = (i: number) => ({ vmId: 'v', t: i, metric: 'cpu_cores', value: i, unit: 'cores' });

describe('SampleBuffer', () => {
  it('keeps the newest samples up to its capacity and counts what it dropped', () => {
    const b = new SampleBuffer(5);
    b.push([0, 1, 2].map(s));
    b.push([3, 4, 5, 6].map(s));
    expect(b.size).toBe(5);
    expect(b.dropped).toBe(2);
    expect(b.peek(10).map((x) => x.t)).toEqual([2, 3, 4, 5, 6]);
  });

  it('ack removes what was posted; samples dropped meanwhile are not removed twice', () => {
    const b = new SampleBuffer(4);
    b.push([0, 1, 2, 3].map(s));
    const batch = b.peek(3); // 0,1,2 in flight
    const before = b.dropped;
    b.push([4, 5].map(s)); // drops 0 and 1 (part of the batch)
    b.ack(batch.length, before);
    expect(b.peek(10).map((x) => x.t)).toEqual([3, 4, 5]);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new SampleBuffer(0)).toThrow(RangeError);
  });
});
