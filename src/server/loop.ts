/**
 * A periodic loop on the injected Clock: run, then sleep `intervalMs`, until the AbortSignal
 * fires. `kick()` cuts the sleep short (something changed: run again now). A pass that throws
 * is logged and the loop goes on; passes never overlap.
 */
import type { Clock } from '../core/clock.js';

/** The logging a loop does (pino satisfies it). */
export interface LoopLogger {
  warn(fields: object, msg: string): void;
  debug(fields: object, msg: string): void;
}

/** Options of {@link Loop}. */
export interface LoopOptions {
  name: string;
  clock: Clock;
  /** Sleep between the end of one pass and the start of the next, ms. */
  intervalMs: number;
  /** One pass; it should stop early when `signal` aborts. */
  run: (signal: AbortSignal) => Promise<unknown>;
  log: LoopLogger;
  /** Run a first pass at start (default true) instead of after one interval. */
  runAtStart?: boolean;
}

/** See the module comment. */
export class Loop {
  private wake: (() => void) | null = null;
  private kicked = false;
  /** Completed passes (failed ones included). */
  passes = 0;

  constructor(private readonly o: LoopOptions) {}

  /** Runs until `signal` aborts; resolves once the pass in progress (if any) has ended. */
  async run(signal: AbortSignal): Promise<void> {
    let first = this.o.runAtStart ?? true;
    while (!signal.aborted) {
      if (!first) await this.sleep(signal);
      first = false;
      if (signal.aborted) break;
      this.kicked = false;
      try {
        await this.o.run(signal);
      } catch (e) {
        if (!signal.aborted) this.o.log.warn({ loop: this.o.name, err: e instanceof Error ? e.message : String(e) }, 'loop pass failed');
      }
      this.passes++;
    }
    this.o.log.debug({ loop: this.o.name, passes: this.passes }, 'loop stopped');
  }

  /** Ends the current sleep now (or the next one at once, if a pass is running). */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  private sleep(signal: AbortSignal): Promise<void> {
    if (this.kicked) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        // A stale sleeper of an earlier, kicked sleep must not clear the current one's wake.
        if (this.wake === done) this.wake = null;
        resolve();
      };
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
      // The clock's sleep may ignore the signal (a manual clock does): abort and kick resolve it too.
      this.o.clock.sleep(this.o.intervalMs, signal).then(done, done);
    });
  }
}
