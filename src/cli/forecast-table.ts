import type { SeriesForecast } from '../forecast/types.js';
import { formatDuration } from '../core/duration.js';

/** Compact number: 3 significant digits, SI suffix for large values. */
export function fmtNum(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toPrecision(3) + 'G';
  if (a >= 1e6) return (v / 1e6).toPrecision(3) + 'M';
  if (a >= 1e4) return (v / 1e3).toPrecision(3) + 'k';
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toPrecision(3);
  if (a === 0) return '0';
  return v.toPrecision(2);
}

/**
 * A human summary: one row per series/metric with the model and, at each horizon, the mean and
 * the widest interval.
 */
export function renderForecastTable(forecasts: SeriesForecast[], horizons: number[], levels: number[]): string {
  if (!forecasts.length) return 'no forecasts\n';
  const top = String(levels[levels.length - 1]);
  const header = ['series', 'metric', 'unit', 'step', 'model', ...horizons.map((h) => `+${formatDuration(h)} mean [${top}%]`)];
  const rows = forecasts.map((f) => {
    const cells = horizons.map((h) => {
      const i = Math.round(h / f.stepSeconds) - 1;
      const p = f.points[Math.min(f.points.length - 1, Math.max(0, i))];
      if (!p) return '-';
      const iv = p.intervals[top];
      return iv ? `${fmtNum(p.mean)} [${fmtNum(iv[0])}, ${fmtNum(iv[1])}]` : fmtNum(p.mean);
    });
    return [f.series, f.metric, f.unit || '-', formatDuration(f.stepSeconds), f.model, ...cells];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
