/**
 * The checks a rehearsal runs against a guest service: one HTTP task, and waiting for a probe
 * path to answer 200. Time comes from the injected clock; the HTTP client is injected too
 * (the real one is `fetch`), so simulated tests run them unchanged.
 */
import type { Clock } from '../../core/clock.js';
import type { RehearsalResult, RehearsalTask } from '../../api/shadow-protocol.js';
import { errText } from '../log.js';
import { deadlineSignal, pause } from '../timing.js';
import { GUEST_SERVICE_PORT } from '../vm-spec.js';

/** One HTTP GET: status and body text. Rejects on connection errors and when `signal` fires. */
export type HttpGet = (url: string, signal: AbortSignal) => Promise<{ status: number; body: string }>;

/** The real {@link HttpGet}: node's fetch, one connection per request (the lab guest closes each). */
export const fetchGet: HttpGet = async (url, signal) => {
  const r = await fetch(url, { signal, headers: { connection: 'close' } });
  return { status: r.status, body: await r.text() };
};

/** What a command task reports: the lab guest has no way to run a command from outside. */
export const COMMAND_TASK_UNSUPPORTED = 'command tasks need a guest exec channel; the lab guest has none';

/** Longest task output kept in a result. */
export const MAX_OUTPUT = 4096;

type TaskResult = NonNullable<RehearsalResult['task']>;

/** One GET with a timeout: ok when the status is `expect`. */
export async function httpCheck(http: HttpGet, clock: Clock, url: string, expect: number, timeoutMs: number, parent?: AbortSignal): Promise<TaskResult> {
  const t0 = clock.now();
  const d = deadlineSignal(clock, timeoutMs, parent);
  try {
    const r = await http(url, d.signal);
    const ok = r.status === expect;
    return { ok, status: r.status, ms: clock.now() - t0, output: r.body.slice(0, MAX_OUTPUT), ...(ok ? {} : { error: `GET ${url} answered ${r.status}, expected ${expect}` }) };
  } catch (e) {
    const why = d.signal.aborted && !parent?.aborted ? `no answer within ${timeoutMs} ms` : errText(e);
    return { ok: false, status: null, ms: clock.now() - t0, error: `GET ${url}: ${why}` };
  } finally {
    d.clear();
  }
}

/**
 * Runs a warm-up task against the guest service at `baseUrl` (the host side of its port 80).
 * HTTP tasks may name only port 80 (the one forwarded); command tasks cannot run (see
 * {@link COMMAND_TASK_UNSUPPORTED}).
 */
export async function runTask(task: RehearsalTask, baseUrl: string, http: HttpGet, clock: Clock, signal?: AbortSignal): Promise<TaskResult> {
  if ('command' in task) return { ok: false, status: null, ms: 0, error: COMMAND_TASK_UNSUPPORTED };
  const { path, port, expectStatus, timeoutMs } = task.http;
  if (port !== undefined && port !== GUEST_SERVICE_PORT) {
    return { ok: false, status: null, ms: 0, error: `only the guest service port ${GUEST_SERVICE_PORT} is forwarded to the host, not ${port}` };
  }
  return httpCheck(http, clock, baseUrl + path, expectStatus, timeoutMs, signal);
}

/**
 * Polls `url` until it answers 200 or `deadline` (clock ms) passes; returns the last check.
 * Each attempt gets at most `attemptMs`.
 */
export async function waitReady(http: HttpGet, clock: Clock, url: string, deadline: number, opts: { everyMs?: number; attemptMs?: number; signal?: AbortSignal } = {}): Promise<TaskResult> {
  for (;;) {
    const left = deadline - clock.now();
    const r = await httpCheck(http, clock, url, 200, Math.max(1, Math.min(opts.attemptMs ?? 2000, left)), opts.signal);
    if (r.ok || opts.signal?.aborted || clock.now() >= deadline) return r;
    if ((await pause(clock, Math.min(opts.everyMs ?? 200, deadline - clock.now()), opts.signal)) === 'aborted') return r;
  }
}
