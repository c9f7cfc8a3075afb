// @ts-check
/**
 * The failover benchmark (npm run bench:failover): per shadow flavor (warm, then migrate), a lab
 * (3 hosts, vm1 with a shadow of that flavor in sync mode, HAProxy in front), then per fault and
 * round: a client appending records through HAProxy, the fault injected into the primary, the
 * failover awaited, the client-visible gap and the acknowledged records lost measured. Writes
 * ONE report with both flavors: bench/results/failover.md and failover.json.
 *
 * By default ONE lab per flavor serves every run of that flavor: vm1 fails over again and again
 * (each failover moves it to another host, and the shadow manager gives it a new shadow before
 * the next run). The flavors run one after the other (only one lab can run on a machine). With
 * --lab-per-run each run gets a fresh lab, so every failover is the first one of a VM that was
 * created as a primary (slower: a lab up and down per run).
 *
 * Usage: node bench/failover/harness.mjs [--runs 5] [--flavors warm,migrate]
 *          [--faults LIST] [--faults-warm LIST] [--faults-migrate LIST]
 *          [--criteria TEXT] [--hosts 3] [--interval 2s] [--period-ms 20] [--in-flight 64]
 *          [--quiet 12] [--recovery-timeout 45] [--max-failures 2] [--lab-per-run]
 *          [--out DIR] [--name failover] [--keep] [--peer-rounds 5]
 *   --runs              rounds per flavor; each runs every fault of the flavor once (the issue asks for at least 5)
 *   --flavors           which shadow flavors, in this order (default warm,migrate): one lab each
 *   --faults            which faults, in this order within a round, for every flavor
 *   --faults-warm       the warm lab's faults (default kill,panic,hang,5xx,cpu,lost-host,planned)
 *   --faults-migrate    the migrate lab's faults (default kill,cpu,planned): over --faults
 *   --criteria          the policy's failover_criteria (default: policy.mjs BENCH_CRITERIA)
 *   --hosts             lab hosts (at least 2: the shadow lives on another host)
 *   --interval          the agents' sampling interval
 *   --period-ms         the client starts an append this often ...
 *   --in-flight         ... while fewer than this many are outstanding
 *   --quiet             seconds after a failover ended before the next fault
 *   --recovery-timeout  seconds a fault may take to be failed over
 *   --max-failures      a (flavor, fault) that does not fail over this many times is given up
 *   --lab-per-run       a fresh lab for every run
 *   --out, --name       the results go to OUT/NAME.md and OUT/NAME.json (default bench/results/failover)
 *   --keep              keep the temporary folder (policies, copies of the labs' logs, each run's client requests in trace-LAB-FAULT-ROUND.json)
 *   --peer-rounds       with a migrate lab: live migrations of the same guest by QEMU alone (qemu-alone.mjs), after the labs; 0: none
 *
 * Before it starts, it estimates how long it will take from the pace per run of the previous
 * OUT/NAME.json (where it ran the same flavor and fault; plan.mjs guesses the others), logs it
 * and puts it in the report's header.
 *
 * Needs root (the lab, `ip link`). Only one lab can run on a machine (fixed namespace names). The
 * lab is taken down at the end, on failure, and on SIGINT/SIGTERM; a QEMU this benchmark stopped
 * (SIGSTOP) is continued and a host link it set down is set up first. A fault that did not fail
 * over is undone (SIGCONT, the guest's fault mode cleared, its load stopped, the link up) or,
 * when the primary does not come back, replaced by a manual failover.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine, loadNow } from '../vm/machine.mjs';
import { ipRunner, restoreLinks } from './faults.mjs';
import { labDown, labUp } from './lab.mjs';
import { estimate, faultPlan, paceOf, parseFlavors } from './plan.mjs';
import { BENCH_CRITERIA, benchPolicy } from './policy.mjs';
import { renderReport, summarizeFault } from './report.mjs';
import { qemuAlone } from './qemu-alone.mjs';
import { LabSession } from './session.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');

/** @param {string} msg */
const log = (msg) => process.stderr.write(`[bench:failover] ${msg}\n`);

/** @typedef {import('./report.mjs').RunResult} RunResult */
/** @typedef {import('./faults.mjs').FaultKind} FaultKind */
/** @typedef {import('./targets.mjs').Flavor} Flavor */

function options() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      flavors: { type: 'string', default: 'warm,migrate' },
      faults: { type: 'string' },
      'faults-warm': { type: 'string' },
      'faults-migrate': { type: 'string' },
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
      'peer-rounds': { type: 'string', default: '5' },
    },
  });
  const int = (/** @type {string} */ name, /** @type {string} */ v, /** @type {number} */ min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be a whole number ≥ ${min}, got ${v}`);
    return n;
  };
  return {
    runs: int('runs', values.runs, 1),
    plan: faultPlan(parseFlavors(values.flavors), { faults: values.faults, warm: values['faults-warm'], migrate: values['faults-migrate'] }),
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
    peerRounds: int('peer-rounds', values['peer-rounds'], 0),
  };
}

/**
 * The pace per run and the lab up time of an earlier result (OUT/NAME.json), for the estimate;
 * nothing when there is none or it cannot be read.
 * @param {string} file
 * @returns {{ pace?: Map<string, number>, labS?: number }}
 */
function previousPace(file) {
  try {
    /** @type {{ runs?: import('./plan.mjs').PastRun[], lab?: { upS?: number[], labs?: number | { upS: number }[] } }} */
    const prev = JSON.parse(readFileSync(file, 'utf8'));
    const ups = Array.isArray(prev.lab?.labs) ? prev.lab.labs.map((l) => l.upS) : (prev.lab?.upS ?? []);
    // Lab down (QEMUs stopped, namespaces removed) takes about as long again as a warm lab up.
    return { pace: paceOf(prev.runs ?? []), ...(ups.length ? { labS: 2 * (ups.reduce((a, b) => a + b, 0) / ups.length) + 10 } : {}) };
  } catch {
    return {};
  }
}

async function main() {
  const o = options();
  const t0 = performance.now();
  const machine = describeMachine(new Date());
  const est = estimate(o.plan, o.runs, { ...previousPace(join(o.out, `${o.name}.json`)), labPerRun: o.labPerRun });
  log(`${machine.nproc} cores (${machine.cpuModel}), load ${machine.loadStart.join(' ')}; ${o.plan.map((p) => `${p.flavor}: ${p.faults.join(', ')}`).join('; ')} × ${o.runs} rounds${o.labPerRun ? ', a fresh lab per run' : ', one lab per flavor'}`);
  log(`estimated ~${Math.round(est.totalS / 60)} min (${Object.entries(est.perFlavorS).map(([k, v]) => `${k} ${Math.round(v / 60)} min`).join(', ')}; guessed pace for ${est.guessed.join(', ') || 'none'})`);

  const tmp = mkdtempSync('/tmp/ubf-'); // the labs' state dir: short (QMP socket paths < 108 bytes)
  /** @type {Record<string, string>} */
  const policies = {};
  for (const { flavor } of o.plan) {
    policies[flavor] = benchPolicy({ criteria: o.criteria, flavor });
    writeFileSync(join(tmp, `policy-${flavor}.yaml`), policies[flavor]);
  }
  const env = { ...process.env, UMBRA_STATE_DIR: tmp };
  /** @type {Set<number>} */
  const stoppedPids = new Set();
  /** @type {Set<string>} */
  const linksDown = new Set();
  const ip = ipRunner();
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
    for (const l of restoreLinks(linksDown, ip)) log(l);
  };
  const down = () => {
    continueStopped();
    if (!labUpNow) return;
    labUpNow = false;
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
  /** `flavor/fault` given up. @type {Set<string>} */
  const gaveUp = new Set();
  /** @type {Map<string, number>} */
  const failures = new Map();
  /** @type {{ no: number, flavor: Flavor, upS: number }[]} */
  const labs = [];
  /** @type {string | null} */
  let traffic = null;
  /** @type {import('./report.mjs').FailoverBenchResult['unexpected']} */
  const unexpected = [];
  const finalLog = { acked: 0, missing: /** @type {number | null} */ (0), sample: /** @type {string[]} */ ([]) };
  /** @type {string | null} */
  let aborted = null;

  /** Brings a lab of `flavor` up and opens a session on it. @param {Flavor} flavor */
  const open = async (flavor) => {
    labNo++;
    log(`lab ${labNo} up (${o.hosts} hosts, vm1 protected by a ${flavor} shadow in sync mode, HAProxy in front)`);
    labUpNow = true; // from here on, whatever was created is recorded for lab down
    const tu = performance.now();
    const up = await labUp({ hosts: o.hosts, policy: join(tmp, `policy-${flavor}.yaml`), interval: o.interval }, { env, onStderr: (l) => log(`lab: ${l.replace(/^umbra lab: /, '')}`) });
    labs.push({ no: labNo, flavor, upS: (performance.now() - tu) / 1000 });
    traffic = up.traffic;
    return LabSession.open(up, { env, lab: labNo, flavor, quietS: o.quietS, recoveryTimeoutS: o.recoveryTimeoutS, periodMs: o.periodMs, maxInFlight: o.maxInFlight, stoppedPids, linksDown, ip, log, traceDir: o.keep ? tmp : undefined });
  };
  /** Checks the lab's final log, notes its unexpected failovers, takes it down. @param {LabSession} s */
  const close = async (s) => {
    const fl = await s.finish();
    finalLog.acked += fl.acked;
    finalLog.missing = fl.missing === null || finalLog.missing === null ? null : finalLog.missing + fl.missing;
    finalLog.sample.push(...fl.sample.slice(0, 5 - finalLog.sample.length));
    unexpected.push(...[...s.unexpected.values()].map((u) => ({ ...u, lab: s.o.lab, flavor: s.o.flavor })));
    down();
  };

  try {
    for (const { flavor, faults } of o.plan) {
      /** @type {LabSession | null} */
      let session = null;
      for (let round = 1; round <= o.runs; round++) {
        for (const fault of faults) {
          const key = `${flavor}/${fault}`;
          if (gaveUp.has(key)) continue;
          session ??= await open(flavor);
          const r = await session.run(fault, round);
          runs.push(r);
          const f = (/** @type {number | null} */ x) => (x === null ? '—' : Math.round(x));
          if (r.outcome === 'failed-over') {
            log(`${flavor} ${fault} round ${round}: ${r.fromHost} → ${r.toHost} (${r.path}): gap ${f(r.gapMs)} ms, fault → first good ${f(r.faultToFirstGoodMs)} ms (detect ${f(r.detectMs)}, pipeline ${f(r.pipelineMs)}), ${r.acked} acked, ${r.lost ?? 'unread'} lost${r.after ? `; after: ${r.after}` : ''}${r.note ? `; ${r.note}` : ''}`);
          } else {
            log(`${flavor} ${fault} round ${round}: ${r.outcome}: ${r.why}${r.undo ? ` (then: ${r.undo})` : ''}`);
            const n = (failures.get(key) ?? 0) + 1;
            failures.set(key, n);
            if (n >= o.maxFailures) {
              gaveUp.add(key);
              log(`${flavor} ${fault}: did not fail over ${n} times: given up`);
            }
          }
          if (o.labPerRun) {
            await close(session);
            session = null;
          }
        }
      }
      if (session) await close(session);
    }
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

  // The peer of the live-migration rows, once the labs are down (nothing else of ours runs).
  /** @type {import('./report.mjs').PeerResult | null} */
  let peer = null;
  if (o.peerRounds > 0 && o.plan.some((p) => p.flavor === 'migrate') && !aborted) {
    const dir = mkdtempSync('/tmp/ubp-');
    /** @type {import('./qemu-alone.mjs').PeerRound[]} */
    const rounds = [];
    try {
      const r = await qemuAlone({ rounds: o.peerRounds, dir, log, onRound: (x) => rounds.push(x) });
      peer = { accel: r.accel, rounds: r.rounds, error: null };
    } catch (e) {
      peer = { accel: 'tcg', rounds, error: e instanceof Error ? e.message : String(e) };
      log(`QEMU alone stopped: ${peer.error}`);
    }
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
      plan: o.plan,
      labPerRun: o.labPerRun,
      hosts: o.hosts,
      interval: o.interval,
      periodMs: o.periodMs,
      maxInFlight: o.maxInFlight,
      quietS: o.quietS,
      recoveryTimeoutS: o.recoveryTimeoutS,
      maxFailures: o.maxFailures,
      criteria: o.criteria,
      policies,
      accel: 'tcg (tb-size=32), as the lab agents probe it',
      estimate: est,
    },
    lab: { labs, traffic },
    runs,
    faults: o.plan.flatMap((p) => p.faults.map((f) => summarizeFault(p.flavor, f, runs, gaveUp.has(`${p.flavor}/${f}`)))),
    unexpected,
    finalLog,
    aborted,
    peer,
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
