import { describe, expect, it } from 'vitest';
import type { SeriesForecast } from '../forecast/types.js';
import { horizonStats, plotFileName, renderSummaryHtml, renderSummaryMarkdown } from './summary.js';

function forecast(series: string, steps: number): SeriesForecast {
  const points = [];
  for (let k = 1; k <= steps; k++) points.push({ t: 1_000_000 + k * 300, mean: k, intervals: { '80': [k - 1, k + 1] as [number, number], '95': [k - 2, k + 2] as [number, number] } });
  return {
    series,
    metric: 'cpu_mhz',
    unit: 'MHz',
    stepSeconds: 300,
    model: 'mstl',
    points,
    diagnostics: {
      seasonalities: [
        { name: 'daily', period: 288, strength: 0.71, significant: true },
        { name: 'weekly', period: 2016, strength: 0.12, significant: false },
      ],
      regularization: { stepSeconds: 300, snapped: 3, reordered: false, duplicatesMerged: 0, interpolated: 2, longGaps: [] },
      backtest: { snaive: 1, mstl: 0.8 },
    },
  };
}

describe('horizonStats', () => {
  it('picks the point exactly h after the origin and skips horizons past the forecast', () => {
    const st = horizonStats(forecast('a', 288), [3600, 21600, 86400, 172800]);
    expect(st.map((s) => s.horizonSeconds)).toEqual([3600, 21600, 86400]);
    expect(st.map((s) => s.point.mean)).toEqual([12, 72, 288]);
  });
});

describe('renderSummaryHtml', () => {
  it('lists every series with model, significant seasonalities and horizon stats, escaped', () => {
    const html = renderSummaryHtml(
      [
        { forecast: forecast('vm<1>', 288), plotHref: 'plots/vm_1_.cpu_mhz.svg' },
        { forecast: forecast('vm2', 12), plotSvg: '<svg xmlns="http://www.w3.org/2000/svg"></svg>' },
      ],
      { generatedAt: '2024-01-01 00:00 UTC', failures: [{ series: 'bad', error: 'bad.csv:3: not a number' }] },
    );
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('vm&lt;1&gt;');
    expect(html).not.toContain('vm<1>');
    expect(html).toContain('daily (0.71)');
    expect(html).not.toContain('weekly (0.12)');
    expect(html).toContain('<th>+1h: mean [95 %]</th>');
    expect(html).toContain('<th>+24h: mean [95 %]</th>');
    // +1h of vm<1>: mean 12, 95 % [10, 14]; vm2 has only 1 h of forecast
    expect(html).toContain('<td class="num">12 [10, 14]</td>');
    expect(html).toContain('<img src="plots/vm_1_.cpu_mhz.svg"');
    expect(html).toContain('<div class="plot"><svg');
    expect(html).toContain('bad.csv:3: not a number');
    expect(html).toContain('mstl 0.800, snaive 1.000');
    expect(html).toContain('2 forecasts, 1 failed');
  });
});

describe('renderSummaryMarkdown', () => {
  it('writes an overview table with links to the plots', () => {
    const md = renderSummaryMarkdown([{ forecast: forecast('a|b', 288), plotHref: 'plots/a.svg' }]);
    const lines = md.split('\n');
    expect(lines[0]).toBe('# Umbra forecast report');
    expect(md).toContain('| a\\|b | cpu_mhz | MHz | mstl | daily (0.71) | 12 [10, 14] | 72 [70, 74] | 288 [286, 290] | [svg](plots/a.svg) |');
  });
});

describe('plotFileName', () => {
  it('makes safe, stable names', () => {
    expect(plotFileName('15', 'cpu_mhz')).toBe('15.cpu_mhz.svg');
    expect(plotFileName('../etc/passwd', 'a b')).toBe('__etc_passwd.a_b.svg');
  });
});
