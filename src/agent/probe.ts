/**
 * The guest service probe: one HTTP GET with a timeout. A fresh connection each time (no
 * keep-alive), so a probe measures what a new client sees: connect + answer.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Clock } from '../core/clock.js';
import { deadlineSignal } from './timing.js';

/** The outcome of one probe. */
export interface ProbeResult {
  /** 2xx within the timeout. */
  ok: boolean;
  /** Request start to end of the answer (or to the failure), ms. */
  latencyMs: number;
  /** HTTP status, or null when none came. */
  status: number | null;
  /** Why it failed (connection refused, timeout, status). */
  error?: string;
}

/** Options of {@link probeHttp}. */
export interface ProbeOptions {
  clock: Clock;
  timeoutMs: number;
  signal?: AbortSignal;
  /** A monotonic ms timer for the latency (default performance.now). */
  now?: () => number;
}

/** Bodies beyond this are not read (the probe only needs the status). */
const MAX_BODY = 64 * 1024;

/** GETs `url` once. Never throws. */
export function probeHttp(url: string, opts: ProbeOptions): Promise<ProbeResult> {
  const now = opts.now ?? (() => performance.now());
  const t0 = now();
  const { signal, clear } = deadlineSignal(opts.clock, opts.timeoutMs, opts.signal);
  return new Promise<ProbeResult>((resolve) => {
    let done = false;
    const finish = (r: Omit<ProbeResult, 'latencyMs'>) => {
      if (done) return;
      done = true;
      clear();
      resolve({ ...r, latencyMs: now() - t0 });
    };
    let req: http.ClientRequest;
    try {
      req = http.get(url, { agent: false, signal, headers: { 'user-agent': 'umbra-agent-probe' } }, (res) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_BODY) res.destroy();
        });
        const status = res.statusCode ?? null;
        const ok = status !== null && status >= 200 && status < 300;
        res.on('end', () => finish({ ok, status, ...(ok ? {} : { error: `HTTP ${status}` }) }));
        res.on('close', () => finish({ ok, status, ...(ok ? {} : { error: `HTTP ${status}` }) }));
        res.on('error', (e) => finish({ ok: false, status, error: e.message }));
      });
    } catch (e) {
      finish({ ok: false, status: null, error: e instanceof Error ? e.message : String(e) });
      return;
    }
    req.on('error', (e) => finish({ ok: false, status: null, error: signal.aborted ? `no answer within ${opts.timeoutMs} ms` : e.message }));
  });
}
