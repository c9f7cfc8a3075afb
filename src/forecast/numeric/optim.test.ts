import { describe, expect, it } from 'vitest';
import { fromInterval, goldenSection, nelderMead, toInterval } from './optim.js';

describe('optim', () => {
  it('golden section finds the minimum of a parabola', () => {
    const r = goldenSection((x) => (x - 0.3) ** 2 + 1, 0, 1, 1e-6, 100);
    expect(r.x[0]).toBeCloseTo(0.3, 5);
    expect(r.value).toBeCloseTo(1, 10);
  });

  it('Nelder–Mead minimizes the Rosenbrock function', () => {
    const f = (x: Float64Array): number => 100 * (x[1] - x[0] * x[0]) ** 2 + (1 - x[0]) ** 2;
    const r = nelderMead(f, [-1.2, 1], { relTol: 1e-14, maxEval: 2000 });
    expect(r.x[0]).toBeCloseTo(1, 3);
    expect(r.x[1]).toBeCloseTo(1, 3);
  });

  it('maps to and from an interval', () => {
    expect(toInterval(fromInterval(0.8, 0.5, 0.98), 0.5, 0.98)).toBeCloseTo(0.8, 9);
    expect(toInterval(-50, 0, 1)).toBeGreaterThanOrEqual(0);
  });
});
