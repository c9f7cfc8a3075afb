/**
 * Waiting on an injected {@link Clock}: a pause that ends when its time is up, when the loop's
 * AbortSignal fires, or when someone pokes a {@link Wakeup}; and a deadline signal for
 * requests. Every timer of the agent goes through these.
 */
import type { Clock } from '../core/clock.js';

/** Wakes every pending {@link pause} that listens to it (e.g. "send a heartbeat now"). */
export class Wakeup {
  private waiters = new Set<() => void>();

  /** Wakes the current waiters; later pauses are not affected. */
  poke(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** Registers a one-shot callback; returns its removal. */
  on(fn: () => void): () => void {
    this.waiters.add(fn);
    return () => this.waiters.delete(fn);
  }
}

/** How a {@link pause} ended. */
export type PauseEnd = 'elapsed' | 'aborted' | 'woken';

/**
 * Waits `ms` of `clock` time. Never rejects: resolves `aborted` when `signal` fires (also with
 * clocks whose `sleep` ignores signals, such as the manual test clock) and `woken` when `wake`
 * is poked.
 */
export function pause(clock: Clock, ms: number, signal?: AbortSignal, wake?: Wakeup): Promise<PauseEnd> {
  if (signal?.aborted) return Promise.resolve('aborted');
  // Nothing to wait for (a manual clock would hold even a 0 ms sleep until its next advance).
  if (ms <= 0) return Promise.resolve('elapsed');
  return new Promise<PauseEnd>((resolve) => {
    const inner = new AbortController();
    let offWake: (() => void) | undefined;
    let settled = false;
    const finish = (end: PauseEnd) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      offWake?.();
      if (end !== 'elapsed') inner.abort();
      resolve(end);
    };
    const onAbort = () => finish('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    offWake = wake?.on(() => finish('woken'));
    clock.sleep(Math.max(0, ms), inner.signal).then(
      () => finish('elapsed'),
      () => undefined, // aborted by finish()
    );
  });
}

/** An AbortSignal that fires after `ms` of `clock` time or when `parent` fires; `clear` drops the timer. */
export function deadlineSignal(clock: Clock, ms: number, parent?: AbortSignal): { signal: AbortSignal; clear: () => void } {
  const ac = new AbortController();
  const stop = new AbortController();
  const onParent = () => ac.abort(parent?.reason);
  if (parent?.aborted) ac.abort(parent.reason);
  else parent?.addEventListener('abort', onParent, { once: true });
  void pause(clock, ms, stop.signal).then((end) => {
    if (end === 'elapsed') ac.abort(new Error(`timed out after ${ms} ms`));
  });
  return {
    signal: ac.signal,
    clear: () => {
      stop.abort();
      parent?.removeEventListener('abort', onParent);
    },
  };
}
