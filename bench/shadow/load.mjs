// @ts-check
/**
 * The guest write load and the pollers that run beside it.
 *
 * `appendLoad`: `clients` concurrent loops, each POSTing one line of `lineBytes` to the lab
 * guest's `/append` (the guest appends it to its log on the ext4 data disk and answers only
 * after fsync; appends are serialized in the guest) until `durationMs` is over. One request per
 * connection (the guest closes every connection), through QEMU's user-mode networking.
 *
 * `pollEvery`: calls `fn` every `periodMs` (measured from each call's start) until stopped, and
 * keeps what it returns.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * @typedef {object} LoadResult
 * @property {number} ok           acknowledged appends
 * @property {number} failed       appends answered with another status or an error
 * @property {number} bytes        bytes of acknowledged lines (without the newline)
 * @property {number} elapsedMs    from the first request to the last answer
 * @property {number[]} latencyMs  per acknowledged append
 * @property {string[]} errors     the first few failures
 */

/**
 * A line of `bytes` printable characters (more only when the head alone is longer), unique by
 * its head `TAG-SEQ:`. Pure.
 * @param {string} tag
 * @param {number} seq
 * @param {number} bytes
 * @param {string} filler  at least `bytes` characters
 */
export function lineOf(tag, seq, bytes, filler) {
  const head = `${tag}-${seq}:`;
  return head + filler.slice(0, Math.max(0, bytes - head.length));
}

/**
 * One POST of `body` to `url`; resolves with the status (0 on a network error).
 * @param {URL} url
 * @param {string} body
 * @param {number} timeoutMs
 * @returns {Promise<{ status: number, error?: string }>}
 */
function post(url, body, timeoutMs) {
  return new Promise((resolve) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: false, headers: { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', (e) => resolve({ status: 0, error: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    req.end(body);
  });
}

/**
 * Runs the append load (see the module comment).
 * @param {{ endpoint: string, clients: number, durationMs: number, lineBytes: number, tag?: string, timeoutMs?: number, signal?: AbortSignal, onAck?: (head: string, at: number) => void }} o
 * @returns {Promise<LoadResult>}
 */
export async function appendLoad(o) {
  const url = new URL('/append', o.endpoint);
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(o.lineBytes / 36) + 1);
  /** @type {LoadResult} */
  const r = { ok: 0, failed: 0, bytes: 0, elapsedMs: 0, latencyMs: [], errors: [] };
  const tag = o.tag ?? 'l';
  let seq = 0;
  const t0 = performance.now();
  const end = t0 + o.durationMs;
  const client = async () => {
    while (performance.now() < end && !o.signal?.aborted) {
      const n = ++seq;
      const line = lineOf(tag, n, o.lineBytes, filler);
      const s = performance.now();
      const a = await post(url, line, o.timeoutMs ?? 30_000);
      if (a.status === 200) {
        r.ok++;
        r.bytes += line.length;
        const at = performance.now();
        r.latencyMs.push(at - s);
        o.onAck?.(`${tag}-${n}:`, at);
      } else {
        r.failed++;
        if (r.errors.length < 5) r.errors.push(a.error ?? `HTTP ${a.status}`);
        await sleep(50); // a failing guest is not hammered
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, client));
  r.elapsedMs = performance.now() - t0;
  return r;
}

/**
 * Calls `fn` every `periodMs` until `stop()`; `stop` resolves with every value returned (calls
 * that threw are counted, not kept).
 * @template T
 * @param {() => Promise<T>} fn
 * @param {number} periodMs
 * @returns {{ stop: () => Promise<{ values: T[], failures: number }> }}
 */
export function pollEvery(fn, periodMs) {
  /** @type {T[]} */
  const values = [];
  let failures = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const s = performance.now();
      try {
        values.push(await fn());
      } catch {
        failures++;
      }
      const left = periodMs - (performance.now() - s);
      if (left > 0 && running) await sleep(left);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { values, failures };
    },
  };
}
