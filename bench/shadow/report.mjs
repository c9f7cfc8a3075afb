// @ts-check
/**
 * bench/results/shadow.md from the shadow benchmark's result object. Pure.
 */
import { machineTable } from '../vm/machine.mjs';
import { fmtSummary } from '../vm/report.mjs';

/** @typedef {import('./stats.mjs').Summary} Summary */
/** @typedef {import('./stats.mjs').Distribution} Distribution */
/** @typedef {import('../vm/machine.mjs').Machine} Machine */

/**
 * @typedef {object} SyncFigures  initial copies of one disk
 * @property {number} diskMiB
 * @property {string} kind
 * @property {number} allocatedMiB  what the primary's qcow2 really held
 * @property {number} bootMs        the VM's create → /health (its first boot)
 * @property {Summary} wallMs       PUT replication → state ready
 * @property {Summary} wallMiBps    disk size / wall time
 * @property {Summary} agentMiBps   the agent's initialCopyBytesPerSec
 * @property {Summary} jobLenMiB
 */

/**
 * @typedef {object} WriteFigures  one mode's load windows
 * @property {Summary} appendsPerSec
 * @property {Summary} kibPerSec
 * @property {Summary} latencyP50Ms
 * @property {Summary} latencyP99Ms
 * @property {Summary | null} ratioToNone  per-round appends/s ratios to the same round's `none`
 * @property {number} failed
 */

/**
 * @typedef {object} LagFigures  GET replication polls during one mode's load windows
 * @property {number} polls
 * @property {number} notReady
 * @property {Distribution} lagSeconds
 * @property {Distribution} lagKiB
 * @property {number} behindPct  polls with lagBytes > 0, %
 * @property {number} failures
 */

/**
 * @typedef {object} ProbeFigures  the independent lag check in one mode
 * @property {number} probes
 * @property {Distribution | null} delayMs
 * @property {number} firstLookPct
 * @property {number} timeouts
 * @property {number} appendsPerSec
 */

/**
 * @typedef {object} VerifyFigures
 * @property {number} runs
 * @property {Summary} pauseMs
 * @property {Distribution} pauseDist
 * @property {Summary} catchUpMs
 * @property {Distribution} catchUpDist
 * @property {Summary} primaryDigestMs
 * @property {Summary} targetDigestMs
 * @property {number} equal
 * @property {number} caughtUp
 * @property {number} appendsDuring
 * @property {number} appendFailures
 */

/**
 * @typedef {object} ShadowBenchResult
 * @property {Machine} machine
 * @property {{ accel: string, vm: string, target: string, syncRuns: number, largeSyncRuns: number, largeMiB: number, fillPct: number, rounds: number, loadS: number, clients: number, lineBytes: number, pollMs: number, periodicIntervalS: number, verifyRuns: number, verifyLargeRuns: number, probeS: number, totalS: number }} config
 * @property {{ hash: string, kernelVersion: string }} image
 * @property {{ small: SyncFigures, large: SyncFigures | null, filled: SyncFigures | null }} initialSync
 * @property {Record<'none' | 'sync' | 'async' | 'periodic', WriteFigures>} writes
 * @property {Record<'sync' | 'async' | 'periodic', LagFigures>} lag
 * @property {{ intervalS: number, roundMs: Distribution | null, rounds: number }} periodic
 * @property {Partial<Record<'sync' | 'async' | 'periodic', ProbeFigures>>} probes
 * @property {{ small: { diskMiB: number, async: VerifyFigures, sync: VerifyFigures }, large: { diskMiB: number, async: VerifyFigures } | null }} verification
 * @property {{ round: number, mode: string, appendsPerSec: number, kibPerSec: number, ok: number, failed: number, polls: number }[]} windows
 */

/**
 * @param {number} x
 * @param {number} digits
 */
const f = (x, digits) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

/**
 * `p50 / p95 / p99 / max` of a distribution.
 * @param {Distribution | null} d
 * @param {number} digits
 * @param {number} [scale] multiplier applied first (e.g. 1000 for s → ms)
 */
export function fmtDist(d, digits, scale = 1) {
  if (!d) return 'n/a';
  return `${f(d.p50 * scale, digits)} / ${f(d.p95 * scale, digits)} / ${f(d.p99 * scale, digits)} / ${f(d.max * scale, digits)}`;
}

/**
 * A ratio summary as `**0.87×** (0.80–0.95, n=5)`.
 * @param {Summary | null} s
 */
export function fmtRatio(s) {
  if (!s || s.n === 0) return '—';
  return `**${f(s.median, 2)}×** (${f(s.min, 2)}–${f(s.max, 2)}, n=${s.n})`;
}

/**
 * @param {SyncFigures | null} s
 * @param {string} label
 */
function syncRow(s, label) {
  if (!s) return '';
  return `| ${label} | ${f(s.allocatedMiB, 0)} MiB | ${fmtSummary(s.wallMs, 'ms', 0)} | ${fmtSummary(s.wallMiBps, 'MiB/s', 0)} | ${fmtSummary(s.agentMiBps, 'MiB/s', 0)} | ${f(s.bootMs / 1000, 1)} s |\n`;
}

/**
 * @param {string} label
 * @param {VerifyFigures} v
 */
function verifyRow(label, v) {
  return `| ${label} | ${v.runs} | ${fmtSummary(v.pauseMs, 'ms', 0)} | ${f(v.pauseDist.p95, 0)} ms | ${fmtSummary(v.catchUpMs, 'ms', 0)} | ${f(v.catchUpDist.p95, 0)} ms | ${f(v.primaryDigestMs.median, 0)} / ${f(v.targetDigestMs.median, 0)} ms | ${v.equal}/${v.runs} | ${v.caughtUp}/${v.runs} |\n`;
}

/**
 * Which modes' write cost stands out from the machine's noise: a mode whose per-round ratios to
 * "no mirror" span 1.0 (some rounds faster, some slower) is not distinguishable from no mirror.
 * @param {ShadowBenchResult} r
 */
export function noiseNote(r) {
  const within = [];
  const below = [];
  for (const k of /** @type {const} */ (['sync', 'async', 'periodic'])) {
    const q = r.writes[k].ratioToNone;
    if (!q) continue;
    if (q.min <= 1 && q.max >= 1) within.push(`\`${k}\``);
    else if (q.max < 1) below.push(`\`${k}\``);
  }
  const parts = [];
  if (below.length) parts.push(`${below.join(', ')} cost write throughput in every round (all per-round ratios below 1)`);
  if (within.length) parts.push(`${within.join(', ')} had rounds both faster and slower than no mirror, so ${within.length > 1 ? 'their medians carry' : 'its median carries'} this machine's noise (${r.config.rounds} rounds)`);
  return parts.length ? `Reading the ratios: ${parts.join('; ')}.` : '';
}

/**
 * The Markdown report.
 * @param {ShadowBenchResult} r
 * @returns {string}
 */
export function renderReport(r) {
  const m = r.machine;
  const c = r.config;
  const w = r.writes;
  const modes = /** @type {const} */ (['none', 'sync', 'async', 'periodic']);
  const label = { none: 'no mirror', sync: '`sync` (write-blocking mirror)', async: '`async` (background mirror)', periodic: `\`periodic\` (incremental backup every ${c.periodicIntervalS} s)` };
  const perRound = modes
    .map((mode) => `${mode} ${r.windows.filter((x) => x.mode === mode).map((x) => f(x.appendsPerSec, 1)).join(', ')}`)
    .join('; ');
  const lagModes = /** @type {const} */ (['sync', 'async', 'periodic']);
  const probeModes = lagModes.filter((k) => r.probes[k]);
  const al = r.lag.async;
  const ap = r.probes.async;
  const v = r.verification;

  return `# Shadow replication on real QEMU (TCG): initial sync, write cost, lag, verification

Generated by \`npm run bench:shadow\` (bench/shadow/harness.mjs) on ${m.date}, in ${c.totalS} s.
Figures are **medians** over repeated runs (min–max and the run count beside them); lag and
latency samples are given as percentiles (p50 / p95 / p99 / max).

## Machine

${machineTable(m, c.accel)}

**This is a shared 2-core box**: other work ran at the same time (see the load average), and the
guest, its QEMU, the storage daemon, the agent and the load generator all share the 2 cores.
Absolute figures carry that noise; the write-throughput modes were rotated round by round so that
the noise hits each of them, and the ratios are taken within a round.

## What ran

All built code from \`dist/\`, nothing simulated: one host agent (\`Agent\` with the QEMU driver,
in the harness's process) talking to a protocol stand-in for the server (register, heartbeat,
samples: the control plane is not what is measured), one lab guest at a time as the primary
(${c.vm}; guest image ${r.image.hash}, kernel ${r.image.kernelVersion}), and the replication
target: ${c.target}. Replication is driven only through the agent's HTTP API
(src/api/shadow-protocol.ts): \`PUT/GET/DELETE /v1/vms/:id/replication\`, \`POST quiesce\`,
\`GET disk-digest\`, \`POST unquiesce\`.

## 1. Initial sync

\`PUT /v1/vms/:id/replication\` (mode \`sync\`, guest idle) to a **new blank target** each run (new raw
file, new storage daemon), timed until \`GET\` reports \`ready\` (polled every 20 ms). "Wall MiB/s" is
the disk's virtual size over that wall time; "agent" is the \`initialCopyBytesPerSec\` the agent
reports (job length over job start → BLOCK_JOB_READY). A disk the guest formatted itself is mostly
unallocated, and the mirror turns unallocated ranges into zero writes, so only the last row moves
real data at every block.

| Data disk | Allocated in the qcow2 (before the copies) | PUT → ready | Wall MiB/s | Agent \`initialCopyBytesPerSec\` | VM first boot (create → /health) |
|---|---|---|---|---|---|
${syncRow(r.initialSync.small, `${r.initialSync.small.diskMiB} MiB (default), ${r.initialSync.small.kind}`)}${syncRow(r.initialSync.large, `${r.initialSync.large?.diskMiB} MiB, ${r.initialSync.large?.kind}`)}${syncRow(r.initialSync.filled, `${r.initialSync.filled?.diskMiB} MiB, ${r.initialSync.filled?.kind}`)}
The last column is one boot per disk (the guest formats a blank disk on it): a ${r.initialSync.large?.diskMiB ?? c.largeMiB} MiB blank disk is formatted in reasonable time (lazy inode tables).

## 2. Guest write throughput

${c.clients} concurrent clients POST ${c.lineBytes}-byte lines (4 KiB with the newline) to the guest's \`/append\` for
${c.loadS} s per window; the guest appends each line to its log on the ext4 data disk and answers only after
fsync (appends are serialized in the guest; one request per connection through QEMU's user-mode
networking). ${c.rounds} rounds; each round runs every mode once, in an order rotated by one each
round; the replication is set up (full copy to \`ready\`) before each window and removed for
"no mirror". Data disk: ${c.largeMiB} MiB, formatted by the guest. The agent API is polled every ${c.pollMs} ms
in every mode (replication status, or the VM's status with no mirror), so each mode pays the same
polling cost. The ratio is the median of the per-round ratios of appends/s to the same round's
"no mirror" window.

| Mode | Appends/s | KiB/s | Ratio to no mirror | Append latency p50 | Append latency p99 |
|---|---|---|---|---|---|
${modes.map((k) => `| ${label[k]} | ${fmtSummary(w[k].appendsPerSec, '/s', 1)} | ${fmtSummary(w[k].kibPerSec, 'KiB/s', 0)} | ${fmtRatio(w[k].ratioToNone)} | ${f(w[k].latencyP50Ms.median, 1)} ms | ${f(w[k].latencyP99Ms.median, 0)} ms |`).join('\n')}

${noiseNote(r)}

Appends/s per round: ${perRound}. Failed appends: ${modes.map((k) => `${k} ${w[k].failed}`).join(', ')}.
Latency columns: medians over the windows of each window's p50 / p99.

## 3. Replication lag under that write load

### What the agent reports

\`GET /v1/vms/:id/replication\` every ${c.pollMs} ms during the load windows above (all polls with
state \`ready\`).

| Mode | Polls | \`lagSeconds\` p50 / p95 / p99 / max (s) | \`lagBytes\` p50 / p95 / p99 / max (KiB) | Polls with lagBytes > 0 |
|---|---|---|---|---|
${lagModes.map((k) => `| \`${k}\` | ${r.lag[k].polls}${r.lag[k].notReady ? ` (${r.lag[k].notReady} not ready)` : ''} | ${fmtDist(r.lag[k].lagSeconds, 3)} | ${fmtDist(r.lag[k].lagKiB, 0)} | ${f(r.lag[k].behindPct, 0)} % |`).join('\n')}

How the agent computes them (src/agent/replication/lag.ts): \`lagBytes\` is the larger of the
mirror job's \`len − offset\` and its dirty bitmap's bytes (64 KiB granules: one 4 KiB append
shows as 64 KiB), or in periodic mode the replication bitmap's dirty bytes since the last round;
\`lagSeconds\` bounds the age of the oldest write the target may lack: for a mirror, the time since
the newest supervision pass (every 500 ms) whose whole backlog has been copied since (job
\`offset\` progress ≥ the backlog then), capped by the time since nothing was pending; in periodic
mode, the time since the last round started. It is an upper bound at the supervision pass's
resolution (here ${f(al.behindPct, 0)} % of async polls were behind, async p50 ${f(al.lagSeconds.p50, 2)} s, max ${f(al.lagSeconds.max, 2)} s${ap?.delayMs ? `, while each write reached the target ${f(ap.delayMs.p50, 0)} ms (p50) after its acknowledgement (below)` : ''}).

${
  probeModes.length
    ? `### Independent check: acknowledged append → bytes in the target file

A separate ${c.probeS} s window per mode with the same load: every ~200 ms the harness takes the next
acknowledged line and searches the target's raw file for its unique head until it is there
(bench/shadow/target-probe.mjs; the first probe of each window, which locates the log in the file,
is not counted). The time is from the acknowledgement to the look that found it, so a line already
there shows the probe's own resolution (one 16 MiB read).

| Mode | Lines probed | Ack → in target p50 / p95 / p99 / max (ms) | Found at the first look | Not found within 15 s |
|---|---|---|---|---|
${probeModes.map((k) => { const p = /** @type {ProbeFigures} */ (r.probes[k]); return `| \`${k}\` | ${p.probes} | ${fmtDist(p.delayMs, 1)} | ${f(p.firstLookPct, 0)} % | ${p.timeouts} |`; }).join('\n')}

${ap?.delayMs ? `In async mode a write reached the target ${f(ap.delayMs.p50, 0)} ms (p50) after it was acknowledged (p99 ${f(ap.delayMs.p99, 0)} ms), consistent with the background mirror's idle sleep of up to 100 ms between passes (SLICE_TIME in QEMU's block/mirror.c).` : ''}
${r.probes.sync ? `In sync mode ${f(r.probes.sync.firstLookPct, 0)} % of the acknowledged lines were on the target at the first look (write-blocking: the guest's write completes only once the target has it).` : ''}
`
    : ''
}
## 4. Periodic mode

Interval ${r.periodic.intervalS} s under the write load of section 2: ${r.periodic.rounds} incremental rounds seen by the polls;
round duration (the agent's \`lastRoundMs\`: \`blockdev-backup\` sync=incremental of what the dirty
bitmap marks) p50 / p95 / p99 / max: **${fmtDist(r.periodic.roundMs, 0)} ms**.

## 5. Verification pause

With a light write load running (2 clients appending), each run: \`POST quiesce\` (pauses the vCPUs,
waits until the target holds every write: \`catchUpMs\`), then at once the primary's digest
(\`GET disk-digest\`: \`qemu-img convert -U\` of the qcow2 + sha256 per 1 MiB) and the target's
(the raw file, \`digestFile\` of src/storage/digest.ts, in the harness as the shadow host's agent
would), then \`POST unquiesce\`, whose \`pauseMs\` is the guest's pause. 1 s between runs.

| Disk, mode | Runs | Pause (median) | Pause p95 | Catch-up (median) | Catch-up p95 | Digests primary / target (median) | Digests equal | Caught up |
|---|---|---|---|---|---|---|---|---|
${verifyRow(`${v.small.diskMiB} MiB, \`async\``, v.small.async)}${verifyRow(`${v.small.diskMiB} MiB, \`sync\``, v.small.sync)}${v.large ? verifyRow(`${v.large.diskMiB} MiB, \`async\``, v.large.async) : ''}
The pause is almost all digest time (both sides read the whole disk while the guest is paused), so it
grows with the disk size; catching up itself takes milliseconds.

## How measured

- Repeats: initial sync ${c.syncRuns}× (default disk) and ${c.largeSyncRuns}× (each ${c.largeMiB} MiB disk); write windows
  ${c.rounds} rounds × 4 modes × ${c.loadS} s; verification ${c.verifyRuns}× (async) and ${Math.max(1, Math.ceil(c.verifyRuns / 2))}× (sync) on the default disk,
  ${c.verifyLargeRuns}× on the ${c.largeMiB} MiB disk; probe windows ${c.probeS} s per mode.
- One VM QEMU and one storage daemon alive at a time; the harness kills every process it started
  (QEMUs by the pids in their run dirs, the daemon by its pid) and removes its temp dir, also on
  failure and on SIGINT/SIGTERM.
- Medians, min–max and percentiles (linear interpolation between ranks) by bench/shadow/stats.mjs;
  raw per-window figures and every lag poll are in shadow.json.
`;
}
