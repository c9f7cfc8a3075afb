// @ts-check
/**
 * The benchmark's verdicts against the issue's targets and its Markdown report. Pure: the
 * harness passes the measured result in and writes the returned text.
 */

/** @typedef {import('./metrics.mjs').Aggregate} Aggregate */

/**
 * @typedef {object} MethodResult
 * @property {string} label how the method is named in the report
 * @property {number | null} wallSeconds wall time of the whole process (null: not run)
 * @property {number | null} exitCode
 * @property {Aggregate | null} aggregate
 * @property {{ id: string, reason: string }[]} failed cases without a usable forecast
 * @property {Record<string, number>} [models] Umbra: how often each model was chosen
 */

/**
 * @typedef {object} CaseRecord
 * @property {string} id
 * @property {string} vm
 * @property {number} k
 * @property {number} originT epoch seconds of the first forecast step
 * @property {number} trainLength
 * @property {number} scale
 * @property {number} imputedInTrain
 * @property {Record<string, { mase: number, msis95: number, cov80: number, cov95: number, model?: string } | null>} scores
 */

/**
 * @typedef {object} BenchResult
 * @property {'full' | 'quick'} mode
 * @property {string} date ISO 8601
 * @property {Record<string, string>} machine
 * @property {{ vms: string[], originsPerVm: number, spacingSteps: number, horizonSteps: number, stepSeconds: number, levels: number[], msisLevel: number, dailyPeriod: number, weeklyPeriod: number, command: string }} setup
 * @property {Record<string, MethodResult>} methods keyed umbra, snaive, stlf, prophet
 * @property {CaseRecord[]} cases
 */

/**
 * @typedef {object} Verdict
 * @property {string} target what the issue asks
 * @property {string} measured the measured figure
 * @property {boolean | null} pass null when it could not be measured
 */

export const PEERS = ['snaive', 'stlf', 'prophet'];

/**
 * The best peer by a metric (lowest), among peers that were run.
 * @param {Record<string, MethodResult>} methods
 * @param {'maseMean' | 'msisMean'} key
 * @returns {{ name: string, value: number } | null}
 */
export function bestPeer(methods, key) {
  /** @type {{ name: string, value: number } | null} */
  let best = null;
  for (const name of PEERS) {
    const agg = methods[name]?.aggregate;
    if (!agg || !Number.isFinite(agg[key])) continue;
    if (!best || agg[key] < best.value) best = { name, value: agg[key] };
  }
  return best;
}

/**
 * Checks the issue's targets: MASE ≥ 5 % below the best peer's, MSIS below the best peer's,
 * coverage within 3 points of 80 and 95, whole run no slower than stlf and ≥ 100× faster than
 * prophet.
 * @param {Record<string, MethodResult>} methods
 * @returns {Verdict[]}
 */
export function verdicts(methods) {
  const u = methods.umbra;
  const ua = u?.aggregate ?? null;
  /** @type {Verdict[]} */
  const out = [];
  const bm = bestPeer(methods, 'maseMean');
  if (ua && bm) {
    const r = ua.maseMean / bm.value;
    out.push({ target: `MASE (mean) ≤ 0.95 × best peer's (${bm.name}: ${fmt(bm.value, 3)})`, measured: `${fmt(ua.maseMean, 3)} = ${fmt(r, 3)} ×`, pass: r <= 0.95 });
  } else out.push({ target: "MASE (mean) ≤ 0.95 × best peer's", measured: 'n/a', pass: null });
  const bs = bestPeer(methods, 'msisMean');
  if (ua && bs) {
    const r = ua.msisMean / bs.value;
    out.push({ target: `MSIS 95 % (mean) < best peer's (${bs.name}: ${fmt(bs.value, 2)})`, measured: `${fmt(ua.msisMean, 2)} = ${fmt(r, 3)} ×`, pass: r < 1 });
  } else out.push({ target: "MSIS 95 % (mean) < best peer's", measured: 'n/a', pass: null });
  for (const level of [80, 95]) {
    const c = ua?.coverage[String(level)];
    out.push(
      c !== undefined && Number.isFinite(c)
        ? { target: `coverage of the ${level} % interval within ${level} ± 3`, measured: `${fmt(c, 1)} %`, pass: Math.abs(c - level) <= 3 }
        : { target: `coverage of the ${level} % interval within ${level} ± 3`, measured: 'n/a', pass: null },
    );
  }
  const ut = u?.wallSeconds ?? null;
  const st = methods.stlf?.wallSeconds ?? null;
  out.push(
    ut !== null && st !== null
      ? { target: 'Umbra wall time ≤ stlf wall time', measured: `${fmt(ut, 1)} s vs ${fmt(st, 1)} s (${fmt(ut / st, 3)} ×)`, pass: ut <= st }
      : { target: 'Umbra wall time ≤ stlf wall time', measured: 'n/a', pass: null },
  );
  const pt = methods.prophet?.wallSeconds ?? null;
  out.push(
    ut !== null && pt !== null
      ? { target: 'prophet wall time ≥ 100 × Umbra wall time', measured: `${fmt(pt, 1)} s / ${fmt(ut, 1)} s = ${fmt(pt / ut, 1)} ×`, pass: pt / ut >= 100 }
      : { target: 'prophet wall time ≥ 100 × Umbra wall time', measured: 'n/a', pass: null },
  );
  return out;
}

/**
 * Formats a number with `digits` decimals; `–` for missing values.
 * @param {number | null | undefined} x
 * @param {number} digits
 */
export function fmt(x, digits) {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

/** @param {boolean | null} pass */
const mark = (pass) => (pass === null ? 'n/a' : pass ? '✅ pass' : '❌ fail');

/**
 * Renders the Markdown report.
 * @param {BenchResult} r
 * @returns {string}
 */
export function renderReport(r) {
  const names = Object.keys(r.methods);
  const L = [];
  L.push('# Forecasting benchmark: Umbra vs R forecast and prophet', '');
  L.push(`Written by \`npm run bench:forecast${r.mode === 'quick' ? ' -- --quick' : ''}\`. **Mode: ${r.mode}**${r.mode === 'quick' ? ' (a development subset; not the result to judge the targets by)' : ''}.`, '');
  L.push(`- Date: ${r.date}`);
  L.push(`- Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memory}; ${r.machine.os}; Node ${r.machine.node}; ${r.machine.r}; forecast ${r.machine.forecast}, prophet ${r.machine.prophet}`);
  L.push(`- Load average when the run started: ${r.machine.loadavg}. **Measured on a shared 2-core machine** (other work may have run at the same time); methods were run one after another, never concurrently.`);
  const s = r.setup;
  L.push(`- Data: Bitbrains GWA-T-12 Rnd, August 2013, CPU usage [MHZ] of ${s.vms.length} VMs (${s.vms.join(', ')}), regularized once by Umbra's regularizer onto a ${s.stepSeconds} s grid; every method reads the same training files (\`timestamp,value\`).`);
  L.push(`- Origins: ${s.originsPerVm} per VM, ${(s.spacingSteps * s.stepSeconds) / 3600} h apart, all in the last week, the last leaving exactly the horizon; ${r.cases.length} (VM, origin) cases. Horizon ${s.horizonSteps} steps (${(s.horizonSteps * s.stepSeconds) / 3600} h); levels ${s.levels.join(' and ')} %.`);
  L.push(`- Umbra: \`${s.command}\`, one process over all training files.`);
  L.push('');
  L.push('## Results', '');
  L.push('| method | cases | MASE mean | MASE median | MSIS 95 % mean | MSIS 95 % median | coverage 80 % | coverage 95 % | wall time (s) |');
  L.push('|---|---|---|---|---|---|---|---|---|');
  for (const name of names) {
    const m = r.methods[name];
    const a = m.aggregate;
    const failed = m.failed.length ? ` (${m.failed.length} failed)` : '';
    L.push(
      `| ${m.label} | ${a ? a.cases : 0}${failed} | ${fmt(a?.maseMean, 3)} | ${fmt(a?.maseMedian, 3)} | ${fmt(a?.msisMean, 2)} | ${fmt(a?.msisMedian, 2)} | ${fmt(a?.coverage['80'], 1)} | ${fmt(a?.coverage['95'], 1)} | ${fmt(m.wallSeconds, 1)} |`,
    );
  }
  L.push('');
  L.push('## Targets', '');
  L.push('| target | measured | verdict |', '|---|---|---|');
  for (const v of verdicts(r.methods)) L.push(`| ${v.target} | ${v.measured} | ${mark(v.pass)} |`);
  L.push('');
  const models = r.methods.umbra?.models;
  if (models && Object.keys(models).length) {
    L.push(`Models Umbra chose: ${Object.entries(models).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} × ${v}`).join(', ')}.`, '');
  }
  L.push('## MASE per VM (mean over its origins)', '');
  L.push(`| VM | ${names.map((n) => r.methods[n].label).join(' | ')} |`);
  L.push(`|---|${names.map(() => '---').join('|')}|`);
  for (const vm of s.vms) {
    const cs = r.cases.filter((c) => c.vm === vm);
    const cells = names.map((n) => {
      const xs = cs.map((c) => c.scores[n]?.mase).filter((x) => x !== undefined && Number.isFinite(x));
      return xs.length ? fmt(/** @type {number[]} */ (xs).reduce((a, b) => a + b, 0) / xs.length, 3) : '–';
    });
    L.push(`| ${vm} | ${cells.join(' | ')} |`);
  }
  L.push('');
  const failures = names.flatMap((n) => r.methods[n].failed.map((f) => `- ${r.methods[n].label}, ${f.id}: ${f.reason}`));
  if (failures.length) L.push('## Cases without a usable forecast', '', ...failures, '');
  L.push('## Definitions', '');
  L.push(`- **MASE**: mean absolute error over the horizon divided by the in-sample MAE of the seasonal naive with the **daily** period (lag ${s.dailyPeriod}) on the training part, as the issue asks. M4 scales by the naive of the series' own seasonal period (that would be the weekly one here); the daily one is used for both MASE and MSIS.`);
  L.push(`- **MSIS** at ${s.msisLevel} % (M4): mean over the horizon of (U − L) + (2/α)(L − y)·1{y < L} + (2/α)(y − U)·1{y > U}, α = ${fmt(1 - s.msisLevel / 100, 2)}, divided by the same daily seasonal-naive scale.`);
  L.push('- MASE and MSIS are averaged (mean and median) over (VM, origin) cases; **coverage** is pooled over all scored points. Actuals the regularizer imputed over a long gap are not scored.');
  L.push('- **Wall time**: the whole process, from spawn to exit (start-up, reading, fitting, writing), over all cases. R peers run one Rscript process per method; Umbra one CLI process (which may use worker threads on both cores, while R runs on one).');
  L.push(`- Peers: \`forecast::snaive(ts(y, frequency = ${s.weeklyPeriod}), h, level)\` (weekly seasonal naive, its own normal intervals); \`forecast::stlf(msts(y, seasonal.periods = c(${s.dailyPeriod}, ${s.weeklyPeriod})), h, level)\` (MSTL + ETS); \`prophet\` with daily and weekly seasonality, yearly off, point forecast \`yhat\`, both intervals from the quantiles of ${'`predictive_samples()`'} (1000 samples, the default).`);
  L.push('- Raw per-case results: `forecast.json` beside this file.');
  L.push('');
  return L.join('\n');
}
