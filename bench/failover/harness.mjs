// @ts-check
/**
 * The failover benchmark (npm run bench:failover): a lab (3 hosts, vm1 with a warm shadow in
 * sync mode, HAProxy in front), then per fault and round: a client appending records through
 * HAProxy, the fault injected into the primary, the failover awaited, the client-visible gap and
 * the acknowledged records lost measured. Writes bench/results/failover.md and failover.json.
 *
 * By default ONE lab serves every run: vm1 fails over again and again (each failover moves it to
 * another host, and the shadow manager gives it a new shadow before the next run). With
 * --lab-per-run each run gets a fresh lab, so every failover is the first one of a VM that was
 * created as a primary (slower: a lab up and down per run).
 *
 * Usage: node bench/failover/harness.mjs [--runs 5] [--faults kill,panic,hang,5xx,planned]
 *          [--criteria TEXT] [--hosts 3] [--interval 2s] [--period-ms 20] [--in-flight 64]
 *          [--quiet 12] [--recovery-timeout 45] [--max-failures 2] [--lab-per-run]
 *          [--out DIR] [--name failover] [--keep]
 *   --runs              rounds; each runs every fault once (the issue asks for at least 5)
 *   --faults            which faults, in this order within a round
 *   --criteria          the policy's failover_criteria (default: policy.mjs BENCH_CRITERIA)
 *   --hosts             lab hosts (at least 2: the shadow lives on another host)
 *   --interval          the agents' sampling interval
 *   --period-ms         the client starts an append this often ...
 *   --in-flight         ... while fewer than this many are outstanding
 *   --quiet             seconds after a failover ended before the next fault
 *   --recovery-timeout  seconds a fault may take to be failed over
 *   --max-failures      a fault kind that does not fail over this many times is given up
 *   --lab-per-run       a fresh lab for every run
 *   --out, --name       the results go to OUT/NAME.md and OUT/NAME.json (default bench/results/failover)
 *   --keep              keep the temporary folder (policy, copies of the labs' logs)
 *
 * Needs root (the lab). Only one lab can run on a machine (fixed namespace names). The lab is
 * taken down at the end, on failure, and on SIGINT/SIGTERM; a QEMU this benchmark stopped
 * (SIGSTOP) is continued first. A fault that did not fail over is undone (SIGCONT, the guest's
 * fault mode cleared) or, when the primary does not come back, replaced by a manual failover.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine, loadNow } from '../vm/machine.mjs';
import { parseFaults } from './faults.mjs';
import { labDown, labUp } from './lab.mjs';
import { BENCH_CRITERIA, benchPolicy } from './policy.mjs';
import { renderReport, summarizeFault } from './report.mjs';
import { LabSession } from './session.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');

/** @param {string} msg */
const log = (msg) => process.stderr.write(`[bench:failover] ${msg}\n`);

/** @typedef {import('./report.mjs').RunResult} RunResult */
/** @typedef {import('./faults.mjs').FaultKind} FaultKind */

function options() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      faults: { type: 'string', default: 'kill,panic,hang,5xx,planned' },
      criteria: { type: 'string', default: BENCH_CRITERIA },
      hosts: { type: 'string', default: '3' },
      interval: { type: 'string', default: '2s' },
      'period-ms': { type: 'string', default: '20' },
      'in-flight': { type: 'string', default: '64' },
      quiet: { type: 'string', default: '12' },
      'recovery-timeout': { type: 'string', default: '45' },
      'max-failures': { type: 'string', default: '2' },
      out: { type: 'string', default: join(REPO, 'bench', 'results') },
      'lab-per-run': { type: 'boolean', default: false },
      name: { type: 'string', default: 'failover' },
      keep: { type: 'boolean', default: false },
    },
  });
  const int = (/** @type {string} */ name, /** @type {string} */ v, /** @type {number} */ min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be a whole number ≥ ${min}, got ${v}`);
    return n;
  };
  return {
    runs: int('runs', values.runs, 1),
    faults: parseFaults(values.faults),
    criteria: values.criteria,
    hosts: int('hosts', values.hosts, 2),
    interval: values.interval,
    periodMs: int('period-ms', values['period-ms'], 1),
    maxInFlight: int('in-flight', values['in-flight'], 1),
    quietS: int('quiet', values.quiet, 0),
    recoveryTimeoutS: int('recovery-timeout', values['recovery-timeout'], 5),
    maxFailures: int('max-failures', values['max-failures'], 1),
    out: resolve(values.out),
    labPerRun: values['lab-per-run'],
    name: values.name,
    keep: values.keep,
  };
}

async function main() {
  const o = options();
  const t0 = performance.now();
  const machine = describeMachine(new Date());
  log(`${machine.nproc} cores (${machine.cpuModel}), load ${machine.loadStart.join(' ')}; faults ${o.faults.join(', ')} × ${o.runs} rounds${o.labPerRun ? ', a fresh lab per run' : ', one lab'}`);

  const tmp = mkdtempSync('/tmp/ubf-'); // the labs' state dir: short (QMP socket paths < 108 bytes)
  const policyText = benchPolicy({ criteria: o.criteria });
  const policyFile = join(tmp, 'policy.yaml');
  writeFileSync(policyFile, policyText);
  const env = { ...process.env, UMBRA_STATE_DIR: tmp };
  /** @type {Set<number>} */
  const stoppedPids = new Set();
  let labNo = 0;
  let labUpNow = false;
  const continueStopped = () => {
    for (const pid of stoppedPids) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    stoppedPids.clear();
  };
  const down = () => {
    if (!labUpNow) return;
    labUpNow = false;
    continueStopped();
    if (o.keep && existsSync(join(tmp, 'lab', 'logs'))) cpSync(join(tmp, 'lab', 'logs'), join(tmp, `logs-${labNo}`), { recursive: true });
    log(`lab ${labNo} down`);
    const d = labDown(env);
    if (d.code !== 0) log(`umbra lab down exited ${d.code}: ${d.err.trim().split('\n').slice(-5).join(' | ')}`);
  };
  const onSignal = () => {
    log('interrupted');
    down();
    if (!o.keep) rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  /** @type {RunResult[]} */
  const runs = [];
  /** @type {Set<FaultKind>} */
  const gaveUp = new Set();
  const failures = new Map(o.faults.map((f) => [f, 0]));
  /** @type {number[]} */
  const upS = [];
  /** @type {string | null} */
  let traffic = null;
  /** @type {import('./report.mjs').FailoverBenchResult['unexpected']} */
  const unexpected = [];
  const finalLog = { acked: 0, missing: /** @type {number | null} */ (0), sample: /** @type {string[]} */ ([]) };
  /** @type {string | null} */
  let aborted = null;

  /** Brings a lab up and opens a session on it. */
  const open = async () => {
    labNo++;
    log(`lab ${labNo} up (${o.hosts} hosts, vm1 protected by a warm shadow in sync mode, HAProxy in front)`);
    labUpNow = true; // from here on, whatever was created is recorded for lab down
    const tu = performance.now();
    const up = await labUp({ hosts: o.hosts, policy: policyFile, interval: o.interval }, { env, onStderr: (l) => log(`lab: ${l.replace(/^umbra lab: /, '')}`) });
    upS.push((performance.now() - tu) / 1000);
    traffic = up.traffic;
    return LabSession.open(up, { env, lab: labNo, quietS: o.quietS, recoveryTimeoutS: o.recoveryTimeoutS, periodMs: o.periodMs, maxInFlight: o.maxInFlight, stoppedPids, log });
  };
  /** Checks the lab's final log, notes its unexpected failovers, takes it down. @param {LabSession} s */
  const close = async (s) => {
    const fl = await s.finish();
    finalLog.acked += fl.acked;
    finalLog.missing = fl.missing === null || finalLog.missing === null ? null : finalLog.missing + fl.missing;
    finalLog.sample.push(...fl.sample.slice(0, 5 - finalLog.sample.length));
    unexpected.push(...[...s.unexpected.values()].map((u) => ({ ...u, lab: s.o.lab })));
    down();
  };

  try {
    /** @type {LabSession | null} */
    let session = null;
    for (let round = 1; round <= o.runs; round++) {
      for (const fault of o.faults) {
        if (gaveUp.has(fault)) continue;
        session ??= await open();
        const r = await session.run(fault, round);
        runs.push(r);
        const f = (/** @type {number | null} */ x) => (x === null ? '—' : Math.round(x));
        if (r.outcome === 'failed-over') {
          log(`${fault} round ${round}: ${r.fromHost} → ${r.toHost} (${r.path}): gap ${f(r.gapMs)} ms, fault → first good ${f(r.faultToFirstGoodMs)} ms (detect ${f(r.detectMs)}, pipeline ${f(r.pipelineMs)}), ${r.acked} acked, ${r.lost ?? 'unread'} lost${r.note ? `; ${r.note}` : ''}`);
        } else {
          log(`${fault} round ${round}: ${r.outcome}: ${r.why}${r.undo ? ` (then: ${r.undo})` : ''}`);
          const n = (failures.get(fault) ?? 0) + 1;
          failures.set(fault, n);
          if (n >= o.maxFailures) {
            gaveUp.add(fault);
            log(`${fault}: did not fail over ${n} times: given up`);
          }
        }
        if (o.labPerRun) {
          await close(session);
          session = null;
        }
      }
    }
    if (session) await close(session);
  } catch (e) {
    aborted = e instanceof Error ? e.message : String(e);
    log(`stopped: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  } finally {
    down();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (o.keep) log(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }

  if (runs.length === 0) {
    log('nothing measured: no report written');
    process.exitCode = 1;
    return;
  }
  machine.loadEnd = loadNow();
  /** @type {import('./report.mjs').FailoverBenchResult} */
  const result = {
    machine,
    totalS: (performance.now() - t0) / 1000,
    config: {
      runs: o.runs,
      faults: o.faults,
      labPerRun: o.labPerRun,
      hosts: o.hosts,
      interval: o.interval,
      periodMs: o.periodMs,
      maxInFlight: o.maxInFlight,
      quietS: o.quietS,
      recoveryTimeoutS: o.recoveryTimeoutS,
      maxFailures: o.maxFailures,
      policy: policyText,
      accel: 'tcg (tb-size=32), as the lab agents probe it',
    },
    lab: { labs: labNo, upS, traffic },
    runs,
    faults: o.faults.map((f) => summarizeFault(f, runs, gaveUp.has(f))),
    unexpected,
    finalLog,
    aborted,
  };
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, `${o.name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(o.out, `${o.name}.md`), renderReport(result));
  log(`wrote ${join(o.out, `${o.name}.md`)} and ${o.name}.json`);
  if (aborted) process.exitCode = 1;
}

main().catch((e) => {
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
});
