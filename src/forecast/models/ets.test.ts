import { describe, expect, it } from 'vitest';
import { Rng } from '../numeric/random.js';
import { etsForecast, fitEts, fitEtsKind } from './ets.js';

/** 240 points: a level near 10 with deterministic wiggles, then a slow drift. */
function rSeries(): Float64Array {
  const y = new Float64Array(240);
  for (let i = 0; i < 120; i++) {
    const v = 10 + 0.5 * Math.sin(i * 2.3) + 0.3 * Math.cos(i * 0.77);
    y[i] = v;
    y[120 + i] = v + 0.01 * (i + 1);
  }
  return y;
}

describe('ets', () => {
  it('SES matches R forecast::ets(model = "ANN", opt.crit = "mse")', () => {
    // R: alpha = 0.07499072, l0 = 10.02258106, SSE = 45.70267028, forecast 11.05098526.
    const f = fitEtsKind(rSeries(), 'ANN');
    expect(f.alpha).toBeGreaterThan(0.0748);
    expect(f.alpha).toBeLessThan(0.0752);
    expect(f.sse).toBeLessThan(45.70267028 * (1 + 1e-5));
    expect(f.sse).toBeGreaterThan(45.70267028 * (1 - 1e-4));
    expect(etsForecast(f, 3)[2]).toBeCloseTo(11.05098526, 3);
  });

  it('picks a damped trend for a trending series and forecasts its continuation', () => {
    const rng = new Rng(3);
    const y = Float64Array.from({ length: 400 }, (_, t) => 5 + 0.2 * t + 0.3 * rng.normal());
    const f = fitEts(y);
    expect(f.kind).toBe('AAdN');
    expect(f.trend).toBeGreaterThan(0.15);
    expect(f.trend).toBeLessThan(0.25);
    const fc = etsForecast(f, 5);
    expect(fc[0]).toBeGreaterThan(5 + 0.2 * 400 - 1);
    expect(fc[0]).toBeLessThan(5 + 0.2 * 400 + 1);
    // Damped: increments shrink geometrically by φ.
    expect((fc[4] - fc[3]) / (fc[1] - fc[0])).toBeCloseTo(f.phi ** 3, 9);
  });

  it('keeps SES on a level series (AICc penalizes the unused trend)', () => {
    const rng = new Rng(4);
    const y = Float64Array.from({ length: 500 }, () => 7 + rng.normal());
    const f = fitEts(y, ['ANN', 'AAN', 'AAdN']);
    expect(f.kind).toBe('ANN');
    expect(f.alpha).toBeLessThan(0.1);
    expect(etsForecast(f, 1)[0]).toBeGreaterThan(6.5);
    expect(etsForecast(f, 1)[0]).toBeLessThan(7.5);
  });
});
