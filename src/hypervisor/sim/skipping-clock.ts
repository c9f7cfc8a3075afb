/**
 * A virtual clock that skips time: whenever everything else is waiting (the microtask queue
 * is empty), it jumps to the earliest pending `sleep` and wakes it. Simulations then run
 * instantly and deterministically in virtual time, like Temporal's time-skipping test
 * environment. Use it only where every wait is a sleep on this clock (the simulated world):
 * real I/O does not hold the clock back.
 */
import type { Clock } from '../../core/clock.js';

interface Waiter {
  at: number;
  seq: number;
  resolve: () => void;
}

/** See the module comment. */
export class SkippingClock implements Clock {
  private t: number;
  private seq = 0;
  private waiters: Waiter[] = [];
  private scheduled = false;

  constructor(startMs = 0) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const w: Waiter = {
        at: this.t + Math.max(0, ms),
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(w);
      this.schedule();
    });
  }

  /** Number of pending sleeps (tests). */
  get pending(): number {
    return this.waiters.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate runs after the microtask queue drained: all in-flight simulated work has
    // registered its sleeps by then.
    setImmediate(() => {
      this.scheduled = false;
      if (!this.waiters.length) return;
      let best = 0;
      for (let i = 1; i < this.waiters.length; i++) {
        const a = this.waiters[i];
        const b = this.waiters[best];
        if (a.at < b.at || (a.at === b.at && a.seq < b.seq)) best = i;
      }
      const [w] = this.waiters.splice(best, 1);
      if (w.at > this.t) this.t = w.at;
      w.resolve();
      if (this.waiters.length) this.schedule();
    });
  }
}
