/**
 * Time comes from an injected Clock so that domain code can be tested by skipping time
 * instead of sleeping. Domain code never calls Date.now() or a bare setTimeout.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time (or rejects when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** A manual clock for tests: time moves only when `advance` is called. */
export class ManualClock implements Clock {
  private t: number;
  private waiters: { at: number; resolve: () => void }[] = [];
  constructor(startMs = 0) {
    this.t = startMs;
  }
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push({ at: this.t + ms, resolve });
    });
  }
  /** Moves time forward and wakes every sleeper whose time has come, in order. */
  advance(ms: number): void {
    this.t += ms;
    this.waiters.sort((a, b) => a.at - b.at);
    while (this.waiters.length && this.waiters[0].at <= this.t) this.waiters.shift()!.resolve();
  }
}
