import type { SeriesForecast } from '../forecast/types.js';
import { formatDuration } from '../core/duration.js';
import { formatTicks, formatUtcDateTime, formatValue, niceTicks, timeTickLabel, timeTicks } from './ticks.js';
import { escapeXml, num } from './xml.js';

/** What {@link renderForecastSvg} draws: the recent history of one metric and its forecast. */
export interface ForecastPlotInput {
  series: string;
  metric: string;
  unit: string;
  /** The regular history the forecast was made from; `values[i]` is at `t0 + i * step`. */
  history: { t0: number; step: number; values: Float64Array; imputed?: Uint8Array };
  forecast: SeriesForecast;
  /** History steps to show before the origin (default: 3 days, at least twice the horizon). */
  tailSteps?: number;
  /** Image size in px (default 960 × 420). */
  width?: number;
  height?: number;
}

/** Colours: a dark history line, a blue forecast with two blue bands, light grid. */
const C = {
  history: '#3a3f47',
  imputed: '#b0b5bd',
  mean: '#1f5fbf',
  band: '#2f7be0',
  grid: '#e6e8eb',
  gridMajor: '#cfd3d8',
  axis: '#5b616b',
  text: '#1f2328',
  muted: '#5b616b',
  origin: '#d0661a',
  forecastBg: '#f4f8fd',
};
const FONT = "'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif";

/** Band opacities from the widest level (lightest) to the narrowest (darkest). */
function bandOpacity(rank: number, count: number): number {
  if (count === 1) return 0.3;
  return 0.16 + (0.22 * rank) / (count - 1);
}

/**
 * Renders one forecast as a standalone SVG document: the history tail, the forecast mean, a
 * shaded band per interval level (the widest lightest), a line at the forecast origin, UTC time
 * and SI value axes, a title (series · metric · model) and a legend. Pure: string out.
 */
export function renderForecastSvg(input: ForecastPlotInput): string {
  const W = input.width ?? 960;
  const H = input.height ?? 420;
  const { history, forecast } = input;
  const step = history.step;
  const pts = forecast.points;
  const n = history.values.length;

  const horizonSteps = pts.length;
  const tail = Math.min(n, input.tailSteps ?? defaultTailSteps(step, horizonSteps * forecast.stepSeconds));
  const from = n - tail;
  const originT = n > 0 ? history.t0 + (n - 1) * step : pts.length ? pts[0].t - forecast.stepSeconds : 0;

  const levels = pts.length ? Object.keys(pts[0].intervals).sort((a, b) => Number(b) - Number(a)) : [];

  // ---- domains
  const range = valueRange(history.values, from, pts, levels);
  let { lo, hi } = range;
  // Usage metrics are mostly non-negative: anchor at zero when the data sits not far above it.
  if (lo >= 0 && lo < 0.35 * hi) lo = 0;

  const tStart = n > 0 ? history.t0 + from * step : originT;
  const tEnd = pts.length ? pts[pts.length - 1].t : originT + step;

  // ---- layout
  const m = { left: 78, right: 24, top: 74, bottom: 62 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const yt = niceTicks(lo, hi, Math.max(3, Math.round(ph / 55)));
  const xt = timeTicks(tStart, tEnd, Math.max(3, Math.floor(pw / 95)));
  const x = (t: number) => m.left + ((t - tStart) / (tEnd - tStart || 1)) * pw;
  const y = (v: number) => m.top + ph - ((v - yt.min) / (yt.max - yt.min)) * ph;

  const out: string[] = [];
  const unitText = input.unit ? ` (${input.unit})` : '';
  const title = `${input.series} · ${input.metric} · ${forecast.model}`;
  const horizon = horizonSteps * forecast.stepSeconds;
  const subtitle = `step ${formatDuration(step)} · horizon ${formatDuration(horizon)} · forecast from ${formatUtcDateTime(originT)}`;

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${escapeXml(FONT)}" role="img" aria-labelledby="title desc">`,
    `<title id="title">${escapeXml(title)}</title>`,
    `<desc id="desc">${escapeXml(`${subtitle}. History (last ${formatDuration(tail * step)}), forecast mean and ${levels.map((l) => `${l} %`).join(' and ')} prediction intervals.`)}</desc>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
  );

  // ---- title and subtitle
  out.push(
    `<text x="${m.left}" y="26" font-size="17" font-weight="bold" fill="${C.text}">${escapeXml(title)}</text>`,
    `<text x="${m.left}" y="46" font-size="12.5" fill="${C.muted}">${escapeXml(subtitle)}</text>`,
  );

  // ---- forecast region background, grid, axes
  const xo = x(originT);
  out.push(`<rect x="${num(xo)}" y="${m.top}" width="${num(m.left + pw - xo)}" height="${ph}" fill="${C.forecastBg}"/>`);
  out.push('<g class="grid" stroke-width="1" shape-rendering="crispEdges">');
  for (const v of yt.ticks) out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${num(y(v))}" y2="${num(y(v))}" stroke="${C.grid}"/>`);
  for (const t of xt.ticks) {
    const major = t % 86400 === 0;
    out.push(`<line x1="${num(x(t))}" x2="${num(x(t))}" y1="${m.top}" y2="${m.top + ph}" stroke="${major ? C.gridMajor : C.grid}"/>`);
  }
  out.push('</g>');

  // ---- data, clipped to the plot area (spikes above a clipped axis leave through the top)
  out.push(`<clipPath id="plot-area"><rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}"/></clipPath>`);
  out.push('<g clip-path="url(#plot-area)">');
  // ---- bands (widest first so narrower, darker ones sit on top)
  out.push('<g class="bands">');
  levels.forEach((level, rank) => {
    let d = '';
    for (let i = 0; i < pts.length; i++) d += `${i ? 'L' : 'M'}${num(x(pts[i].t))},${num(y(pts[i].intervals[level][1]))}`;
    for (let i = pts.length - 1; i >= 0; i--) d += `L${num(x(pts[i].t))},${num(y(pts[i].intervals[level][0]))}`;
    out.push(`<path class="band band-${escapeXml(level)}" data-level="${escapeXml(level)}" d="${d}Z" fill="${C.band}" fill-opacity="${num(bandOpacity(rank, levels.length))}" stroke="none"/>`);
  });
  out.push('</g>');

  // ---- history (imputed stretches drawn light, NaN breaks the line)
  out.push(historyPaths(input, from, x, y));

  // ---- forecast mean
  if (pts.length) {
    let d = '';
    for (let i = 0; i < pts.length; i++) d += `${i ? 'L' : 'M'}${num(x(pts[i].t))},${num(y(pts[i].mean))}`;
    out.push(`<path class="mean" d="${d}" fill="none" stroke="${C.mean}" stroke-width="2" stroke-linejoin="round"/>`);
  }

  out.push('</g>');

  // ---- origin line and its label
  out.push(
    `<line class="origin" x1="${num(xo)}" x2="${num(xo)}" y1="${m.top}" y2="${m.top + ph}" stroke="${C.origin}" stroke-width="1.5" stroke-dasharray="5 4"/>`,
    xo + 90 < m.left + pw
      ? `<text x="${num(xo + 6)}" y="${m.top + 15}" font-size="12" fill="${C.origin}">forecast →</text>`
      : `<text x="${num(xo - 6)}" y="${m.top + 15}" font-size="12" fill="${C.origin}" text-anchor="end">← history · forecast</text>`,
  );
  if (range.clipped > 0) {
    const note = `${range.clipped} value${range.clipped === 1 ? '' : 's'} above the axis (max ${formatValue(range.max)}${input.unit ? ` ${input.unit}` : ''})`;
    out.push(`<text class="clip-note" x="${m.left}" y="62" font-size="11.5" fill="${C.origin}">▲ ${escapeXml(note)}</text>`);
  }

  // ---- axes
  out.push(`<g class="axes" fill="${C.text}" font-size="12">`);
  out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="${C.axis}" shape-rendering="crispEdges"/>`);
  out.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}" stroke="${C.axis}" shape-rendering="crispEdges"/>`);
  const ylabels = formatTicks(yt.ticks, yt.step);
  yt.ticks.forEach((v, i) => {
    out.push(`<text x="${m.left - 8}" y="${num(y(v) + 4)}" text-anchor="end">${escapeXml(ylabels[i])}</text>`);
  });
  xt.ticks.forEach((t, i) => {
    const { time, date } = timeTickLabel(t, xt.step, i === 0);
    const tx = num(x(t));
    out.push(`<line x1="${tx}" x2="${tx}" y1="${m.top + ph}" y2="${m.top + ph + 5}" stroke="${C.axis}"/>`);
    if (time) out.push(`<text x="${tx}" y="${m.top + ph + 19}" text-anchor="middle">${time}</text>`);
    if (date) out.push(`<text x="${tx}" y="${m.top + ph + (time ? 35 : 19)}" text-anchor="middle" font-weight="bold">${escapeXml(date)}</text>`);
  });
  out.push(`<text x="${m.left + pw}" y="${H - 8}" text-anchor="end" font-size="11" fill="${C.muted}">time (UTC)</text>`);
  const yTitle = `${input.metric}${unitText}`;
  out.push(`<text transform="translate(18 ${num(m.top + ph / 2)}) rotate(-90)" text-anchor="middle" font-size="12.5">${escapeXml(yTitle)}</text>`);
  out.push('</g>');

  // ---- legend (top right, above the plot)
  out.push(legend(levels, W - m.right, 62));

  if (!pts.length) out.push(`<text x="${num(m.left + pw / 2)}" y="${num(m.top + ph / 2)}" text-anchor="middle" font-size="14" fill="${C.muted}">no forecast points</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function historyPaths(input: ForecastPlotInput, from: number, x: (t: number) => number, y: (v: number) => number): string {
  const { t0, step, values, imputed } = input.history;
  let observed = '';
  let filled = '';
  let penObserved = false;
  let penFilled = false;
  for (let i = from; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      penObserved = penFilled = false;
      continue;
    }
    const px = num(x(t0 + i * step));
    const py = num(y(v));
    const isImputed = imputed !== undefined && imputed[i] === 1;
    // An imputed stretch is drawn light and joins its observed neighbours on both sides.
    if (isImputed) {
      if (!penFilled) {
        const prev = i - 1 >= from && Number.isFinite(values[i - 1]) ? `M${num(x(t0 + (i - 1) * step))},${num(y(values[i - 1]))}L` : 'M';
        filled += prev;
      } else filled += 'L';
      filled += `${px},${py}`;
      penFilled = true;
      penObserved = false;
    } else {
      if (penFilled) filled += `L${px},${py}`;
      penFilled = false;
      observed += `${penObserved ? 'L' : 'M'}${px},${py}`;
      penObserved = true;
    }
  }
  let s = '';
  if (filled) s += `<path class="imputed" d="${filled}" fill="none" stroke="${C.imputed}" stroke-width="1.3" stroke-dasharray="3 3"/>\n`;
  if (observed) s += `<path class="history" d="${observed}" fill="none" stroke="${C.history}" stroke-width="1.3" stroke-linejoin="round"/>`;
  return s;
}

function legend(levels: string[], right: number, baseline: number): string {
  type Item = { label: string; swatch: string; width: number };
  const items: Item[] = [];
  const approx = (s: string) => s.length * 6.8;
  const line = (color: string, w: number) => (x: number) => `<line x1="${num(x)}" x2="${num(x + 22)}" y1="${baseline - 4}" y2="${baseline - 4}" stroke="${color}" stroke-width="${w}"/>`;
  items.push({ label: 'history', swatch: 'history', width: 0 });
  items.push({ label: 'forecast mean', swatch: 'mean', width: 0 });
  // narrowest level first in the legend (it is what the eye reads first)
  [...levels].reverse().forEach((l) => items.push({ label: `${l} % interval`, swatch: `band:${l}`, width: 0 }));
  for (const it of items) it.width = 22 + 6 + approx(it.label) + 18;
  let xpos = right - items.reduce((a, it) => a + it.width, 0) + 18;
  const parts: string[] = [`<g class="legend" font-size="12" fill="${C.text}">`];
  for (const it of items) {
    if (it.swatch === 'history') parts.push(line(C.history, 1.6)(xpos));
    else if (it.swatch === 'mean') parts.push(line(C.mean, 2.2)(xpos));
    else {
      const level = it.swatch.slice(5);
      // The swatch shows what the eye sees inside the band: its own shade over every wider one.
      const rank = levels.indexOf(level);
      let clear = 1;
      for (let r = 0; r <= rank; r++) clear *= 1 - bandOpacity(r, levels.length);
      parts.push(`<rect x="${num(xpos)}" y="${baseline - 11}" width="22" height="12" fill="${C.band}" fill-opacity="${num(1 - clear)}"/>`);
    }
    parts.push(`<text x="${num(xpos + 28)}" y="${baseline}">${escapeXml(it.label)}</text>`);
    xpos += it.width;
  }
  parts.push('</g>');
  return parts.join('\n');
}

/** History shown before the origin: four horizons, at least 12 hours and at most 3 days. */
export function defaultTailSteps(step: number, horizonSeconds: number): number {
  const seconds = Math.min(3 * 86400, Math.max(12 * 3600, 4 * horizonSeconds));
  return Math.max(1, Math.round(seconds / step));
}

/**
 * The value range to draw. A few spikes far above everything else would flatten the rest of the
 * plot, so when the maximum is over 1.5× the 99th percentile the axis stops a little above that
 * percentile and the values beyond it are counted (`clipped`) for a note on the plot.
 */
export function valueRange(
  values: Float64Array,
  from: number,
  points: readonly { mean: number; intervals: Record<string, [number, number]> }[],
  levels: readonly string[],
): { lo: number; hi: number; max: number; clipped: number } {
  const all = new Float64Array(values.length - from + points.length * (1 + 2 * levels.length));
  let k = 0;
  for (let i = from; i < values.length; i++) if (Number.isFinite(values[i])) all[k++] = values[i];
  for (const p of points) {
    if (Number.isFinite(p.mean)) all[k++] = p.mean;
    for (const l of levels) {
      const iv = p.intervals[l];
      if (!iv) continue;
      if (Number.isFinite(iv[0])) all[k++] = iv[0];
      if (Number.isFinite(iv[1])) all[k++] = iv[1];
    }
  }
  if (k === 0) return { lo: 0, hi: 1, max: 1, clipped: 0 };
  const sorted = all.subarray(0, k).sort();
  const lo = sorted[0];
  const max = sorted[k - 1];
  const q99 = sorted[Math.min(k - 1, Math.floor(0.99 * (k - 1)))];
  if (k >= 50 && q99 > lo && max - lo > 1.5 * (q99 - lo)) {
    const hi = lo + 1.25 * (q99 - lo);
    let clipped = 0;
    for (let i = from; i < values.length; i++) if (values[i] > hi) clipped++;
    for (const p of points) if (p.mean > hi) clipped++;
    return { lo, hi, max, clipped };
  }
  return { lo, hi: max, max, clipped: 0 };
}
