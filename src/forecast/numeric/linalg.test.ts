import { describe, expect, it } from 'vitest';
import { solveSpd } from './linalg.js';

describe('solveSpd', () => {
  it('solves a known 3×3 SPD system', () => {
    // A = [[4,12,-16],[12,37,-43],[-16,-43,98]] (L = [[2],[6,1],[-8,5,3]]), x = (1, -2, 3)
    const a = Float64Array.from([4, 12, -16, 12, 37, -43, -16, -43, 98]);
    const b = Float64Array.from([4 - 24 - 48, 12 - 74 - 129, -16 + 86 + 294]);
    const x = solveSpd(a, 3, b);
    expect(x[0]).toBeCloseTo(1, 10);
    expect(x[1]).toBeCloseTo(-2, 10);
    expect(x[2]).toBeCloseTo(3, 10);
  });

  it('regularizes a singular system instead of failing', () => {
    const a = Float64Array.from([1, 1, 1, 1]);
    const x = solveSpd(a, 2, Float64Array.from([2, 2]));
    expect(x[0] + x[1]).toBeCloseTo(2, 6);
  });
});
