// @ts-check
/**
 * The faults the benchmark injects into the primary, and how each is undone when the failover
 * did not remove the primary:
 *
 * - `kill`: SIGKILL of its QEMU process (a crash);
 * - `panic`: `POST /fault?mode=panic` to its guest service: the guest kernel panics and QEMU
 *   exits (`panic=-1`, `-no-reboot`): the agent reports `crashed`;
 * - `hang`: SIGSTOP of its QEMU process: the agent's monitor gets no answer and reports `unknown`
 *   after 5 s (the criteria's `hung`); undone with SIGCONT;
 * - `5xx`: `POST /fault?mode=5xx`: every request answers 500, the agent's health probes fail
 *   (the criteria's `probe_failures` / `error_rate`); undone with `POST /fault?mode=none`;
 * - `planned`: a manual failover (`POST /v1/vms/:id/failover`, what `umbra failover VM` does):
 *   no fault, no detection; the primary is healthy until it is fenced.
 */
import { epochMs } from './client.mjs';

/** Every fault kind, in the benchmark's order. */
export const FAULT_KINDS = /** @type {const} */ (['kill', 'panic', 'hang', '5xx', 'planned']);
/** @typedef {(typeof FAULT_KINDS)[number]} FaultKind */

/** What the issue expects of each fault (the report's target column). */
export const TARGETS = /** @type {const} */ ({
  kill: { what: 'fault → first good response', ms: 2000, text: 'crash, warm shadow: fault → first good < 2 s' },
  panic: { what: 'fault → first good response', ms: 2000, text: 'crash, warm shadow: fault → first good < 2 s' },
  hang: { what: null, ms: null, text: 'none in the issue (a stopped QEMU must first be told from a slow one)' },
  '5xx': { what: null, ms: null, text: 'none in the issue (detection waits for the criterion on failed probes)' },
  planned: { what: 'client-visible gap', ms: 1000, text: 'planned failover: gap < 1 s' },
});

/**
 * Parses `--faults kill,panic,...`.
 * @param {string} text
 * @returns {FaultKind[]}
 */
export function parseFaults(text) {
  const out = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (out.length === 0) throw new RangeError('--faults: name at least one fault');
  for (const f of out) {
    if (!(/** @type {readonly string[]} */ (FAULT_KINDS)).includes(f)) throw new RangeError(`--faults: unknown fault "${f}" (known: ${FAULT_KINDS.join(', ')})`);
  }
  if (new Set(out).size !== out.length) throw new RangeError('--faults: a fault is named twice');
  return /** @type {FaultKind[]} */ (out);
}

/**
 * @typedef {object} Injected
 * @property {number} at        epoch ms just before the fault was applied
 * @property {string} detail
 * @property {Promise<unknown>} [pending]  the manual failover's request (planned)
 */

/**
 * @typedef {object} Primary
 * @property {number} pid
 * @property {string} endpoint  its guest service, e.g. http://10.213.0.11:20001
 */

/**
 * @param {string} url
 * @param {number} timeoutMs
 */
async function post(url, timeoutMs) {
  const r = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(timeoutMs) });
  const body = await r.text();
  return { status: r.status, body };
}

/**
 * Applies fault `kind` to `primary` (of VM `vmId`).
 * @param {FaultKind} kind
 * @param {Primary} primary
 * @param {{ vmId: string, api: <T>(method: string, path: string, body?: unknown, timeoutMs?: number) => Promise<T> }} ctx
 * @returns {Promise<Injected>}
 */
export async function inject(kind, primary, ctx) {
  const at = epochMs();
  switch (kind) {
    case 'kill':
      process.kill(primary.pid, 'SIGKILL');
      return { at, detail: `SIGKILL ${primary.pid}` };
    case 'hang':
      process.kill(primary.pid, 'SIGSTOP');
      return { at, detail: `SIGSTOP ${primary.pid}` };
    case 'panic': {
      // The guest answers, then panics; the answer may be lost with it.
      const r = await post(`${primary.endpoint}/fault?mode=panic`, 3000).catch((e) => ({ status: 0, body: String(e) }));
      if (r.status !== 200 && r.status !== 0) throw new Error(`POST /fault?mode=panic answered ${r.status}: ${r.body}`);
      return { at, detail: `POST /fault?mode=panic → ${r.status || 'no answer'}` };
    }
    case '5xx': {
      const r = await post(`${primary.endpoint}/fault?mode=5xx`, 5000);
      if (r.status !== 200) throw new Error(`POST /fault?mode=5xx answered ${r.status}: ${r.body}`);
      return { at, detail: 'POST /fault?mode=5xx → 200' };
    }
    case 'planned': {
      const pending = ctx.api('POST', `/v1/vms/${ctx.vmId}/failover`, {}, 300_000);
      pending.catch(() => undefined); // awaited (and its error reported) by the caller
      return { at, detail: `POST /v1/vms/${ctx.vmId}/failover`, pending };
    }
  }
}

/**
 * True when process `pid` exists (a zombie or stopped process counts).
 * @param {number} pid
 */
export function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return /** @type {NodeJS.ErrnoException} */ (e).code === 'EPERM';
  }
}

/**
 * Undoes fault `kind` on a primary the failover left in place: SIGCONT a stopped QEMU, clear the
 * guest's 5xx mode. Nothing to undo for the others (a killed or panicked guest is gone).
 * Returns what it did, or null.
 * @param {FaultKind} kind
 * @param {Primary} primary
 * @returns {Promise<string | null>}
 */
export async function undo(kind, primary) {
  if (kind === 'hang' && pidAlive(primary.pid)) {
    process.kill(primary.pid, 'SIGCONT');
    return `SIGCONT ${primary.pid}`;
  }
  if (kind === '5xx') {
    const r = await post(`${primary.endpoint}/fault?mode=none`, 5000).catch(() => null);
    return r ? `POST /fault?mode=none → ${r.status}` : 'POST /fault?mode=none: no answer (the old primary is gone)';
  }
  return null;
}
