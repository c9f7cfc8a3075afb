import { performance } from 'node:perf_hooks';

/** Polls until `fn` returns something truthy; see {@link untilWithin}. */
export type Until = <T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs?: number) => Promise<T>;

/**
 * An `until(what, fn, timeoutMs = defaultTimeoutMs)` that calls `fn` every `intervalMs` until it
 * returns something truthy and returns that. A throw counts as "not yet" (the last one is named
 * in the timeout error, as is `what`).
 */
export function untilWithin(defaultTimeoutMs: number, intervalMs = 500): Until {
  return async (what, fn, timeoutMs = defaultTimeoutMs) => {
    const end = performance.now() + timeoutMs;
    let last: unknown;
    while (performance.now() < end) {
      try {
        const v = await fn();
        if (v) return v;
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
  };
}

/**
 * Polls `url` every 200 ms until it answers 200 and returns `read(response)`; null when it did
 * not within `timeoutMs` (a failed request or `read` counts as "not yet").
 */
export async function whenHttpOk<T>(url: string, timeoutMs: number, read: (r: Response) => Promise<T>): Promise<T | null> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) return await read(r);
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return null;
}

/** True once `url` answers 200 within `timeoutMs`. */
export async function healthy(url: string, timeoutMs: number): Promise<boolean> {
  return (await whenHttpOk(url, timeoutMs, async () => true)) ?? false;
}
