/**
 * Event fan-out shared by the drivers: listeners, async iterators, and a helper to wait for
 * one event with a timeout on an injected clock.
 */
import type { Clock } from '../core/clock.js';
import type { EventFilter } from './driver.js';
import type { VmEvent, VmEventListener } from './types.js';
import { HypervisorError } from './errors.js';

function matches(ev: VmEvent, f: EventFilter | undefined): boolean {
  if (!f) return true;
  if (f.vmId !== undefined && ev.vmId !== f.vmId) return false;
  if (f.types && !f.types.includes(ev.type)) return false;
  return true;
}

/**
 * A fan-out of values of one type to listeners and async iterators; closing ends every
 * iterator. Used for QMP events (qemu/qmp-client.ts) and driver events ({@link EventHub}).
 */
export class Fanout<T> {
  private listeners = new Set<{ fn: (v: T) => void; pred?: (v: T) => boolean }>();
  private closers = new Set<() => void>();
  private closed = false;

  /** Delivers `v` to every matching listener. A throwing listener does not stop the others. */
  publish(v: T): void {
    for (const l of [...this.listeners]) {
      if (l.pred && !l.pred(v)) continue;
      try {
        l.fn(v);
      } catch {
        // A listener's bug must not break delivery to the others.
      }
    }
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(fn: (v: T) => void, pred?: (v: T) => boolean): () => void {
    const entry = { fn, pred };
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  /** Values from now on as an async iterator (buffered, so none is lost between `next` calls). */
  iterate(opts: { pred?: (v: T) => boolean; signal?: AbortSignal } = {}): AsyncIterableIterator<T> {
    const queue: T[] = [];
    let wake: ((r: IteratorResult<T>) => void) | null = null;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      unsubscribe();
      this.closers.delete(finish);
      opts.signal?.removeEventListener('abort', finish);
      if (wake) {
        const w = wake;
        wake = null;
        w({ value: undefined, done: true });
      }
    };
    const unsubscribe = this.subscribe((v) => {
      if (wake) {
        const w = wake;
        wake = null;
        w({ value: v, done: false });
      } else queue.push(v);
    }, opts.pred);
    this.closers.add(finish);
    if (this.closed || opts.signal?.aborted) finish();
    else opts.signal?.addEventListener('abort', finish, { once: true });
    const it: AsyncIterableIterator<T> = {
      next: () => {
        if (queue.length) return Promise.resolve({ value: queue.shift()!, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (wake = resolve));
      },
      return: () => {
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /** Ends every iterator and drops every listener; later iterators end at once. */
  close(): void {
    this.closed = true;
    for (const c of [...this.closers]) c();
    this.listeners.clear();
  }
}

/** The driver-side event fan-out: {@link Fanout} of {@link VmEvent} with {@link EventFilter}s. */
export class EventHub {
  private readonly fan = new Fanout<VmEvent>();
  /** Delivers `ev` to every matching listener and iterator. */
  publish(ev: VmEvent): void {
    this.fan.publish(ev);
  }
  /** Adds a listener; returns the function that removes it. */
  subscribe(fn: VmEventListener, filter?: EventFilter): () => void {
    return this.fan.subscribe(fn, filter ? (ev) => matches(ev, filter) : undefined);
  }
  /** Matching events from now on as an async iterator. */
  iterate(filter?: EventFilter & { signal?: AbortSignal }): AsyncIterableIterator<VmEvent> {
    return this.fan.iterate({ pred: filter ? (ev) => matches(ev, filter) : undefined, signal: filter?.signal });
  }
  /** Ends every iterator and drops every listener. */
  close(): void {
    this.fan.close();
  }
}

/** Something events can be subscribed on (a driver, or a hub). */
export interface EventSource {
  subscribe(listener: VmEventListener, filter?: EventFilter): () => void;
}

/**
 * Resolves with the first event matching `pred` (subscribing at once, so call it BEFORE the
 * action that causes the event). Rejects with `QMP_TIMEOUT`-coded error after `timeoutMs` of
 * `clock` time, or with the signal's reason.
 */
export function waitForEvent(
  source: EventSource,
  pred: (ev: VmEvent) => boolean,
  opts: { clock: Clock; timeoutMs: number; filter?: EventFilter; signal?: AbortSignal; what?: string },
): Promise<VmEvent> {
  return new Promise<VmEvent>((resolve, reject) => {
    const ac = new AbortController();
    const stop = () => {
      unsubscribe();
      ac.abort();
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const unsubscribe = source.subscribe((ev) => {
      if (!pred(ev)) return;
      stop();
      resolve(ev);
    }, opts.filter);
    const onAbort = () => {
      stop();
      reject(opts.signal?.reason);
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    opts.clock.sleep(opts.timeoutMs, ac.signal).then(
      () => {
        if (ac.signal.aborted) return;
        stop();
        reject(
          new HypervisorError('QMP_TIMEOUT', `no ${opts.what ?? 'matching'} event within ${opts.timeoutMs} ms`, {
            vmId: opts.filter?.vmId,
            op: 'waitForEvent',
            timeoutMs: opts.timeoutMs,
          }),
        );
      },
      () => undefined,
    );
  });
}
