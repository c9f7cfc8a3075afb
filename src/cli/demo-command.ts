/**
 * `umbra demo`: forecasts every shared Bitbrains VM (every metric) and writes a report:
 * out/demo/index.html and summary.md with one SVG plot per VM and metric, and forecasts.json.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { availableParallelism } from 'node:os';
import { UsageError } from '../core/errors.js';
import { executeForecast, forecastJson, planForecast, writePlots } from './forecast-command.js';
import { formatJobError } from '../fleet/job.js';
import type { IO } from './commands.js';
import { EXIT } from './exit-codes.js';

export interface DemoArgs {
  data?: string;
  out?: string;
  metric?: string[];
  workers?: string;
  quiet?: boolean;
}

/** The shared data folder: $UMBRA_DATA, else ../shared/data beside the repository. */
export function defaultDataDir(): string {
  if (process.env.UMBRA_DATA) return resolve(process.env.UMBRA_DATA);
  const repo = fileURLToPath(new URL('../../', import.meta.url));
  return resolve(repo, '../shared/data');
}

export async function demoCommand(args: DemoArgs, io: IO, now: () => Date = () => new Date()): Promise<number> {
  const data = args.data ? resolve(args.data) : defaultDataDir();
  const bitbrains = join(data, 'bitbrains/rnd/2013-8');
  if (!existsSync(bitbrains)) throw new UsageError(`demo: no Bitbrains traces at ${bitbrains} (set UMBRA_DATA or --data to the shared data folder)`);
  const out = resolve(args.out ?? 'out/demo');
  const plots = join(out, 'plots');
  mkdirSync(plots, { recursive: true });

  const plan = planForecast({ input: [bitbrains], horizon: '1h,6h,24h', levels: '80,95', plot: plots, metric: args.metric, workers: args.workers });
  if (!args.quiet) io.stderr(`umbra demo: forecasting ${relative(process.cwd(), bitbrains) || bitbrains} (every VM, ${args.metric?.join(', ') ?? 'every metric'}; horizons 1h, 6h, 24h)\n`);
  const t0 = performance.now();
  const run = await executeForecast(plan, { progress: !args.quiet && process.stderr.isTTY === true });
  const seconds = (performance.now() - t0) / 1000;
  const files = await writePlots(run, plots);

  const { renderSummaryHtml, renderSummaryMarkdown } = await import('../report/index.js');
  const items = run.forecasts.map((forecast, i) => ({ forecast, plotHref: `plots/${files[i]}` }));
  const failures = run.errors.map((e) => ({ series: e.series ?? e.file ?? 'input', metric: e.metric, error: formatJobError(e) }));
  const models = new Map<string, number>();
  for (const f of run.forecasts) models.set(f.model, (models.get(f.model) ?? 0) + 1);
  const notes = [
    `Input: ${bitbrains} (Bitbrains GWA-T-12 Rnd, August 2013; research use, cite Shen, van Beek, Iosup, CCGrid 2015).`,
    `${run.forecasts.length} series forecast, ${run.errors.length} failed, in ${seconds.toFixed(1)} s on ${plan.workers ?? availableParallelism()} worker thread(s).`,
    `Models chosen: ${[...models].sort((a, b) => b[1] - a[1]).map(([m, n]) => `${m} × ${n}`).join(', ')}.`,
  ];
  const opts = { title: 'Umbra demo: forecasts of the Bitbrains VMs', generatedAt: now().toISOString(), horizons: plan.horizons, failures, notes };
  writeFileSync(join(out, 'index.html'), renderSummaryHtml(items, opts));
  writeFileSync(join(out, 'summary.md'), renderSummaryMarkdown(items, opts));
  writeFileSync(join(out, 'forecasts.json'), JSON.stringify(forecastJson(run, true)));
  for (const e of run.errors) io.stderr(`umbra demo: ${formatJobError(e)}\n`);
  io.stdout(
    [
      ...notes,
      `Report: ${join(out, 'index.html')}`,
      `Summary: ${join(out, 'summary.md')}`,
      `Plots: ${plots}/ (${files.length} SVG)`,
      `Forecasts: ${join(out, 'forecasts.json')}`,
    ].join('\n') + '\n',
  );
  return run.errors.length ? EXIT.PARTIAL : EXIT.OK;
}
