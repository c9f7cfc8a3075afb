/**
 * Samples waiting to be posted to the server. Bounded: while the server is unreachable the
 * oldest samples are dropped first (and counted), so a long outage costs history, never memory.
 */
import type { UsageSample } from '../api/protocol.js';

/** See the module comment. */
export class SampleBuffer {
  private items: UsageSample[] = [];
  private droppedCount = 0;

  /** @param capacity the most samples held (default 50 000: ~80 min of 10 VMs at 10 s). */
  constructor(readonly capacity = 50_000) {
    if (!(capacity >= 1)) throw new RangeError(`sample buffer capacity must be at least 1, got ${capacity}`);
  }

  /** Samples held now. */
  get size(): number {
    return this.items.length;
  }

  /** Samples dropped because the buffer was full, since it was made. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Appends samples; drops the oldest beyond the capacity. */
  push(samples: readonly UsageSample[]): void {
    for (const s of samples) this.items.push(s);
    const over = this.items.length - this.capacity;
    if (over > 0) {
      this.items.splice(0, over);
      this.droppedCount += over;
    }
  }

  /** The oldest `n` samples, not removed (post them, then {@link ack}). */
  peek(n: number): UsageSample[] {
    return this.items.slice(0, n);
  }

  /**
   * Removes the `n` oldest samples after they were posted. Samples dropped for capacity while
   * the post was in flight were among them, so fewer are removed (`dropped` covers those).
   */
  ack(n: number, droppedBefore: number): void {
    const lostMeanwhile = this.droppedCount - droppedBefore;
    const k = Math.max(0, n - lostMeanwhile);
    this.items.splice(0, k);
  }
}
