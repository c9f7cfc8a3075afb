/**
 * What a promotion asks of the lab guest over HTTP: `POST /admin/promote?dev=vda` with the admin
 * token (a warm shadow mounts the synchronized disk and serves it), and waiting until
 * `GET /health` answers role `primary`. Time from the injected clock, HTTP injected (fetch for
 * real), so simulated tests run them unchanged. The token travels in a header only and never
 * appears in a result or an error.
 */
import type { Clock } from '../../core/clock.js';
import { errText } from '../log.js';
import { deadlineSignal, pause } from '../timing.js';
import type { HttpGet } from './rehearse.js';

/** One HTTP POST without a body: status and body text. Rejects on connection errors and when `signal` fires. */
export type HttpPost = (url: string, headers: Record<string, string>, signal: AbortSignal) => Promise<{ status: number; body: string }>;

/** The real {@link HttpPost}: node's fetch, one connection per request. */
export const fetchPost: HttpPost = async (url, headers, signal) => {
  const r = await fetch(url, { method: 'POST', signal, headers: { ...headers, connection: 'close' } });
  return { status: r.status, body: await r.text() };
};

/** The lab guest's health path: it answers `{"status":"ok","role":...,"seq":N}`. */
export const GUEST_HEALTH_PATH = '/health';

/** Longest guest answer quoted in an error. */
const QUOTE = 200;

/** How a guest call ended. */
export interface GuestOutcome {
  ok: boolean;
  /** The guest's log sequence number (health), when it said. */
  seq: number | null;
  error: string | null;
}

/** Guest answers to /admin/promote that no retry changes. */
const FINAL_REFUSALS = new Set([400, 401, 403, 404, 405]);

/** 500s (a mount that failed, e.g. while the NBD client reconnects) retried this many times. */
const SERVER_ERROR_TRIES = 3;

/**
 * Asks the guest at `url` (`…/admin/promote?dev=vda`) to promote itself, retrying while it does
 * not answer (still booting) until `deadline`. 200 is a promotion, 409 "already primary" one
 * done earlier (a retried call): both ok. 400/401/403/404/405 fail at once; a 500 is retried
 * {@link SERVER_ERROR_TRIES} times.
 */
export async function promoteGuest(post: HttpPost, clock: Clock, url: string, token: string, deadline: number, opts: { everyMs?: number; signal?: AbortSignal } = {}): Promise<GuestOutcome> {
  let serverErrors = 0;
  let last = 'no attempt';
  for (;;) {
    const left = deadline - clock.now();
    if (left <= 0) return { ok: false, seq: null, error: `the guest did not promote in time: ${last}` };
    const d = deadlineSignal(clock, Math.min(10_000, left), opts.signal);
    try {
      const r = await post(url, { authorization: `Bearer ${token}` }, d.signal);
      if (r.status === 200 || r.status === 409) return { ok: true, seq: seqOf(r.body), error: null };
      last = `POST /admin/promote answered ${r.status}: ${r.body.slice(0, QUOTE)}`;
      if (FINAL_REFUSALS.has(r.status) || ++serverErrors >= SERVER_ERROR_TRIES) return { ok: false, seq: null, error: last };
    } catch (e) {
      if (opts.signal?.aborted) return { ok: false, seq: null, error: 'aborted' };
      last = `POST /admin/promote: ${errText(e)}`;
    } finally {
      d.clear();
    }
    if ((await pause(clock, Math.min(opts.everyMs ?? 100, Math.max(1, deadline - clock.now())), opts.signal)) === 'aborted') return { ok: false, seq: null, error: 'aborted' };
  }
}

/** Polls the guest's health URL until it answers 200 with role `primary`, or `deadline` passes. */
export async function waitPrimary(http: HttpGet, clock: Clock, url: string, deadline: number, opts: { everyMs?: number; signal?: AbortSignal } = {}): Promise<GuestOutcome> {
  let last = 'no attempt';
  for (;;) {
    const left = deadline - clock.now();
    if (left <= 0) return { ok: false, seq: null, error: `not primary in time: ${last}` };
    const d = deadlineSignal(clock, Math.min(2000, left), opts.signal);
    try {
      const r = await http(url, d.signal);
      const role = roleOf(r.body);
      if (r.status === 200 && role === 'primary') return { ok: true, seq: seqOf(r.body), error: null };
      last = `GET ${url} answered ${r.status}${role ? ` role ${role}` : ''}`;
    } catch (e) {
      if (opts.signal?.aborted) return { ok: false, seq: null, error: 'aborted' };
      last = `GET ${url}: ${errText(e)}`;
    } finally {
      d.clear();
    }
    if ((await pause(clock, Math.min(opts.everyMs ?? 100, Math.max(1, deadline - clock.now())), opts.signal)) === 'aborted') return { ok: false, seq: null, error: 'aborted' };
  }
}

function parse(body: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(body);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The `role` of a health answer, or null. Pure. */
export function roleOf(body: string): string | null {
  const r = parse(body)?.role;
  return typeof r === 'string' ? r : null;
}

/** The `seq` of a health or promote answer, or null. Pure. */
export function seqOf(body: string): number | null {
  const s = parse(body)?.seq;
  return typeof s === 'number' && Number.isInteger(s) ? s : null;
}
