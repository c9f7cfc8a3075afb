/** Small HTTP helpers of the lab: waiting for a URL to answer 200. */
import { systemClock, type Clock } from '../core/clock.js';

/** True when `url` answers 200 within `perTryMs`. */
export async function answers200(url: string, perTryMs = 1000): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(perTryMs) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

/** Polls `url` until it answers 200; resolves false after `timeoutMs`. */
export async function waitFor200(url: string, timeoutMs: number, clock: Clock = systemClock): Promise<boolean> {
  const end = clock.now() + timeoutMs;
  while (clock.now() < end) {
    if (await answers200(url)) return true;
    await clock.sleep(200);
  }
  return false;
}
