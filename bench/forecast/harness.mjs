// @ts-check
/**
 * The forecasting benchmark (npm run bench:forecast): Umbra's CLI against R's forecast::snaive,
 * forecast::stlf and prophet on the Bitbrains August VMs. Prepares the training files once,
 * runs each method as one timed process over all of them, scores the forecasts and writes
 * bench/results/forecast.md and forecast.json.
 *
 * Usage: node bench/forecast/harness.mjs [--quick] [--methods umbra,snaive,stlf,prophet]
 *          [--data DIR] [--out DIR] [--dist DIR] [--keep]
 *   --quick    4 VMs × 2 origins, results to bench/.cache/results (never the committed ones)
 *   --data     the shared data folder (default $UMBRA_DATA or <repo>/../shared/data)
 *   --dist     Umbra's build folder (default <repo>/dist)
 *   --keep     keep the temporary folder with the training files and forecasts
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildCases, pickOrigins, trainingCsv } from './cases.mjs';
import { aggregate, scoreCase } from './metrics.mjs';
import { alignForecast, parsePeerCsv, parseUmbraJson } from './outputs.mjs';
import { renderReport, verdicts } from './report.mjs';
import { runTimed } from './timed-process.mjs';

/** @typedef {import('./cases.mjs').BenchCase} BenchCase */
/** @typedef {import('./report.mjs').MethodResult} MethodResult */
/** @typedef {import('./report.mjs').CaseRecord} CaseRecord */

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const LEVELS = [80, 95];
const MSIS_LEVEL = 95;
const HORIZON_SECONDS = 86_400;
const QUICK_VMS = ['15', '67', '286', '316'];
const LABELS = /** @type {Record<string, string>} */ ({
  umbra: 'Umbra',
  snaive: 'forecast::snaive (weekly)',
  stlf: 'forecast::stlf (msts daily+weekly)',
  prophet: 'prophet (daily+weekly)',
});

/** @param {string} msg */
const log = (msg) => process.stderr.write(`[bench:forecast] ${msg}\n`);

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      methods: { type: 'string', default: 'umbra,snaive,stlf,prophet' },
      data: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      dist: { type: 'string' },
    },
  });
  const methods = String(values.methods).split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of methods) if (!(m in LABELS)) throw new Error(`unknown method "${m}" (umbra, snaive, stlf, prophet)`);
  const dataDir = resolve(values.data ?? process.env.UMBRA_DATA ?? join(REPO, '..', 'shared', 'data'));
  const quick = Boolean(values.quick);
  const outDir = resolve(values.out ?? (quick ? join(REPO, 'bench', '.cache', 'results') : join(REPO, 'bench', 'results')));
  const dist = resolve(values.dist ?? join(REPO, 'dist'));
  return { quick, methods, dataDir, outDir, dist, keep: Boolean(values.keep) };
}

/** Machine facts for the report (read before any timing). */
function machineInfo() {
  const cpus = os.cpus();
  let osName = `${os.type()} ${os.release()}`;
  try {
    const rel = readFileSync('/etc/os-release', 'utf8');
    osName = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(rel)?.[1] ?? osName;
  } catch {
    /* keep uname */
  }
  let r = 'R ?';
  let forecast = '?';
  let prophet = '?';
  try {
    const out = execFileSync(
      'Rscript',
      ['-e', 'cat(R.version.string, as.character(packageVersion("forecast")), as.character(packageVersion("prophet")), sep = "\\n")'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ).split('\n');
    [r, forecast, prophet] = out;
  } catch {
    /* R missing: reported as ? */
  }
  return {
    cpus: String(os.availableParallelism?.() ?? cpus.length),
    cpuModel: cpus[0]?.model?.trim() ?? '?',
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' / '),
    os: osName,
    node: process.versions.node,
    r,
    forecast,
    prophet,
  };
}

/**
 * Loads Umbra's reader and regularizer from the build (dist/), so the benchmark regularizes
 * with exactly the code under test.
 */
async function loadUmbra(/** @type {string} */ dist) {
  const ingest = await import(pathToFileURL(join(dist, 'ingest', 'index.js')).href);
  const reg = await import(pathToFileURL(join(dist, 'forecast', 'regularize.js')).href);
  return {
    /** @type {(path: string, format: string) => Promise<Array<{ metric: string }>>} */
    readFile: ingest.readFile,
    /** @type {(raw: unknown) => { t0: number, step: number, values: Float64Array, imputed: Uint8Array, report: { longGaps: unknown[] } }} */
    regularize: reg.regularize,
  };
}

/**
 * Reads, regularizes and cuts every VM into cases; writes the training files.
 * @param {string} dataDir
 * @param {boolean} quick
 * @param {string} trainDir
 * @param {string} dist Umbra's build folder
 */
async function prepare(dataDir, quick, trainDir, dist) {
  const monthDir = join(dataDir, 'bitbrains', 'rnd', '2013-8');
  if (monthDir.split(sep).includes('acceptance')) throw new Error('refusing to read the acceptance data');
  const all = readdirSync(monthDir)
    .filter((f) => f.endsWith('.csv'))
    .map((f) => f.slice(0, -4))
    .sort((a, b) => Number(a) - Number(b));
  const vms = quick ? all.filter((v) => QUICK_VMS.includes(v)) : all;
  const originsPerVm = quick ? 2 : 4;
  const { readFile, regularize } = await loadUmbra(dist);
  /** @type {BenchCase[]} */
  const cases = [];
  let step = 0;
  let spacing = 0;
  for (const vm of vms) {
    const raws = await readFile(join(monthDir, `${vm}.csv`), 'bitbrains');
    const raw = raws.find((s) => s.metric === 'cpu_mhz');
    if (!raw) throw new Error(`${vm}.csv: no cpu_mhz series`);
    const s = regularize(raw);
    if (step && s.step !== step) throw new Error(`${vm}.csv: step ${s.step} s differs from ${step} s`);
    step = s.step;
    const daily = Math.round(86_400 / step);
    const weekly = 7 * daily;
    const horizon = Math.round(HORIZON_SECONDS / step);
    spacing = Math.round((36 * 3600) / step);
    const origins = pickOrigins(s.values.length, horizon, originsPerVm, spacing, weekly, 2 * weekly);
    for (const c of buildCases(vm, s, origins, horizon, daily)) {
      writeFileSync(join(trainDir, `${c.id}.csv`), trainingCsv(c));
      cases.push(c);
    }
  }
  return { vms, cases, step, originsPerVm, spacing };
}

/**
 * Scores one method's aligned forecasts over every case.
 * @param {BenchCase[]} cases
 * @param {(c: BenchCase) => import('./outputs.mjs').Aligned} get
 * @param {Map<string, CaseRecord>} records
 * @param {string} method
 * @param {(c: BenchCase) => string | undefined} [modelOf]
 */
function scoreMethod(cases, get, records, method, modelOf) {
  const scores = [];
  const failed = [];
  for (const c of cases) {
    const a = get(c);
    const rec = /** @type {CaseRecord} */ (records.get(c.id));
    if (!a.ok) {
      failed.push({ id: c.id, reason: a.reason });
      rec.scores[method] = null;
      continue;
    }
    const s = scoreCase(c.actual, a.forecast, c.scale, LEVELS, MSIS_LEVEL);
    scores.push(s);
    const cov = (/** @type {string} */ l) => s.coverage[l].inside / s.coverage[l].total;
    rec.scores[method] = { mase: s.mase, msis95: s.msis95, cov80: cov('80'), cov95: cov('95'), ...(modelOf ? { model: modelOf(c) } : {}) };
  }
  return { aggregate: scores.length ? aggregate(scores, LEVELS) : null, failed };
}

/** @param {string} path */
function tail(path) {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-8).join('\n');
  } catch {
    return '';
  }
}

async function main() {
  const opt = options();
  const machine = machineInfo();
  const tmp = mkdtempSync(join(os.tmpdir(), 'umbra-bench-forecast-'));
  const trainDir = join(tmp, 'train');
  const logDir = join(REPO, 'bench', '.cache', 'forecast-logs');
  mkdirSync(trainDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  try {
    log(`mode ${opt.quick ? 'quick' : 'full'}; data ${opt.dataDir}; work dir ${tmp}`);
    const prep = await prepare(opt.dataDir, opt.quick, trainDir, opt.dist);
    const { cases, step } = prep;
    const horizon = Math.round(HORIZON_SECONDS / step);
    log(`${prep.vms.length} VMs × ${prep.originsPerVm} origins = ${cases.length} training files`);

    /** @type {Map<string, CaseRecord>} */
    const records = new Map(
      cases.map((c) => [
        c.id,
        { id: c.id, vm: c.vm, k: c.k, originT: c.times[0], trainLength: c.train.length, scale: c.scale, imputedInTrain: c.imputedInTrain, scores: {} },
      ]),
    );
    /** @type {Record<string, MethodResult>} */
    const methods = {};
    const horizonArg = HORIZON_SECONDS % 3600 === 0 ? `${HORIZON_SECONDS / 3600}h` : `${HORIZON_SECONDS}s`;
    // UMBRA_BENCH_ARGS: extra CLI arguments for experiments (e.g. "--models snaive"); the
    // committed result is made without it, and the report shows the exact command.
    const extra = (process.env.UMBRA_BENCH_ARGS ?? '').split(/\s+/).filter(Boolean);
    const umbraArgs = ['forecast', '--input', trainDir, '--horizon', horizonArg, '--levels', LEVELS.join(','), '--format', 'json', ...extra];

    for (const method of opt.methods) {
      const errPath = join(logDir, `${method}.stderr.log`);
      if (method === 'umbra') {
        const cli = join(opt.dist, 'cli', 'main.js');
        if (!existsSync(cli)) throw new Error(`${relative(REPO, cli)} is missing: run npm run build`);
        log('running Umbra (one process, all files)');
        const run = await runTimed(process.execPath, [cli, ...umbraArgs], { cwd: REPO, stderrPath: errPath, captureStdout: true });
        log(`Umbra: exit ${run.code}, ${run.wallSeconds.toFixed(2)} s`);
        /** @type {Map<string, import('./outputs.mjs').UmbraSeries>} */
        let parsed = new Map();
        try {
          parsed = parseUmbraJson(run.stdout);
        } catch (e) {
          log(`Umbra output could not be parsed: ${e instanceof Error ? e.message : e}\n${tail(errPath)}`);
        }
        /** @type {Record<string, number>} */
        const models = {};
        for (const s of parsed.values()) models[s.model] = (models[s.model] ?? 0) + 1;
        const res = scoreMethod(
          cases,
          (c) => {
            const s = parsed.get(c.id);
            return s ? alignForecast(c.times, s.byTime, LEVELS) : { ok: false, reason: `no series in Umbra's output (exit ${run.code})` };
          },
          records,
          'umbra',
          (c) => parsed.get(c.id)?.model,
        );
        methods.umbra = { label: LABELS.umbra, wallSeconds: run.wallSeconds, exitCode: run.code, models, ...res };
      } else {
        const outDir = join(tmp, `out-${method}`);
        log(`running ${method} (one Rscript process, all files)`);
        const run = await runTimed('Rscript', [join(HERE, 'peers.R'), method, trainDir, outDir, String(horizon), LEVELS.join(',')], {
          cwd: REPO,
          env: { ...process.env, TZ: 'UTC' },
          stderrPath: errPath,
        });
        log(`${method}: exit ${run.code}, ${run.wallSeconds.toFixed(2)} s`);
        if (run.code !== 0) log(tail(errPath));
        const res = scoreMethod(
          cases,
          (c) => {
            const f = join(outDir, `${c.id}.csv`);
            if (!existsSync(f)) return { ok: false, reason: `no output file (see ${relative(REPO, errPath)})` };
            return alignForecast(c.times, parsePeerCsv(readFileSync(f, 'utf8'), LEVELS), LEVELS);
          },
          records,
          method,
        );
        methods[method] = { label: LABELS[method], wallSeconds: run.wallSeconds, exitCode: run.code, ...res };
      }
    }

    const daily = Math.round(86_400 / step);
    /** @type {import('./report.mjs').BenchResult} */
    const result = {
      mode: opt.quick ? 'quick' : 'full',
      date: new Date().toISOString(),
      machine,
      setup: {
        vms: prep.vms,
        originsPerVm: prep.originsPerVm,
        spacingSteps: prep.spacing,
        horizonSteps: horizon,
        stepSeconds: step,
        levels: LEVELS,
        msisLevel: MSIS_LEVEL,
        dailyPeriod: daily,
        weeklyPeriod: 7 * daily,
        command: `node ${relative(REPO, join(opt.dist, 'cli', 'main.js'))} ${umbraArgs.join(' ').replace(trainDir, '<dir of training files>')}`,
      },
      methods,
      cases: [...records.values()],
    };
    mkdirSync(opt.outDir, { recursive: true });
    const md = renderReport(result);
    writeFileSync(join(opt.outDir, 'forecast.md'), md);
    writeFileSync(join(opt.outDir, 'forecast.json'), JSON.stringify({ ...result, verdicts: verdicts(methods) }, null, 1) + '\n');
    log(`wrote ${relative(REPO, join(opt.outDir, 'forecast.md'))} and forecast.json`);
    process.stdout.write(md);
    const empty = Object.entries(methods).filter(([, m]) => !m.aggregate).map(([n]) => n);
    if (empty.length) {
      log(`no usable forecast from: ${empty.join(', ')}`);
      process.exitCode = 1;
    }
  } finally {
    if (opt.keep) log(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
