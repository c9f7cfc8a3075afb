// @ts-check
/**
 * The benchmark's client: appends unique records to the guest's log through the traffic URL
 * (HAProxy) on a steady schedule and remembers what was acknowledged and when.
 *
 * Open loop with a bound: a new `POST /append` starts every `periodMs` as long as fewer than
 * `maxInFlight` are outstanding. A request stuck on a hung primary therefore does not stop the
 * others (a closed-loop client would see nothing until its timeout), so the first good response
 * after a failover is seen within about one period.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** Epoch ms with sub-ms resolution (comparable with the server's epoch-ms records on this machine). */
export const epochMs = () => performance.timeOrigin + performance.now();

/**
 * @typedef {object} Ack  an acknowledged append (200)
 * @property {string} line
 * @property {number} sentAt  epoch ms
 * @property {number} at      epoch ms the answer arrived
 */

/**
 * @typedef {object} Failure  an append that was not acknowledged
 * @property {number} sentAt
 * @property {number} at
 * @property {string} what    HTTP status or error name
 */

/**
 * @typedef {object} AppenderOptions
 * @property {string} tag           prefix of every record (records are `${tag}-${n}`, n from 0)
 * @property {number} [periodMs]    default 20
 * @property {number} [maxInFlight] default 4
 * @property {number} [timeoutMs]   per request, default 10 000
 */

/**
 * Starts appending to `${url}/append`; `stop()` stops starting requests and waits for the
 * outstanding ones. `url` may be a function: read as each request starts (a client that moves).
 * @param {string | (() => string)} url
 * @param {AppenderOptions} o
 */
export function startAppender(url, o) {
  const base = typeof url === 'function' ? url : () => url;
  const periodMs = o.periodMs ?? 20;
  const maxInFlight = o.maxInFlight ?? 4;
  const timeoutMs = o.timeoutMs ?? 10_000;
  /** @type {Ack[]} */
  const acks = [];
  /** @type {Failure[]} */
  const failures = [];
  /** @type {Set<Promise<void>>} */
  const inFlight = new Set();
  let n = 0;
  let stopped = false;

  /** @param {string} line */
  const send = async (line) => {
    const sentAt = epochMs();
    try {
      const r = await fetch(`${base()}/append`, { method: 'POST', body: line, signal: AbortSignal.timeout(timeoutMs) });
      await r.arrayBuffer();
      if (r.status === 200) acks.push({ line, sentAt, at: epochMs() });
      else failures.push({ sentAt, at: epochMs(), what: `HTTP ${r.status}` });
    } catch (e) {
      const err = /** @type {Error & { cause?: { code?: string } }} */ (e);
      failures.push({ sentAt, at: epochMs(), what: err.cause?.code ?? err.name ?? 'error' });
    }
  };

  const loop = (async () => {
    while (!stopped) {
      if (inFlight.size < maxInFlight) {
        const p = send(`${o.tag}-${n++}`);
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      await sleep(periodMs);
    }
  })();

  return {
    acks,
    failures,
    /** Requests started so far. */
    sent: () => n,
    /** Stops starting requests; resolves once every outstanding one has ended. */
    stop: async () => {
      stopped = true;
      await loop;
      await Promise.all([...inFlight]);
    },
  };
}

/**
 * Failures by kind, e.g. `{ "HTTP 503": 12, "ECONNRESET": 1 }`.
 * @param {readonly Failure[]} failures
 * @returns {Record<string, number>}
 */
export function countFailures(failures) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const f of failures) out[f.what] = (out[f.what] ?? 0) + 1;
  return out;
}
