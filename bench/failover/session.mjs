// @ts-check
/**
 * One lab as the benchmark uses it: runs of faults against vm1 (wait until ready, client,
 * fault, failover, what is left once it ended, measurements), the recovery of a fault that did
 * not fail over, and the final check of every acknowledged record. The harness opens one
 * session per lab (one shadow flavor per lab).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { countFailures, epochMs, startAppender } from './client.mjs';
import { afterFailover, inject, ipRunner, oldQemuGraceMs, pidAlive, undo } from './faults.mjs';
import { answers200, hostLink, serverApi, statusReport } from './lab.mjs';
import { failoverPhases, missingLines, outage, stepTimings, whyNot } from './measure.mjs';

/** The lab VM the benchmark fails over. */
export const VM = 'vm1';
/** Appends acknowledged before a fault, and after the failover, before a run goes on. */
const ACKS_AROUND = 10;
/** How long a run waits for vm1 to be ready (a synchronized shadow, traffic answering). */
const READY_TIMEOUT_MS = 240_000;

/** @typedef {import('./report.mjs').RunResult} RunResult */
/** @typedef {import('./faults.mjs').FaultKind} FaultKind */
/** @typedef {import('./faults.mjs').FaultContext} FaultContext */
/** @typedef {import('./targets.mjs').Flavor} Flavor */
/** @typedef {import('./measure.mjs').StepRecord} StepRecord */
/** @typedef {import('./lab.mjs').LabUp} LabUp */
/**
 * @typedef {object} FailoverRecord  GET /v1/failovers (the fields used here)
 * @property {string} id
 * @property {'running' | 'done' | 'failed' | 'aborted'} state
 * @property {string} reason
 * @property {'warm' | 'migrate' | 'cold'} path
 * @property {string} fromHost
 * @property {string} toHost
 * @property {number} dataLossBoundSeconds
 * @property {number} startedAt
 * @property {number | null} endedAt
 * @property {StepRecord[]} steps
 */

/**
 * @typedef {object} SessionOptions
 * @property {NodeJS.ProcessEnv} env     with the lab's UMBRA_STATE_DIR
 * @property {number} lab                1-based number of this lab in the benchmark
 * @property {Flavor} flavor             the shadow flavor of its policy
 * @property {number} quietS
 * @property {number} recoveryTimeoutS
 * @property {number} periodMs
 * @property {number} maxInFlight
 * @property {Set<number>} stoppedPids   QEMUs this benchmark stopped (SIGCONT on exit)
 * @property {Set<string>} linksDown     host links this benchmark set down (set up again on exit)
 * @property {import('./faults.mjs').IpRunner} [ip]  runs `ip` (default: the real one)
 * @property {(msg: string) => void} log
 * @property {string} [traceDir]         each run's client requests go to TRACEDIR/trace-LAB-FAULT-ROUND.json
 */

/**
 * Calls `fn` every `intervalMs` until it returns something truthy (a throw is "not yet");
 * throws after `timeoutMs`, naming `what` and the last error.
 * @template T
 * @param {string} what
 * @param {() => Promise<T | null | undefined | false>} fn
 * @param {number} timeoutMs
 * @param {number} [intervalMs]
 * @returns {Promise<T>}
 */
export async function until(what, fn, timeoutMs, intervalMs = 500) {
  const end = performance.now() + timeoutMs;
  let last;
  while (performance.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** @param {unknown} e */
const msg = (e) => (e instanceof Error ? e.message : String(e));

/** See the module comment. */
/**
 * A run's client requests (ms from the fault: sent, answered, what) and its failover's steps,
 * for reading a timeline after the fact.
 * @param {string} file
 * @param {number} faultAt
 * @param {FailoverRecord | null} fo
 * @param {{ acks: { line: string, sentAt: number, at: number }[], failures: { sentAt: number, at: number, what: string }[] }} client
 */
function writeTrace(file, faultAt, fo, client) {
  const rel = (/** @type {number} */ t) => Math.round((t - faultAt) * 10) / 10;
  const requests = [
    ...client.acks.map((a) => ({ sent: rel(a.sentAt), at: rel(a.at), what: 'ok' })),
    ...client.failures.map((f) => ({ sent: rel(f.sentAt), at: rel(f.at), what: f.what })),
  ].sort((a, b) => a.sent - b.sent);
  const steps = (fo?.steps ?? []).map((s) => ({ name: s.name, started: rel(s.startedAt), ended: s.endedAt === null ? null : rel(s.endedAt), ok: s.ok }));
  writeFileSync(file, `${JSON.stringify({ faultAt, failover: fo?.id ?? null, steps, requests }, null, 1)}\n`);
}

export class LabSession {
  /** Failovers the runs (and recoveries) caused; any other one started with no fault injected. */
  ours = new Set();
  /** @type {Map<string, { id: string, state: string, reason: string, startedAt: number }>} */
  unexpected = new Map();
  /** @type {string[]} every record acknowledged in this lab */
  acked = [];

  /**
   * @param {LabUp & { traffic: string }} up
   * @param {Set<string>} before  failovers recorded when the session opened
   * @param {SessionOptions} o
   */
  constructor(up, before, o) {
    this.up = up;
    this.traffic = up.traffic;
    this.api = serverApi(up);
    this.before = before;
    this.o = o;
    const stateDir = o.env.UMBRA_STATE_DIR;
    /** What the faults need of the lab. @type {FaultContext} */
    this.faultCtx = {
      vmId: VM,
      api: this.api,
      traffic: this.traffic,
      ip: o.ip ?? ipRunner(),
      linkOf: (host) => {
        if (!stateDir) throw new Error('UMBRA_STATE_DIR is not set: the lab\'s state file cannot be found');
        return hostLink(stateDir, host);
      },
      linksDown: o.linksDown,
    };
  }

  /**
   * A session on a lab that is up.
   * @param {LabUp} up
   * @param {SessionOptions} o
   */
  static async open(up, o) {
    if (!up.traffic) throw new Error('umbra lab up printed no traffic URL (HAProxy)');
    const s = new LabSession({ ...up, traffic: up.traffic }, new Set(), o);
    for (const f of await s.failovers()) s.before.add(f.id);
    return s;
  }

  /** @returns {Promise<FailoverRecord[]>} vm1's failovers, newest first */
  async failovers() {
    return /** @type {{ failovers: FailoverRecord[] }} */ (await this.api('GET', `/v1/failovers?vm=${VM}&limit=1000`)).failovers;
  }

  /** vm1 as `umbra status --json` shows it (the primary), or undefined. */
  async primaryView() {
    return (await statusReport(this.o.env)).vms.find((v) => v.id === VM && v.role === 'primary');
  }

  /** Notes failovers neither recorded at the start nor caused by a run. @param {readonly FailoverRecord[]} fos */
  noteUnexpected(fos) {
    for (const f of fos) {
      if (this.unexpected.has(f.id) || (!this.before.has(f.id) && !this.ours.has(f.id))) this.unexpected.set(f.id, { id: f.id, state: f.state, reason: f.reason, startedAt: f.startedAt });
    }
  }

  /**
   * After a fault that did not fail over and could not be undone (a crashed primary), or whose
   * undoing did not bring the primary back within 15 s: a manual failover (what an operator
   * would do), retried while it does not end `done`, so the next runs have a primary.
   * Returns what was done, or null when the primary runs.
   * @param {{ pid: number }} old
   * @returns {Promise<string | null>}
   */
  async recover(old) {
    const running = async () => (await this.primaryView())?.state === 'running' && (await answers200(`${this.traffic}/health`));
    if (pidAlive(old.pid) && (await until('the primary running again', running, 15_000, 500).catch(() => false))) return null;
    if (!pidAlive(old.pid) && (await running().catch(() => false))) return null;
    const end = performance.now() + 120_000;
    let last = '';
    while (performance.now() < end) {
      /** @type {{ decision?: { kind: string, why?: string }, failover?: FailoverRecord, error?: string }} */
      const r = await this.api('POST', `/v1/vms/${VM}/failover`, {}, 300_000).catch((e) => ({ error: msg(e) }));
      if (r.failover) {
        this.ours.add(r.failover.id);
        if (r.failover.state === 'done') return `recovered by a manual failover (${r.failover.id}, to ${r.failover.toHost})`;
        last = whyNot(r.failover, [], '');
      } else last = r.error ?? `${r.decision?.kind}: ${r.decision?.why}`;
      if (await running().catch(() => false)) return `recovered by a manual failover (its record: ${last})`;
      await sleep(2000);
    }
    return `not recovered: ${last}`;
  }

  /**
   * One run of fault `fault`.
   * @param {FaultKind} fault
   * @param {number} round
   * @returns {Promise<RunResult>}
   */
  async run(fault, round) {
    const { o, api, traffic } = this;
    // 1. vm1 ready: no failover running, quiet since the last one, a synchronized shadow,
    // traffic answering, a running primary with a pid.
    const ready = await until(
      `${VM} ready (no failover running, ${o.quietS} s quiet, a synchronized, ready shadow, traffic answering)`,
      async () => {
        const fos = await this.failovers();
        this.noteUnexpected(fos);
        if (fos.some((f) => f.state === 'running')) return false;
        const lastEnd = Math.max(0, ...fos.map((f) => f.endedAt ?? 0));
        if (epochMs() - lastEnd < o.quietS * 1000) return false;
        const { shadows } = /** @type {{ shadows: { phase: string, status: { sync: string, vm: { ready?: boolean } | null } }[] }} */ (await api('GET', `/v1/vms/${VM}/shadows`));
        // Synchronized and ready: its standby guest booted (else the promotion waits for the boot).
        if (!shadows.some((s) => s.phase === 'active' && s.status.sync === 'synchronized' && s.status.vm?.ready !== false)) return false;
        if (!(await answers200(`${traffic}/health`))) return false;
        const vm = await this.primaryView();
        if (!vm || vm.state !== 'running' || !vm.pid || !vm.endpoint) return false;
        return { known: new Set(fos.map((f) => f.id)), vm: { host: vm.host, pid: vm.pid, endpoint: vm.endpoint } };
      },
      READY_TIMEOUT_MS,
      1000,
    );
    const primary = { pid: ready.vm.pid, endpoint: ready.vm.endpoint, host: ready.vm.host };

    // 2. the client, until it has a few acknowledgements.
    const client = startAppender(traffic, { tag: `bf${process.pid}-${o.lab}-${fault}-${round}`, periodMs: o.periodMs, maxInFlight: o.maxInFlight });
    try {
      await until('appends acknowledged before the fault', async () => client.acks.length >= ACKS_AROUND, 30_000, 100);
    } catch (e) {
      await client.stop();
      throw e;
    }

    // 3. the fault.
    if (fault === 'hang') o.stoppedPids.add(primary.pid);
    /** @type {import('./faults.mjs').Injected} */
    let inj;
    try {
      inj = await inject(fault, primary, this.faultCtx);
    } catch (e) {
      await client.stop();
      throw e;
    }
    /** The manual failover's answer (planned), once it came. @type {{ value: { decision?: { kind: string, why?: string }, error?: string } | null }} */
    const manual = { value: null };
    inj.pending?.then(
      (v) => (manual.value = /** @type {{ decision?: { kind: string, why?: string } }} */ (v)),
      (e) => (manual.value = { error: msg(e) }),
    );

    // 4. the new failover record, until it ends.
    /** @type {FailoverRecord | null} */
    let fo = null;
    const deadline = inj.at + o.recoveryTimeoutS * 1000;
    const fresh = async () => (await this.failovers().catch(() => [])).filter((f) => !ready.known.has(f.id)).sort((a, b) => a.startedAt - b.startedAt)[0];
    while (epochMs() < deadline) {
      const f = await fresh();
      if (f) {
        fo = f;
        if (f.state !== 'running') break;
      } else if (manual.value && (manual.value.error || manual.value.decision?.kind !== 'failover')) break; // the manual failover did not start
      await sleep(200);
    }
    /** @type {string[]} */
    const notes = [];
    if (inj.pending && fo && fo.state !== 'running') {
      // A manual failover: its request drives the record; read it again once the request ended.
      await Promise.race([inj.pending.catch(() => undefined), sleep(Math.max(0, deadline - epochMs()), undefined, { ref: false })]);
      const again = await fresh();
      if (again && again.id === fo.id && again.state !== fo.state) {
        notes.push(`the record read ${fo.state}${fo.state === 'failed' ? ` at ${fo.steps.at(-1)?.name}` : ''} first, then ${again.state} once the request ended`);
        fo = again;
      }
    }
    // Once the failover ended (or was given up on): a lost host's link up again (first thing:
    // it must not stay down), an overload moved by live migration stopped.
    const after = await afterFailover(fault, { done: fo?.state === 'done', path: fo?.path ?? null }, this.faultCtx).catch((e) => `failed: ${msg(e)}`);
    /** @type {RunResult['outcome']} */
    let outcome = 'failed-over';
    /** @type {string | null} */
    let why = null;
    if (!fo || fo.state !== 'done') {
      outcome = 'not-failed-over';
      const alerts = /** @type {{ alerts: { kind: string, summary: string, state: string }[] }} */ (await api('GET', `/v1/alerts?vm=${VM}`).catch(() => ({ alerts: [] }))).alerts.filter((a) => a.state === 'firing');
      const m = manual.value;
      const waited = fo
        ? `failover ${fo.id} still running after ${o.recoveryTimeoutS} s, at ${fo.steps.at(-1)?.name ?? 'its start'}`
        : m?.error
          ? `the manual failover request failed: ${m.error}`
          : m?.decision && m.decision.kind !== 'failover'
            ? `the manual failover was ${m.decision.kind}: ${m.decision.why}`
            : `no failover started within ${o.recoveryTimeoutS} s`;
      const seen = await this.primaryView().catch(() => null);
      why = whyNot(fo, alerts, `${waited}${seen ? ` (umbra status: ${VM} ${seen.state} on ${seen.host}${seen.pid ? `, pid ${seen.pid}` : ''})` : ''}`);
    } else {
      const endedAt = /** @type {number} */ (fo.endedAt);
      const back = await until('appends acknowledged after the failover', async () => client.acks.filter((a) => a.at > endedAt).length >= ACKS_AROUND, 30_000, 100).catch(() => false);
      if (!back) {
        outcome = 'no-recovery';
        why = `the failover ended done but only ${client.acks.filter((a) => a.at > endedAt).length} appends were acknowledged within 30 s after it`;
      }
    }
    await client.stop();
    if (fo) this.ours.add(fo.id);

    // 5. the old primary: gone after a failover (retire_old); a fault that did not fail over is
    // undone, and a primary that does not come back is replaced by a manual failover.
    let oldPidAlive = false;
    /** @type {number | null} */
    let oldGoneByMs = null;
    /** @type {string | null} */
    let undone = null;
    if (fo?.state === 'done') {
      oldPidAlive = !(await until('the old QEMU gone', async () => !pidAlive(primary.pid), oldQemuGraceMs(fault), 100).catch(() => false));
      if (!oldPidAlive && fo.endedAt !== null) oldGoneByMs = Math.max(0, epochMs() - fo.endedAt);
      if (oldPidAlive) {
        process.kill(primary.pid, 'SIGKILL'); // never two copies: the fenced one must not run again
        undone = `the old QEMU ${primary.pid} was still there after the failover: SIGKILLed`;
      }
    } else {
      undone = await undo(fault, primary, this.faultCtx);
      const rec = await this.recover(primary);
      if (rec) undone = undone ? `${undone}; ${rec}` : rec;
    }
    o.stoppedPids.delete(primary.pid); // gone, killed or continued

    // 6. what was lost (through the traffic URL, once it answers again).
    const lines = client.acks.map((a) => a.line);
    this.acked.push(...lines);
    /** @type {string[] | null} */
    let missing = null;
    try {
      const text = await until('the log', async () => {
        const r = await fetch(`${traffic}/log`, { signal: AbortSignal.timeout(30_000) });
        return r.status === 200 ? r.text() : null;
      }, 30_000);
      missing = missingLines(lines, text);
    } catch {
      // reported as unread
    }

    if (o.traceDir) writeTrace(join(o.traceDir, `trace-${o.lab}-${fault}-${round}.json`), inj.at, fo, client);
    const out = fo && outcome === 'failed-over' ? outage(client.acks.map((a) => a.at), inj.at, fo.endedAt) : null;
    const phases = fo ? failoverPhases(fo, inj.at) : null;
    return {
      lab: o.lab,
      flavor: o.flavor,
      fault,
      round,
      outcome,
      why,
      note: notes.length ? notes.join('; ') : null,
      faultDetail: inj.detail,
      faultAt: inj.at,
      failoverEndedAt: fo?.endedAt ?? null,
      fromHost: ready.vm.host,
      toHost: fo?.state === 'done' ? fo.toHost : null,
      failoverId: fo?.id ?? null,
      path: fo?.path ?? null,
      reason: fo?.reason ?? null,
      dataLossBoundSeconds: fo?.dataLossBoundSeconds ?? null,
      gapMs: out?.gapMs ?? null,
      faultToFirstGoodMs: out?.faultToFirstGoodMs ?? null,
      detectMs: phases?.detectMs ?? null,
      pipelineMs: phases?.pipelineMs ?? null,
      faultToTrafficMs: phases?.faultToTrafficMs ?? null,
      steps: fo ? stepTimings(fo.steps) : [],
      acked: lines.length,
      failedRequests: countFailures(client.failures),
      lost: missing?.length ?? null,
      lostSample: (missing ?? []).slice(0, 5),
      oldPidAlive,
      oldGoneByMs,
      after,
      undo: undone,
    };
  }

  /**
   * Every record acknowledged in this lab against its final log, and the failovers that
   * started with no fault injected.
   * @returns {Promise<{ acked: number, missing: number | null, sample: string[] }>}
   */
  async finish() {
    this.noteUnexpected(await this.failovers().catch(() => []));
    try {
      const text = await until('the final log', async () => {
        const r = await fetch(`${this.traffic}/log`, { signal: AbortSignal.timeout(30_000) });
        return r.status === 200 ? r.text() : null;
      }, 60_000);
      const missing = missingLines(this.acked, text);
      return { acked: this.acked.length, missing: missing.length, sample: missing.slice(0, 5) };
    } catch (e) {
      this.o.log(`the final log could not be read: ${msg(e)}`);
      return { acked: this.acked.length, missing: null, sample: [] };
    }
  }
}
