// @ts-check
/**
 * The failover benchmark's figures per fault, and bench/results/failover.md from them. Pure.
 */
import { machineTable } from '../vm/machine.mjs';
import { summarize } from '../vm/stats.mjs';
import { TARGETS } from './faults.mjs';

/** @typedef {import('../vm/stats.mjs').Summary} Summary */
/** @typedef {import('../vm/machine.mjs').Machine} Machine */
/** @typedef {import('./faults.mjs').FaultKind} FaultKind */
/** @typedef {import('./measure.mjs').StepTiming} StepTiming */

/**
 * @typedef {object} RunResult  one fault injection
 * @property {number} lab                   1-based number of the lab it ran in
 * @property {FaultKind} fault
 * @property {number} round                 1-based
 * @property {'failed-over' | 'not-failed-over' | 'no-recovery'} outcome
 *   `no-recovery`: the failover ended `done` but the client got no good answer afterwards
 * @property {string | null} why            why not (outcome other than failed-over)
 * @property {string | null} note           something odd seen on the way (e.g. a record that changed state)
 * @property {string} faultDetail
 * @property {number} faultAt              epoch ms just before the fault was applied
 * @property {number | null} failoverEndedAt  epoch ms the run's failover record ended
 * @property {string} fromHost
 * @property {string | null} toHost
 * @property {string | null} failoverId
 * @property {string | null} path           warm / migrate / cold
 * @property {string | null} reason         the criteria atoms that held (or `manual`)
 * @property {number | null} dataLossBoundSeconds
 * @property {number | null} gapMs          client-visible: last good response before → first good after
 * @property {number | null} faultToFirstGoodMs
 * @property {number | null} detectMs       fault → failover started
 * @property {number | null} pipelineMs     failover started → ended
 * @property {number | null} faultToTrafficMs  fault → end of the traffic step
 * @property {StepTiming[]} steps
 * @property {number} acked                 appends acknowledged in this run
 * @property {Record<string, number>} failedRequests  by kind
 * @property {number | null} lost           acknowledged records of this run missing from the log (null: the log could not be read)
 * @property {string[]} lostSample          up to 5 of them
 * @property {boolean} oldPidAlive          the old primary's QEMU still existed after the run
 * @property {string | null} undo           what was done to undo the fault (none failed over)
 */

/**
 * @typedef {object} FaultSummary
 * @property {FaultKind} fault
 * @property {number} runs
 * @property {number} failedOver
 * @property {Summary | null} gapMs
 * @property {Summary | null} faultToFirstGoodMs
 * @property {Summary | null} detectMs
 * @property {Summary | null} pipelineMs
 * @property {Summary | null} faultToTrafficMs
 * @property {Record<string, Summary>} stepMs   per step, over the runs that failed over
 * @property {string[]} paths                 distinct promotion paths seen
 * @property {number} acked
 * @property {number} lost                    over the runs whose log could be read
 * @property {number} logUnread               runs whose log could not be read
 * @property {{ round: number, outcome: string, why: string | null }[]} problems
 * @property {boolean} stoppedEarly           this fault kind was given up after repeated failures
 * @property {{ text: string, ms: number | null, measure: 'faultToFirstGoodMs' | 'gapMs' | null, withinMedian: boolean | null, withinRuns: number }} target
 */

/**
 * `summarize` of the defined values, or null when there are none.
 * @param {readonly (number | null | undefined)[]} xs
 * @returns {Summary | null}
 */
export function summaryOf(xs) {
  const v = /** @type {number[]} */ (xs.filter((x) => typeof x === 'number' && Number.isFinite(x)));
  return v.length ? summarize(v) : null;
}

/**
 * The figures of one fault kind over its runs.
 * @param {FaultKind} fault
 * @param {readonly RunResult[]} all   every run of the benchmark (others are ignored)
 * @param {boolean} stoppedEarly
 * @returns {FaultSummary}
 */
export function summarizeFault(fault, all, stoppedEarly) {
  const runs = all.filter((r) => r.fault === fault);
  const ok = runs.filter((r) => r.outcome === 'failed-over');
  /** @type {Record<string, number[]>} */
  const steps = {};
  for (const r of ok) for (const s of r.steps) if (s.ms !== null) (steps[s.name] ??= []).push(s.ms);
  const t = TARGETS[fault];
  const measure = t.what === null ? null : t.what === 'client-visible gap' ? 'gapMs' : 'faultToFirstGoodMs';
  const measured = measure ? ok.map((r) => r[measure]).filter((x) => x !== null) : [];
  const s = summaryOf(measured);
  return {
    fault,
    runs: runs.length,
    failedOver: ok.length,
    gapMs: summaryOf(ok.map((r) => r.gapMs)),
    faultToFirstGoodMs: summaryOf(ok.map((r) => r.faultToFirstGoodMs)),
    detectMs: summaryOf(ok.map((r) => r.detectMs)),
    pipelineMs: summaryOf(ok.map((r) => r.pipelineMs)),
    faultToTrafficMs: summaryOf(ok.map((r) => r.faultToTrafficMs)),
    stepMs: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, summarize(v)])),
    paths: [...new Set(ok.map((r) => r.path).filter((p) => p !== null))].map(String),
    acked: runs.reduce((a, r) => a + r.acked, 0),
    lost: runs.reduce((a, r) => a + (r.lost ?? 0), 0),
    logUnread: runs.filter((r) => r.lost === null).length,
    problems: runs.filter((r) => r.outcome !== 'failed-over').map((r) => ({ round: r.round, outcome: r.outcome, why: r.why })),
    stoppedEarly,
    target: {
      text: t.text,
      ms: t.ms,
      measure,
      withinMedian: s && t.ms !== null ? s.median < t.ms : null,
      withinRuns: t.ms !== null ? measured.filter((x) => /** @type {number} */ (x) < /** @type {number} */ (t.ms)).length : 0,
    },
  };
}

/**
 * @typedef {object} FailoverBenchResult
 * @property {Machine} machine
 * @property {number} totalS
 * @property {{ runs: number, faults: FaultKind[], labPerRun: boolean, hosts: number, interval: string, periodMs: number, maxInFlight: number, quietS: number, recoveryTimeoutS: number, maxFailures: number, policy: string, accel: string }} config
 * @property {{ labs: number, upS: number[], traffic: string | null }} lab
 * @property {RunResult[]} runs
 * @property {FaultSummary[]} faults
 * @property {{ lab: number, id: string, state: string, reason: string, startedAt: number }[]} unexpected  failovers started with no fault injected
 * @property {{ acked: number, missing: number | null, sample: string[] }} finalLog  every record acknowledged in a lab against that lab's final log
 * @property {string | null} aborted  why the benchmark stopped early
 */

/**
 * @param {number | null | undefined} x
 * @param {number} [digits]
 */
const f = (x, digits = 0) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '—');

/**
 * `**median ms** (max max, n)` — the report quotes medians and maxima.
 * @param {Summary | null} s
 */
export function fmtMedMax(s) {
  if (!s) return '—';
  return `**${f(s.median)} ms** (max ${f(s.max)}, n=${s.n})`;
}

/**
 * Where a failover that started with no fault injected falls among the runs: "N s after the
 * failover of `kill` round 2 ended" (the last run of its lab whose fault came before it).
 * @param {{ lab: number, startedAt: number }} u
 * @param {readonly RunResult[]} runs
 * @returns {string}
 */
export function placeAfterRun(u, runs) {
  const before = runs.filter((x) => x.lab === u.lab && x.faultAt <= u.startedAt).sort((a, b) => b.faultAt - a.faultAt)[0];
  if (!before) return 'before the first run';
  const ref = before.failoverEndedAt ?? before.faultAt;
  return `${((u.startedAt - ref) / 1000).toFixed(1)} s after ${before.failoverEndedAt !== null ? 'the failover of' : 'the fault of'} \`${before.fault}\` round ${before.round} ${before.failoverEndedAt !== null ? 'ended' : ''}`.trimEnd();
}

/** Steps in pipeline order (src/failover/pipeline.ts). */
const STEP_ORDER = ['hook_before_fence', 'fence', 'stop_replication', 'promote', 'resize', 'health', 'traffic', 'hook_after_traffic', 'adopt', 'retire_old', 'hook_after_failover'];

/**
 * @param {FaultSummary} s
 */
function targetCell(s) {
  const t = s.target;
  if (t.ms === null) return t.text;
  if (s.failedOver === 0) return `${t.text}: not measured`;
  return `${t.text}: ${t.withinMedian ? 'median **met**' : 'median **missed**'}, ${t.withinRuns}/${s.failedOver} runs within`;
}

/**
 * The Markdown report.
 * @param {FailoverBenchResult} r
 * @returns {string}
 */
export function renderReport(r) {
  const m = r.machine;
  const c = r.config;
  const rows = r.faults
    .map((s) => `| \`${s.fault}\` | ${s.failedOver}/${s.runs}${s.stoppedEarly ? ' (given up)' : ''} | ${fmtMedMax(s.gapMs)} | ${fmtMedMax(s.faultToFirstGoodMs)} | ${s.acked} | **${s.lost}**${s.logUnread ? ` (${s.logUnread} run(s) unread)` : ''} | ${targetCell(s)} |`)
    .join('\n');
  const phases = r.faults
    .map((s) => `| \`${s.fault}\` | ${fmtMedMax(s.detectMs)} | ${fmtMedMax(s.pipelineMs)} | ${fmtMedMax(s.faultToTrafficMs)} | ${s.paths.join(', ') || '—'} |`)
    .join('\n');
  const stepNames = STEP_ORDER.filter((n) => r.faults.some((s) => s.stepMs[n]));
  const stepRows = r.faults
    .filter((s) => s.failedOver > 0)
    .map((s) => `| \`${s.fault}\` | ${stepNames.map((n) => (s.stepMs[n] ? `${f(s.stepMs[n].median)} / ${f(s.stepMs[n].max)}` : '—')).join(' | ')} |`)
    .join('\n');
  const perRun = r.runs
    .map((x) => {
      const fails = Object.entries(x.failedRequests).map(([k, v]) => `${v}× ${k}`).join(', ') || 'none';
      const head = `- \`${x.fault}\` round ${x.round}${c.labPerRun ? ` (lab ${x.lab})` : ''}: ${x.fromHost} → ${x.toHost ?? '—'}`;
      const note = x.note ? `; note: ${x.note}` : '';
      if (x.outcome !== 'failed-over') return `${head}: **${x.outcome}**: ${x.why}; ${x.acked} acked, lost ${x.lost ?? 'unread'}${x.undo ? `; then: ${x.undo}` : ''}${note}`;
      return `${head}, ${x.path}: gap ${f(x.gapMs)} ms, fault → first good ${f(x.faultToFirstGoodMs)} ms (detect ${f(x.detectMs)}, pipeline ${f(x.pipelineMs)}); ${x.acked} acked, lost ${x.lost ?? 'unread'}; failed requests: ${fails}${x.oldPidAlive ? '; **the old QEMU was still alive**' : ''}${note}`;
    })
    .join('\n');
  const problems = r.faults.flatMap((s) => s.problems.map((p) => `- \`${s.fault}\` round ${p.round}: ${p.outcome}: ${p.why}`));
  const unexpected = r.unexpected.map((u) => `- ${c.labPerRun ? `lab ${u.lab}: ` : ''}${u.id} (${u.state}), ${placeAfterRun(u, r.runs)}: ${u.reason}`);
  const ups = r.lab.upS.length ? summaryOf(r.lab.upS) : null;
  const totalLost = r.faults.reduce((a, s) => a + s.lost, 0);
  const done = r.runs.filter((x) => x.toHost !== null); // the run's failover ended done
  const alive = done.filter((x) => x.oldPidAlive);
  const fl = r.finalLog;
  return `# Failover on the lab (real QEMU under TCG, HAProxy): client-visible gap and records lost per fault

Generated by \`npm run bench:failover\` (bench/failover/harness.mjs) on ${m.date}, in ${f(r.totalS)} s.
Figures are **medians and maxima** over the runs of each fault (n beside them).
${r.aborted ? `\n**The benchmark stopped early**: ${r.aborted}. The figures below are what was measured before that.\n` : ''}
## Machine

${machineTable(m, c.accel)}

**This is a shared 2-core box**: other work ran at the same time (see the load average), and the
three lab hosts' agents, the server, HAProxy, two or three QEMUs (primary, shadow, the next shadow
being built) and the client all share the 2 cores. Every time below carries that noise; medians
and maxima are quoted for that reason, and the runs of the faults were interleaved round by round.

## What ran

${c.labPerRun ? `**A fresh lab for every run** (${r.lab.labs} labs): every failover is the first one of a VM created as a primary.` : '**One lab for the whole benchmark**: vm1 fails over again and again, from host to host.'}
All built code from \`dist/\`: \`umbra lab up --hosts ${c.hosts} --vms 1 --protect --policy <bench policy>
--interval ${c.interval}\` (up in ${ups ? `${f(ups.median)} s${ups.n > 1 ? ` median, max ${f(ups.max)} s` : ''}` : '—'}): ${c.hosts} hosts as network
namespaces, each with its agent; the server with its failover controller (a pass every second);
HAProxy in front of vm1 (${r.lab.traffic ?? 'n/a'}); vm1 with a **warm shadow** mirrored in **sync** mode. The policy:

\`\`\`yaml
${c.policy.trim()}
\`\`\`
Each run: wait until vm1 has a synchronized shadow, its traffic URL answers, no failover runs and
${c.quietS} s have passed since the last one; start the client; inject the fault into the primary; wait
for the new failover record to end (at most ${c.recoveryTimeoutS} s) and for appends to succeed again; stop the
client; read \`GET /log\` through HAProxy. ${c.labPerRun ? 'Then the lab is taken down.' : 'After each failover vm1 lives on another host and the shadow\nmanager builds it a new shadow before the next run.'} A fault that did not fail over is undone (SIGCONT, the
guest's fault mode cleared) or, when the primary does not come back, replaced by a manual failover, so
the next runs have a primary. Rounds: ${c.runs}; each round runs every fault
once, in the order ${c.faults.map((x) => `\`${x}\``).join(', ')}; a fault kind that fails to fail over ${c.maxFailures} times is given up.

Faults: \`kill\` SIGKILL of the primary's QEMU; \`panic\` \`POST /fault?mode=panic\` to the guest (the kernel
panics, QEMU exits: \`crashed\`); \`hang\` SIGSTOP of the QEMU (the agent reports \`unknown\` after 5 s: \`hung\`);
\`5xx\` \`POST /fault?mode=5xx\` (every answer is a 500: the agent's health probes fail until the
criteria's probe condition holds); \`planned\` a manual failover (\`POST /v1/vms/vm1/failover\`, as
\`umbra failover vm1\`) of a healthy primary.

The client appends unique records (\`POST /append\`: the guest answers once the line is fsynced on its
data disk, which the sync mirror also writes to the shadow) through HAProxy: a new request every
${c.periodMs} ms while fewer than ${c.maxInFlight} are outstanding (open loop with a bound, so a request stuck on a hung
primary does not hide the recovery), each with a 10 s timeout.

- **Client-visible gap**: the longest time without a good (200) answer, from the last good answer
  before the outage to the first good answer after it (answers up to the first one after the
  failover record ended).
- **Fault → first good**: from just before the fault was applied to that first good answer.
- **Records lost**: acknowledged records of the run that are not lines of the log afterwards.

## 1. Per fault

| Fault | Failed over | Client-visible gap | Fault → first good response | Acked records | Acked records lost | Target (issue 5) |
|---|---|---|---|---|---|---|
${rows}

The old primary's QEMU process ${alive.length ? `**was still there after ${alive.length} of ${done.length} failovers** (${alive.map((x) => `\`${x.fault}\` round ${x.round}`).join(', ')}; the benchmark killed it)` : `was gone after every failover (${done.length}), checked by pid`}.
Acknowledged records lost over all runs: **${totalLost}**${fl.missing === null ? '' : `; every record acknowledged in a lab checked against that lab's final log: **${fl.missing}** of ${fl.acked} missing${fl.sample.length ? ` (e.g. ${fl.sample.join(', ')})` : ''}`}.

## 2. Where the time goes

Detection: fault → the failover record's start (agent sampling, the server's view of the VM, the
controller's pass, the criteria's own duration). Pipeline: the record's start → its end. Epoch
times of the server and of the client on the same machine.

| Fault | Detection | Pipeline | Fault → traffic switched | Path |
|---|---|---|---|---|
${phases}

Steps, median / max ms over the runs that failed over:

| Fault | ${stepNames.join(' | ')} |
|---|${stepNames.map(() => '---|').join('')}
${stepRows}

## 3. Runs

${perRun || '(none)'}

## 4. What did not fail over

${problems.length ? problems.join('\n') : 'Every injected fault failed over.'}

Failovers that started with no fault injected: ${unexpected.length ? `\n${unexpected.join('\n')}` : 'none.'}
`;
}
