import { describe, expect, it } from 'vitest';
import type { SeriesForecast } from '../forecast/types.js';
import { defaultTailSteps, renderForecastSvg, valueRange } from './forecast-svg.js';

/**
 * A strict-enough XML well-formedness check (no parser is a dependency): balanced tags, one
 * root, quoted attributes without duplicates, no raw `<` or stray `&` in text or attributes.
 * Returns the element names in document order.
 */
function checkWellFormed(xml: string): string[] {
  const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
  const cleanText = (s: string, where: string) => {
    if (s.replace(ENTITY, '').includes('&')) throw new Error(`stray & in ${where}: ${s.slice(0, 60)}`);
  };
  const body = xml.replace(/^<\?xml[^?]*\?>/, '').replace(/<!--[\s\S]*?-->/g, '');
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
  const attr = /([\w:.-]+)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/g;
  const stack: string[] = [];
  const names: string[] = [];
  let roots = 0;
  let i = 0;
  while (i < body.length) {
    const lt = body.indexOf('<', i);
    const text = body.slice(i, lt < 0 ? body.length : lt);
    if (stack.length === 0 && text.trim()) throw new Error(`text outside the root: ${text.trim().slice(0, 40)}`);
    cleanText(text, 'text');
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(body);
    if (!m) throw new Error(`malformed tag at ${lt}: ${body.slice(lt, lt + 60)}`);
    const [, close, name, attrs, selfClose] = m;
    if (close) {
      if (stack.pop() !== name) throw new Error(`unbalanced </${name}>`);
    } else {
      const seen = new Set<string>();
      for (const a of attrs.matchAll(attr)) {
        if (seen.has(a[1])) throw new Error(`duplicate attribute ${a[1]} on <${name}>`);
        seen.add(a[1]);
        cleanText(a[2] ?? a[3] ?? '', `attribute ${a[1]}`);
      }
      if (stack.length === 0) roots++;
      names.push(name);
      if (!selfClose) stack.push(name);
    }
    i = tag.lastIndex;
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (roots !== 1) throw new Error(`expected one root element, got ${roots}`);
  return names;
}

const STEP = 300;
const DAY = 86400;
const T0 = Date.UTC(2013, 7, 25) / 1000;

/** 5 days of a daily sine (mean 1000, amplitude 500) and a 24 h forecast with 80/95 bands. */
function fixture(opts: { series?: string; spike?: boolean } = {}) {
  const n = (5 * DAY) / STEP;
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = 1000 + 500 * Math.sin((2 * Math.PI * i * STEP) / DAY);
  if (opts.spike) values[n - 100] = 50000;
  const origin = T0 + (n - 1) * STEP;
  const points = [];
  for (let k = 1; k <= DAY / STEP; k++) {
    const t = origin + k * STEP;
    const mean = 1000 + 500 * Math.sin((2 * Math.PI * (t - T0)) / DAY);
    points.push({ t, mean, intervals: { '80': [mean - 100, mean + 100] as [number, number], '95': [mean - 160, mean + 160] as [number, number] } });
  }
  const forecast: SeriesForecast = { series: opts.series ?? 'vm-15', metric: 'cpu_mhz', unit: 'MHz', stepSeconds: STEP, model: 'mstl-ets', points };
  return { series: forecast.series, metric: 'cpu_mhz', unit: 'MHz', history: { t0: T0, step: STEP, values }, forecast };
}

describe('renderForecastSvg', () => {
  it('is a well-formed SVG document with both bands, the mean, history and origin', () => {
    const svg = renderForecastSvg(fixture());
    const names = checkWellFormed(svg);
    expect(names[0]).toBe('svg');
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    const bands = [...svg.matchAll(/<path class="band band-(\d+)" data-level="\d+" d="([^"]+)"/g)];
    // widest first (drawn underneath), then the narrower, darker one
    expect(bands.map((b) => b[1])).toEqual(['95', '80']);
    // each band is a closed polygon: 288 upper + 288 lower vertices
    for (const b of bands) {
      expect(b[2].endsWith('Z')).toBe(true);
      expect(b[2].split(/[ML]/).filter(Boolean)).toHaveLength(2 * 288);
    }
    const op = [...svg.matchAll(/class="band band-\d+"[^>]*fill-opacity="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(op[0]).toBeLessThan(op[1]);
    expect(svg).toMatch(/<path class="mean" d="M/);
    expect(svg).toMatch(/<path class="history" d="M/);
    expect(svg).toContain('class="origin"');
    expect(svg).toContain('vm-15 · cpu_mhz · mstl-ets');
    expect(svg).toContain('cpu_mhz (MHz)');
    expect(svg).toContain('80 % interval');
    expect(svg).toContain('95 % interval');
  });

  it('puts the origin line at the last history timestamp and the mean after it', () => {
    const input = fixture();
    const svg = renderForecastSvg(input);
    const xo = Number(/class="origin" x1="([\d.]+)"/.exec(svg)![1]);
    const meanX0 = Number(/<path class="mean" d="M([\d.]+),/.exec(svg)![1]);
    const histXs = [...(/<path class="history" d="([^"]+)"/.exec(svg)![1].matchAll(/[ML]([\d.]+),/g))].map((m) => Number(m[1]));
    expect(histXs[histXs.length - 1]).toBeCloseTo(xo, 1);
    expect(meanX0).toBeGreaterThan(xo);
    // default tail for a 24 h horizon is 3 days: 864 history vertices
    expect(histXs).toHaveLength(864);
  });

  it('escapes text from series names', () => {
    const svg = renderForecastSvg(fixture({ series: 'db<1> & "co"' }));
    checkWellFormed(svg);
    expect(svg).toContain('db&lt;1&gt; &amp; &quot;co&quot;');
    expect(svg).not.toContain('db<1>');
  });

  it('draws y ticks and UTC time ticks', () => {
    const svg = renderForecastSvg(fixture());
    for (const label of ['0', '500', '1,000', '1,500']) expect(svg).toContain(`text-anchor="end">${label}</text>`);
    expect(svg).toContain('>00:00</text>');
    expect(svg).toContain('>Thu 29 Aug</text>');
    expect(svg).toContain('time (UTC)');
  });

  it('clips a lone spike and says so, rather than flattening the plot', () => {
    const svg = renderForecastSvg(fixture({ spike: true }));
    checkWellFormed(svg);
    expect(svg).toContain('1 value above the axis (max 50k MHz)');
    expect(svg).toContain('clip-path="url(#plot-area)"');
  });

  it('renders an empty forecast without failing', () => {
    const input = fixture();
    const svg = renderForecastSvg({ ...input, forecast: { ...input.forecast, points: [] } });
    checkWellFormed(svg);
    expect(svg).toContain('no forecast points');
  });
});

describe('defaultTailSteps', () => {
  it('shows four horizons of history, within 12 h and 3 days', () => {
    expect(defaultTailSteps(300, 6 * 3600)).toBe(288);
    expect(defaultTailSteps(300, 3600)).toBe(144);
    expect(defaultTailSteps(300, DAY)).toBe(864);
  });
});

describe('valueRange', () => {
  it('uses the full range when there is no outlier, and clips far outliers', () => {
    const v = new Float64Array(200);
    for (let i = 0; i < 200; i++) v[i] = i;
    expect(valueRange(v, 0, [], [])).toEqual({ lo: 0, hi: 199, max: 199, clipped: 0 });
    v[150] = 10000;
    const r = valueRange(v, 0, [], []);
    expect(r.max).toBe(10000);
    expect(r.clipped).toBe(1);
    expect(r.hi).toBeLessThan(300);
    expect(r.hi).toBeGreaterThan(197);
  });
});
