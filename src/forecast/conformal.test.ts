import { describe, expect, it } from 'vitest';
import { conformalOffsets, conformalQuantile, originWeights, type ResidualMatrix } from './conformal.js';

/** Deterministic PRNG (mulberry32) so the coverage checks cannot flake. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gauss(u: () => number): number {
  return Math.sqrt(-2 * Math.log(u() + 1e-300)) * Math.cos(2 * Math.PI * u());
}

const P = 48; // "daily" period in steps
const PHI = 0.8;

/** AR(1) + sine + skewed heavy-ish noise (Gaussian plus a centred exponential). */
function simulate(n: number, seed: number): { y: Float64Array; season: Float64Array; x: Float64Array } {
  const u = rng(seed);
  const y = new Float64Array(n);
  const season = new Float64Array(n);
  const x = new Float64Array(n);
  let prev = 0;
  for (let t = 0; t < n; t++) {
    const e = gauss(u) + 1.5 * (-Math.log(1 - u()) - 1);
    prev = PHI * prev + e;
    x[t] = prev;
    season[t] = 10 * Math.sin((2 * Math.PI * t) / P);
    y[t] = season[t] + prev;
  }
  return { y, season, x };
}

type Model = (o: number, h: number) => number;

/** Residuals of `model` at origins first, first+spacing, ... (origin o forecasts y[o+h]). */
function residuals(y: Float64Array, model: Model, first: number, count: number, spacing: number, H: number): ResidualMatrix {
  const values = new Float64Array(count * H);
  for (let k = 0; k < count; k++) {
    const o = first + k * spacing;
    for (let h = 0; h < H; h++) values[k * H + h] = y[o + h] - model(o, h);
  }
  return { origins: count, horizon: H, values };
}

function coverage(res: ResidualMatrix, lower: Float64Array, upper: Float64Array, steps?: [number, number]): number {
  const [from, to] = steps ?? [0, res.horizon];
  let hit = 0;
  let n = 0;
  for (let k = 0; k < res.origins; k++) {
    for (let h = from; h < to; h++) {
      const r = res.values[k * res.horizon + h];
      n++;
      if (r >= lower[h] && r <= upper[h]) hit++;
    }
  }
  return (100 * hit) / n;
}

describe('conformalQuantile', () => {
  it('takes the ceil((n+1)q)-th smallest value', () => {
    const v = Array.from({ length: 99 }, (_, i) => i - 49); // -49..49
    expect(conformalQuantile(v, 0.9)).toBe(40); // rank ceil(100*0.9) = 90 -> -49+89
    const w = Array.from({ length: 19 }, (_, i) => i + 1); // 1..19
    expect(conformalQuantile(w, 0.95)).toBe(19); // rank ceil(20*0.95) = 19
    expect(conformalQuantile(w, 0.5)).toBe(10); // rank 10
    expect(conformalQuantile(w, 0.99)).toBe(19); // rank 20 > n: the largest
    expect(conformalQuantile([NaN, 3, NaN], 0.5)).toBe(3);
  });
});

describe('originWeights', () => {
  it('halves every half-life, newest = 1', () => {
    const w = originWeights(5, 2);
    expect(w[4]).toBe(1);
    expect(w[2]).toBeCloseTo(0.5, 12);
    expect(w[0]).toBeCloseTo(0.25, 12);
    expect([...originWeights(3)]).toEqual([1, 1, 1]);
  });
});

describe('conformalOffsets', () => {
  it('matches the plain conformal quantile when one pool covers every step', () => {
    // 1 origin × 99 steps, residuals -49..49 in scrambled order; a pool as big as the row.
    const H = 99;
    const values = new Float64Array(H);
    for (let h = 0; h < H; h++) values[h] = ((h * 37) % H) - 49;
    const off = conformalOffsets({ origins: 1, horizon: H, values }, [80], { minPool: H, smooth: 1 });
    for (let h = 0; h < H; h++) {
      expect(off.upper[0][h]).toBeCloseTo(40, 9);
      expect(off.lower[0][h]).toBeCloseTo(-40, 9);
    }
  });

  it('agrees with the sorted-rank rule on random pools with ties, for several levels', () => {
    const u = rng(21);
    for (let trial = 0; trial < 20; trial++) {
      const H = 20 + Math.floor(u() * 200);
      const values = new Float64Array(H);
      for (let h = 0; h < H; h++) values[h] = Math.round(gauss(u) * 4) + (u() < 0.1 ? 20 * u() : 0);
      const levels = [50, 80, 90, 95];
      const off = conformalOffsets({ origins: 1, horizon: H, values }, levels, { minPool: H, smooth: 1 });
      levels.forEach((l, i) => {
        const beta = 1 - (1 - l / 100) / 2;
        expect(off.upper[0][0]).toBeGreaterThanOrEqual(0);
        expect(off.upper[i][H >> 1]).toBeCloseTo(Math.max(0, conformalQuantile(values, beta)), 9);
        expect(off.lower[i][H >> 1]).toBeCloseTo(Math.min(0, -conformalQuantile(values.map((v) => -v), beta)), 9);
      });
    }
  });

  it('80 and 95 % intervals of a seasonal-naive model cover fresh data within 2 points', () => {
    const H = 48;
    const { y } = simulate(40_000, 7);
    const snaive: Model = (o, h) => y[o + h - P];
    const calib = residuals(y, snaive, 100, 80, 24, H);
    const fresh = residuals(y, snaive, 100 + 80 * 24 + H, 700, 48, H);
    for (const opts of [{}, { halfLife: 40 }]) {
      const off = conformalOffsets(calib, [80, 95], opts);
      expect(Math.abs(coverage(fresh, off.lower[0], off.upper[0]) - 80)).toBeLessThan(2);
      expect(Math.abs(coverage(fresh, off.lower[1], off.upper[1]) - 95)).toBeLessThan(2);
    }
  });

  it('follows errors that grow with the horizon (AR forecast), per step', () => {
    const H = 48;
    const { y, season, x } = simulate(40_000, 11);
    // The best linear forecast: the known season plus the decaying AR state.
    const ar: Model = (o, h) => season[o + h] + Math.pow(PHI, h + 1) * x[o - 1];
    const calib = residuals(y, ar, 100, 100, 24, H);
    const fresh = residuals(y, ar, 100 + 100 * 24 + H, 700, 48, H);
    const off = conformalOffsets(calib, [80, 95]);
    expect(Math.abs(coverage(fresh, off.lower[0], off.upper[0]) - 80)).toBeLessThan(2);
    expect(Math.abs(coverage(fresh, off.lower[1], off.upper[1]) - 95)).toBeLessThan(2);
    // Step 1 has the innovation's spread only; late steps the AR process's stationary spread.
    expect(off.upper[1][H - 1] - off.lower[1][H - 1]).toBeGreaterThan(1.3 * (off.upper[1][0] - off.lower[1][0]));
    expect(Math.abs(coverage(fresh, off.lower[1], off.upper[1], [0, 4]) - 95)).toBeLessThan(3);
    expect(Math.abs(coverage(fresh, off.lower[1], off.upper[1], [40, 48]) - 95)).toBeLessThan(3);
    // Skew: the noise has a long right tail, so the upper 95 % offset exceeds the lower one.
    expect(off.upper[1][0]).toBeGreaterThan(-off.lower[1][0]);
  });

  it('is nested across levels and never crosses the mean, even for biased residuals', () => {
    const u = rng(3);
    const H = 30;
    const values = new Float64Array(3 * H);
    for (let i = 0; i < values.length; i++) values[i] = 5 + gauss(u); // all forecasts too low
    values[7] = NaN;
    const levels = [99, 50, 80, 95];
    const off = conformalOffsets({ origins: 3, horizon: H, values }, levels, { minPool: 10 });
    expect(off.levels).toEqual([50, 80, 95, 99]);
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < 4; i++) {
        expect(off.lower[i][h]).toBeLessThanOrEqual(0);
        expect(off.upper[i][h]).toBeGreaterThanOrEqual(0);
        if (i > 0) {
          expect(off.lower[i][h]).toBeLessThanOrEqual(off.lower[i - 1][h]);
          expect(off.upper[i][h]).toBeGreaterThanOrEqual(off.upper[i - 1][h]);
        }
      }
      expect(off.lower[0][h]).toBe(0); // every residual is > 0: the lower bound sits at the mean
      expect(off.upper[3][h]).toBeGreaterThan(5);
    }
  });

  it('weights recent origins more when given a half-life', () => {
    const u = rng(5);
    const K = 12;
    const H = 40;
    const values = new Float64Array(K * H);
    for (let k = 0; k < K; k++) {
      const scale = k >= K - 3 ? 4 : 1; // the last three origins are much noisier
      for (let h = 0; h < H; h++) values[k * H + h] = scale * gauss(u);
    }
    const res = { origins: K, horizon: H, values };
    const flat = conformalOffsets(res, [80]);
    const recent = conformalOffsets(res, [80], { halfLife: 1 });
    expect(recent.upper[0][H - 1]).toBeGreaterThan(1.5 * flat.upper[0][H - 1]);
  });

  it('raises the level with ACI when later origins are missed more often', () => {
    const u = rng(9);
    const K = 20;
    const H = 48;
    const values = new Float64Array(K * H);
    for (let k = 0; k < K; k++) {
      const scale = 1 + k / 4; // spread grows over time: past residuals under-cover
      for (let h = 0; h < H; h++) values[k * H + h] = scale * gauss(u);
    }
    const res = { origins: K, horizon: H, values };
    const plain = conformalOffsets(res, [80]);
    const adapted = conformalOffsets(res, [80], { aci: { gamma: 0.05 } });
    expect(plain.effectiveLevels).toEqual([80]);
    expect(adapted.effectiveLevels[0]).toBeGreaterThan(85);
    expect(adapted.upper[0][10]).toBeGreaterThan(plain.upper[0][10]);
  });

  it('rejects levels outside (0, 100) and inconsistent shapes', () => {
    const res = { origins: 2, horizon: 3, values: new Float64Array(6) };
    expect(() => conformalOffsets(res, [100])).toThrow(RangeError);
    expect(() => conformalOffsets(res, [0])).toThrow(RangeError);
    expect(() => conformalOffsets({ ...res, horizon: 4 }, [80])).toThrow(RangeError);
  });
});
