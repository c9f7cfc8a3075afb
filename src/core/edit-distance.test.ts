import { describe, expect, it } from 'vitest';
import { closest, editDistance } from './edit-distance.js';

describe('editDistance', () => {
  // Moved from src/config/issues.test.ts with the function.
  it('computes edit distances', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
    expect(editDistance('flaw', 'lawn')).toBe(2);
  });
});

describe('closest', () => {
  it('finds the nearest word, the first of equals, and nothing in an empty list', () => {
    expect(closest('cpu_usge', ['memory', 'cpu_usage', 'disk'])).toEqual({ match: 'cpu_usage', distance: 1 });
    expect(closest('ab', ['xb', 'ax'])).toEqual({ match: 'xb', distance: 1 });
    expect(closest('x', [])).toBeUndefined();
  });
});
