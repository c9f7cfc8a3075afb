import { formatDuration } from '../core/duration.js';
import type { ForecastPoint, SeriesForecast } from '../forecast/types.js';
import { formatUtcDateTime, formatValue } from './ticks.js';
import { escapeXml } from './xml.js';

/** One forecast in the report, with its plot (a link to an SVG file, or the SVG inline). */
export interface SummaryItem {
  forecast: SeriesForecast;
  /** Relative URL of the plot (e.g. `plots/15.cpu_mhz.svg`). */
  plotHref?: string;
  /** The plot's SVG text, embedded in the page instead of linked. */
  plotSvg?: string;
}

/** A series that could not be forecast, listed with its reason. */
export interface SummaryFailure {
  series: string;
  metric?: string;
  /** The error, ideally `file:line: message`. */
  error: string;
}

export interface SummaryOptions {
  /** Page title (default `Umbra forecast report`). */
  title?: string;
  /** When the report was made, as text (the caller's clock; this module never reads one). */
  generatedAt?: string;
  /** Horizons (seconds) whose step is summarised; those beyond a forecast are skipped. Default 1 h, 6 h, 24 h. */
  horizons?: number[];
  /** Series that failed. */
  failures?: SummaryFailure[];
  /** Extra lines under the title (inputs, command line, wall time). */
  notes?: string[];
}

const DEFAULT_HORIZONS = [3600, 21600, 86400];

/** A forecast's value at one horizon: the point `horizonSeconds` after the origin. */
export interface HorizonStat {
  horizonSeconds: number;
  point: ForecastPoint;
}

/** The points at the given horizons (exact steps only; horizons past the forecast are skipped). */
export function horizonStats(f: SeriesForecast, horizons: readonly number[] = DEFAULT_HORIZONS): HorizonStat[] {
  const out: HorizonStat[] = [];
  for (const h of horizons) {
    const k = Math.round(h / f.stepSeconds);
    if (k >= 1 && k <= f.points.length && Math.abs(k * f.stepSeconds - h) < 1e-9) out.push({ horizonSeconds: h, point: f.points[k - 1] });
  }
  return out;
}

function levelsOf(f: SeriesForecast): string[] {
  return f.points.length ? Object.keys(f.points[0].intervals).sort((a, b) => Number(a) - Number(b)) : [];
}

function seasonalityText(f: SeriesForecast): string {
  const s = f.diagnostics?.seasonalities.filter((x) => x.significant) ?? [];
  if (!f.diagnostics) return '–';
  return s.length ? s.map((x) => `${x.name} (${x.strength.toFixed(2)})`).join(', ') : 'none';
}

function statText(st: HorizonStat, levels: string[]): string {
  const p = st.point;
  const widest = levels[levels.length - 1];
  const iv = widest ? p.intervals[widest] : undefined;
  return iv ? `${formatValue(p.mean)} [${formatValue(iv[0])}, ${formatValue(iv[1])}]` : formatValue(p.mean);
}

function anchor(f: SeriesForecast): string {
  return `s-${f.series}-${f.metric}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

function horizonsShown(items: readonly SummaryItem[], horizons: readonly number[]): number[] {
  return horizons.filter((h) => items.some((it) => horizonStats(it.forecast, [h]).length > 0));
}

const CSS = `
body { font-family: 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif; color: #1f2328; margin: 2rem auto; max-width: 1040px; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2.4rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
.notes { color: #5b616b; margin: 0 0 1.2rem; padding: 0; list-style: none; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: .8rem 0; }
th, td { border-bottom: 1px solid #e6e8eb; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.plot { margin: .6rem 0; } .plot img, .plot svg { max-width: 100%; height: auto; border: 1px solid #e6e8eb; }
.muted { color: #5b616b; } .failed { color: #b42318; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; font-size: .9rem; } dt { color: #5b616b; } dd { margin: 0; }
`;

/**
 * A self-contained HTML report: an overview table (series, metric, unit, model, significant
 * seasonalities, mean and widest interval at each horizon), then one section per forecast with
 * its details and plot, then the failures. Pure: every text is escaped, no clock is read.
 */
export function renderSummaryHtml(items: readonly SummaryItem[], opts: SummaryOptions = {}): string {
  const title = opts.title ?? 'Umbra forecast report';
  const hs = horizonsShown(items, opts.horizons ?? DEFAULT_HORIZONS);
  const e = escapeXml;
  const out: string[] = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${e(title)}</title>`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<style>${CSS}</style></head><body>`,
    `<h1>${e(title)}</h1>`,
  ];
  const notes = [...(opts.generatedAt ? [`generated ${opts.generatedAt}`] : []), ...(opts.notes ?? [])];
  notes.push(`${items.length} forecast${items.length === 1 ? '' : 's'}${opts.failures?.length ? `, ${opts.failures.length} failed` : ''}`);
  out.push(`<ul class="notes">${notes.map((n) => `<li>${e(n)}</li>`).join('')}</ul>`);

  const widest = items.length ? levelsOf(items[0].forecast).slice(-1)[0] : undefined;
  out.push('<table class="overview"><thead><tr><th>series</th><th>metric</th><th>unit</th><th>model</th><th>seasonality (strength)</th>');
  for (const h of hs) out.push(`<th>+${e(formatDuration(h))}: mean${widest ? ` [${e(widest)} %]` : ''}</th>`);
  out.push('</tr></thead><tbody>');
  for (const it of items) {
    const f = it.forecast;
    const stats = new Map(horizonStats(f, hs).map((s) => [s.horizonSeconds, s]));
    const levels = levelsOf(f);
    out.push(
      `<tr><td><a href="#${anchor(f)}">${e(f.series)}</a></td><td>${e(f.metric)}</td><td>${e(f.unit || '–')}</td><td>${e(f.model)}</td><td>${e(seasonalityText(f))}</td>`,
    );
    for (const h of hs) {
      const st = stats.get(h);
      out.push(`<td class="num">${st ? e(statText(st, levels)) : '–'}</td>`);
    }
    out.push('</tr>');
  }
  out.push('</tbody></table>');

  for (const it of items) out.push(section(it, hs));

  if (opts.failures?.length) {
    out.push('<h2 id="failures">Failed series</h2><table><thead><tr><th>series</th><th>metric</th><th>error</th></tr></thead><tbody>');
    for (const fl of opts.failures) out.push(`<tr class="failed"><td>${e(fl.series)}</td><td>${e(fl.metric ?? '–')}</td><td>${e(fl.error)}</td></tr>`);
    out.push('</tbody></table>');
  }
  out.push('</body></html>');
  return out.join('\n') + '\n';
}

function section(it: SummaryItem, hs: readonly number[]): string {
  const e = escapeXml;
  const f = it.forecast;
  const levels = levelsOf(f);
  const out: string[] = [`<h2 id="${anchor(f)}">${e(f.series)} · ${e(f.metric)}</h2>`, '<dl>'];
  const dd = (k: string, v: string) => out.push(`<dt>${e(k)}</dt><dd>${e(v)}</dd>`);
  dd('model', f.model);
  dd('step', formatDuration(f.stepSeconds));
  if (f.points.length) dd('forecast', `${formatUtcDateTime(f.points[0].t)} → ${formatUtcDateTime(f.points[f.points.length - 1].t)} (${f.points.length} steps)`);
  const d = f.diagnostics;
  if (d) {
    dd('seasonality', d.seasonalities.length ? d.seasonalities.map((s) => `${s.name} = ${s.period} steps, strength ${s.strength.toFixed(2)}${s.significant ? '' : ' (not used)'}`).join('; ') : 'none found');
    const bt = Object.entries(d.backtest).sort((a, b) => a[1] - b[1]);
    if (bt.length) dd('backtest (MAE ÷ seasonal naive)', bt.map(([m, v]) => `${m} ${v.toFixed(3)}`).join(', '));
    const r = d.regularization;
    dd('regularization', `${r.snapped} snapped, ${r.duplicatesMerged} merged, ${r.interpolated} interpolated, ${r.longGaps.length} long gap(s)${r.reordered ? ', reordered' : ''}`);
    for (const res of d.resources ?? []) {
      const st = horizonStats({ ...f, points: res.points }, hs).map((s) => `+${formatDuration(s.horizonSeconds)} ${statText(s, levels)}`);
      dd(`as ${res.resource} (${res.unit})`, `${st.join('; ')} — ${res.derivation}`);
    }
  }
  out.push('</dl>');
  const stats = horizonStats(f, hs);
  if (stats.length) {
    out.push(`<table><thead><tr><th>horizon</th><th>time (UTC)</th><th>mean</th>${levels.map((l) => `<th>${e(l)} % interval</th>`).join('')}</tr></thead><tbody>`);
    for (const s of stats) {
      const cells = levels.map((l) => `<td class="num">${e(formatValue(s.point.intervals[l][0]))} – ${e(formatValue(s.point.intervals[l][1]))}</td>`).join('');
      out.push(`<tr><td>+${e(formatDuration(s.horizonSeconds))}</td><td>${e(formatUtcDateTime(s.point.t))}</td><td class="num">${e(formatValue(s.point.mean))}</td>${cells}</tr>`);
    }
    out.push('</tbody></table>');
  }
  if (it.plotSvg) out.push(`<div class="plot">${stripXmlProlog(it.plotSvg)}</div>`);
  else if (it.plotHref) out.push(`<div class="plot"><a href="${e(it.plotHref)}"><img src="${e(it.plotHref)}" alt="${e(`${f.series} ${f.metric} forecast`)}" loading="lazy"></a></div>`);
  return out.join('\n');
}

function stripXmlProlog(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, '');
}

/** The same report as Markdown (overview table, failures, links to the plots). */
export function renderSummaryMarkdown(items: readonly SummaryItem[], opts: SummaryOptions = {}): string {
  const hs = horizonsShown(items, opts.horizons ?? DEFAULT_HORIZONS);
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const widest = items.length ? levelsOf(items[0].forecast).slice(-1)[0] : undefined;
  const out: string[] = [`# ${opts.title ?? 'Umbra forecast report'}`, ''];
  if (opts.generatedAt) out.push(`Generated ${opts.generatedAt}.`, '');
  for (const n of opts.notes ?? []) out.push(`- ${n}`);
  if (opts.notes?.length) out.push('');
  const head = ['series', 'metric', 'unit', 'model', 'seasonality', ...hs.map((h) => `+${formatDuration(h)} mean${widest ? ` [${widest} %]` : ''}`), 'plot'];
  out.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  for (const it of items) {
    const f = it.forecast;
    const levels = levelsOf(f);
    const stats = new Map(horizonStats(f, hs).map((s) => [s.horizonSeconds, s]));
    const row = [f.series, f.metric, f.unit || '–', f.model, seasonalityText(f), ...hs.map((h) => (stats.has(h) ? statText(stats.get(h)!, levels) : '–')), it.plotHref ? `[svg](${it.plotHref})` : ''];
    out.push(`| ${row.map(cell).join(' | ')} |`);
  }
  if (opts.failures?.length) {
    out.push('', '## Failed series', '');
    for (const fl of opts.failures) out.push(`- ${fl.series}${fl.metric ? ` · ${fl.metric}` : ''}: ${fl.error}`);
  }
  return out.join('\n') + '\n';
}

/** A safe, stable file name for a series' plot: `15.cpu_mhz.svg` (other characters become `_`). */
export function plotFileName(series: string, metric: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return `${safe(series)}.${safe(metric)}.svg`;
}
