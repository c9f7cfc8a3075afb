// @ts-check
/**
 * The faults the benchmark injects into the primary, how each is undone when the failover did
 * not remove the primary, and what is left to clean once a failover ended:
 *
 * - `kill`: SIGKILL of its QEMU process (a crash);
 * - `panic`: `POST /fault?mode=panic` to its guest service: the guest kernel panics and QEMU
 *   exits (`panic=-1`, `-no-reboot`): the agent reports `crashed`;
 * - `hang`: SIGSTOP of its QEMU process: the agent's monitor gets no answer and reports `unknown`
 *   after 5 s (the criteria's `hung`); undone with SIGCONT;
 * - `5xx`: `POST /fault?mode=5xx`: every request answers 500; the client's traffic goes through
 *   HAProxy, whose 5xx/request counters give the controller `http_error_rate`; undone with
 *   `POST /fault?mode=none`;
 * - `cpu`: an overload: `GET /load?cpu=100&seconds=600`, the guest burns its vCPU (`cpu`);
 *   undone with `GET /load?cpu=0&seconds=1`. A live migration takes the load with the RAM, so
 *   after a failover it is stopped through the traffic URL (which reaches the new primary);
 * - `lost-host`: the primary's host loses its link (`ip link set <its root-side veth> down`):
 *   its agent misses its lease (`host_lost`) and HAProxy loses the VM. The link is ALWAYS set up
 *   again once the failover ended (or on undo, abort, SIGINT: the caller keeps `linksDown`); the
 *   old QEMU on that host goes when the host is back (the server's orphan sweep);
 * - `planned`: a manual failover (`POST /v1/vms/:id/failover`, what `umbra failover VM` does):
 *   no fault, no detection; the primary is healthy until it is fenced.
 */
import { spawnSync } from 'node:child_process';
import { epochMs } from './client.mjs';

/** Every fault kind, in the benchmark's order. */
export const FAULT_KINDS = /** @type {const} */ (['kill', 'panic', 'hang', '5xx', 'cpu', 'lost-host', 'planned']);
/** @typedef {(typeof FAULT_KINDS)[number]} FaultKind */

/**
 * Parses a fault list such as `kill,panic,...`; `option` names the flag in errors.
 * @param {string} text
 * @param {string} [option]
 * @returns {FaultKind[]}
 */
export function parseFaults(text, option = '--faults') {
  const out = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (out.length === 0) throw new RangeError(`${option}: name at least one fault`);
  for (const f of out) {
    if (!(/** @type {readonly string[]} */ (FAULT_KINDS)).includes(f)) throw new RangeError(`${option}: unknown fault "${f}" (known: ${FAULT_KINDS.join(', ')})`);
  }
  if (new Set(out).size !== out.length) throw new RangeError(`${option}: a fault is named twice`);
  return /** @type {FaultKind[]} */ (out);
}

/**
 * How long, after a failover ended, the old primary's QEMU may take to be gone before the
 * benchmark calls it left over: the pipeline's `retire_old` kills it at once, except on a lost
 * host, whose leftovers the server's orphan sweep removes about 15 s after the host is back.
 * @param {FaultKind} kind
 * @returns {number} ms
 */
export function oldQemuGraceMs(kind) {
  return kind === 'lost-host' ? 60_000 : 3000;
}

/**
 * Runs `ip` with an argument vector (never a shell string); synchronous, so that a signal
 * handler can set a link up again before the process exits.
 * @typedef {(args: string[]) => { code: number | null, out: string, err: string }} IpRunner
 */

/**
 * The real `ip` (or `program`, e.g. a stand-in in tests).
 * @param {string} [program]
 * @returns {IpRunner}
 */
export function ipRunner(program = 'ip') {
  return (args) => {
    const r = spawnSync(program, args, { encoding: 'utf8', timeout: 10_000 });
    return { code: r.status, out: r.stdout ?? '', err: r.error ? r.error.message : (r.stderr ?? '') };
  };
}

/**
 * Sets every link of `linksDown` up again (`ip link set LINK up`); the ones that came up leave
 * the set. Returns what was done, one line per link.
 * @param {Set<string>} linksDown
 * @param {IpRunner} ip
 * @returns {string[]}
 */
export function restoreLinks(linksDown, ip) {
  /** @type {string[]} */
  const out = [];
  for (const link of [...linksDown]) {
    const r = ip(['link', 'set', link, 'up']);
    if (r.code === 0) {
      linksDown.delete(link);
      out.push(`ip link set ${link} up`);
    } else out.push(`ip link set ${link} up failed (exit ${r.code}): ${r.err.trim()}`);
  }
  return out;
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
 * @property {string} host      its host (agent) name, e.g. h1
 */

/**
 * @typedef {object} FaultContext
 * @property {string} vmId
 * @property {<T>(method: string, path: string, body?: unknown, timeoutMs?: number) => Promise<T>} api  the server's API
 * @property {string} traffic            the VM's traffic URL (HAProxy): reaches whichever instance is primary
 * @property {IpRunner} ip
 * @property {(host: string) => string} linkOf  a host's root-side veth (the lab's state file)
 * @property {Set<string>} linksDown     links this benchmark set down, to be set up again whatever happens
 */

/**
 * @param {string} method
 * @param {string} url
 * @param {number} timeoutMs
 */
async function request(method, url, timeoutMs) {
  const r = await fetch(url, { method, signal: AbortSignal.timeout(timeoutMs) });
  const body = await r.text();
  return { status: r.status, body };
}

/** The overload: one vCPU's worth for 10 minutes (longer than any run). */
export const LOAD_ON = '/load?cpu=100&seconds=600';
/** Stops the guest's load. */
export const LOAD_OFF = '/load?cpu=0&seconds=1';

/**
 * Applies fault `kind` to `primary` (of VM `ctx.vmId`).
 * @param {FaultKind} kind
 * @param {Primary} primary
 * @param {FaultContext} ctx
 * @returns {Promise<Injected>}
 */
export async function inject(kind, primary, ctx) {
  // Looked up before the clock starts: reading the lab's state file is not part of the fault.
  const link = kind === 'lost-host' ? ctx.linkOf(primary.host) : '';
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
      const r = await request('POST', `${primary.endpoint}/fault?mode=panic`, 3000).catch((e) => ({ status: 0, body: String(e) }));
      if (r.status !== 200 && r.status !== 0) throw new Error(`POST /fault?mode=panic answered ${r.status}: ${r.body}`);
      return { at, detail: `POST /fault?mode=panic → ${r.status || 'no answer'}` };
    }
    case '5xx': {
      const r = await request('POST', `${primary.endpoint}/fault?mode=5xx`, 5000);
      if (r.status !== 200) throw new Error(`POST /fault?mode=5xx answered ${r.status}: ${r.body}`);
      return { at, detail: 'POST /fault?mode=5xx → 200' };
    }
    case 'cpu': {
      const r = await request('GET', `${primary.endpoint}${LOAD_ON}`, 5000);
      if (r.status !== 200) throw new Error(`GET ${LOAD_ON} answered ${r.status}: ${r.body}`);
      return { at, detail: `GET ${LOAD_ON} → 200 ${r.body.trim()}` };
    }
    case 'lost-host': {
      ctx.linksDown.add(link); // before: a link half set down must still be set up again
      const r = ctx.ip(['link', 'set', link, 'down']);
      if (r.code !== 0) {
        restoreLinks(ctx.linksDown, ctx.ip);
        throw new Error(`ip link set ${link} down exited ${r.code}: ${r.err.trim()}`);
      }
      return { at, detail: `ip link set ${link} down (host ${primary.host})` };
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
 * Stops the guest load at `base` (a guest endpoint or the traffic URL); says what happened.
 * @param {string} base
 */
async function stopLoad(base) {
  const r = await request('GET', `${base}${LOAD_OFF}`, 5000).catch((e) => ({ status: 0, body: String(e) }));
  return { ok: r.status === 200, text: `GET ${base}${LOAD_OFF} → ${r.status || `no answer (${r.body})`}` };
}

/**
 * What is left to do once the failover of fault `kind` ended (`done`: it ended `done`; `path`:
 * its path), whatever its outcome: a lost host's link is set up again (always); an overload
 * moved by live migration is stopped through the traffic URL (after any failover that ended
 * done: on a warm or cold path the new primary has no load and the call costs nothing).
 * Returns what it did, or null.
 * @param {FaultKind} kind
 * @param {{ done: boolean, path: string | null }} failover
 * @param {FaultContext} ctx
 * @returns {Promise<string | null>}
 */
export async function afterFailover(kind, failover, ctx) {
  if (kind === 'lost-host') {
    const done = restoreLinks(ctx.linksDown, ctx.ip);
    return done.length ? done.join('; ') : null;
  }
  if (kind === 'cpu' && failover.done) {
    const r = await stopLoad(ctx.traffic);
    return failover.path === 'migrate' ? `the load moved with the RAM: ${r.text}` : `${r.text} (the new primary never had the load)`;
  }
  return null;
}

/**
 * Undoes fault `kind` on a primary the failover left in place: SIGCONT a stopped QEMU, clear
 * the guest's 5xx mode, stop its load, set its host's link up again. Nothing to undo for the
 * others (a killed or panicked guest is gone). Returns what it did, or null.
 * @param {FaultKind} kind
 * @param {Primary} primary
 * @param {FaultContext} ctx
 * @returns {Promise<string | null>}
 */
export async function undo(kind, primary, ctx) {
  if (kind === 'hang' && pidAlive(primary.pid)) {
    process.kill(primary.pid, 'SIGCONT');
    return `SIGCONT ${primary.pid}`;
  }
  if (kind === '5xx') {
    const r = await request('POST', `${primary.endpoint}/fault?mode=none`, 5000).catch(() => null);
    return r ? `POST /fault?mode=none → ${r.status}` : 'POST /fault?mode=none: no answer (the old primary is gone)';
  }
  if (kind === 'cpu') {
    const direct = await stopLoad(primary.endpoint);
    if (direct.ok) return direct.text;
    // The guest's own address did not answer: whichever instance serves the VM now.
    const viaTraffic = await stopLoad(ctx.traffic);
    return `${direct.text}; ${viaTraffic.text}`;
  }
  if (kind === 'lost-host') {
    const done = restoreLinks(ctx.linksDown, ctx.ip);
    return done.length ? done.join('; ') : null;
  }
  return null;
}
