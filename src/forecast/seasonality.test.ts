import { describe, expect, it } from 'vitest';
import { Rng } from './numeric/random.js';
import { detectSeasonalities, significantSeasonalities } from './seasonality.js';

function noisySine(n: number, period: number, amp: number, sd: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = 10 + amp * Math.sin((2 * Math.PI * i) / period) + sd * rng.normal();
  return y;
}

describe('detectSeasonalities', () => {
  it('recovers a daily sine at step 300 (period 288) as significant', () => {
    const y = noisySine(288 * 10, 288, 1, 0.5, 1);
    const s = detectSeasonalities(y, 300);
    const daily = s.find((x) => x.name === 'daily')!;
    expect(daily.period).toBe(288);
    expect(daily.significant).toBe(true);
    // Var(S)/(Var(S)+Var(R)) = 0.5/(0.5+0.25) ≈ 0.667
    expect(daily.strength).toBeGreaterThan(0.6);
    expect(daily.strength).toBeLessThan(0.73);
    // Ten days hold one weekly cycle only: weekly is listed but not tested.
    const weekly = s.find((x) => x.name === 'weekly')!;
    expect(weekly.period).toBe(2016);
    expect(weekly.significant).toBe(false);
    expect(significantSeasonalities(s).map((x) => x.period)).toEqual([288]);
  });

  it('does not re-detect a daily cycle as weekly', () => {
    const y = noisySine(2016 * 3, 288, 1, 0.3, 2);
    const s = detectSeasonalities(y, 300);
    expect(s.map((x) => [x.name, x.significant])).toEqual([
      ['daily', true],
      ['weekly', false],
      ['monthly', false],
    ]);
  });

  it('finds daily and weekly cycles together', () => {
    const rng = new Rng(3);
    const n = 2016 * 4;
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const weekend = Math.floor(i / 288) % 7 >= 5 ? -2 : 0;
      y[i] = 5 + Math.sin((2 * Math.PI * i) / 288) + weekend + 0.4 * rng.normal();
    }
    const sig = significantSeasonalities(detectSeasonalities(y, 300));
    expect(sig.map((x) => x.name)).toEqual(['daily', 'weekly']);
  });

  it('finds no seasonality in white noise', () => {
    for (let seed = 10; seed < 15; seed++) {
      const rng = new Rng(seed);
      const y = new Float64Array(2016 * 4);
      for (let i = 0; i < y.length; i++) y[i] = rng.normal();
      const s = detectSeasonalities(y, 300);
      expect(s.every((x) => !x.significant)).toBe(true);
      expect(s[0].strength).toBeLessThan(0.02);
    }
  });

  it('finds no seasonality in a persistent AR(1) process', () => {
    const rng = new Rng(21);
    const y = new Float64Array(2016 * 4);
    for (let i = 1; i < y.length; i++) y[i] = 0.95 * y[i - 1] + rng.normal();
    expect(detectSeasonalities(y, 300).every((x) => !x.significant)).toBe(true);
  });

  it('converts periods with the step and skips periods shorter than 2 steps', () => {
    const y = noisySine(7 * 20, 7, 1, 0.1, 4);
    const s = detectSeasonalities(y, 86_400);
    expect(s.map((x) => [x.name, x.period])).toEqual([
      ['weekly', 7],
      ['monthly', 30],
    ]);
    expect(s[0].significant).toBe(true);
  });
});

describe('detectSeasonalities on short histories', () => {
  it('finds a clean daily wave in exactly 3 days of 5-minute data', () => {
    const n = 3 * 288;
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) y[i] = 50 + 20 * Math.sin((2 * Math.PI * i) / 288) + ((i * 7919) % 11) / 10;
    const daily = detectSeasonalities(y, 300).find((s) => s.name === 'daily')!;
    expect(daily.significant).toBe(true);
    expect(daily.strength).toBeGreaterThan(0.9);
  });
});
