/**
 * The `error_rate` signal from a switch's cumulative counters: the share of 5xx responses among
 * the requests between two readings. Pure; the caller keeps the previous reading.
 */
import type { ServerCounters } from './switch.js';

/** Requests and errors between two readings, and their ratio. */
export interface ErrorRateWindow {
  requests: number;
  errors: number;
  /** errors / requests in 0..1; null when there were no requests (no evidence either way). */
  rate: number | null;
  /** True when a counter went down (the switch restarted): the window counts from zero. */
  reset: boolean;
}

/**
 * Errors per request between `prev` and `cur`. A counter that went down means the switch
 * restarted, so `cur` alone is the window. `connectionErrors` (requests HAProxy could not even
 * send; the client got HAProxy's 503) count as errors when `countConnectionErrors` is set —
 * use it with a server row, whose `http5xx` only counts the server's own answers.
 */
export function errorRateBetween(prev: ServerCounters | null, cur: ServerCounters, opts: { countConnectionErrors?: boolean } = {}): ErrorRateWindow {
  const reset = prev !== null && (cur.requests < prev.requests || cur.http5xx < prev.http5xx || cur.connectionErrors < prev.connectionErrors);
  const base = prev === null || reset ? { requests: 0, http5xx: 0, connectionErrors: 0 } : prev;
  const conn = opts.countConnectionErrors ? cur.connectionErrors - base.connectionErrors : 0;
  const requests = cur.requests - base.requests + conn;
  const errors = cur.http5xx - base.http5xx + conn;
  return { requests, errors, rate: requests > 0 ? errors / requests : null, reset };
}
