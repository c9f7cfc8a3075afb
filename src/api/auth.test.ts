import { describe, expect, it } from 'vitest';
import { bearerMatches } from './auth.js';

describe('bearerMatches', () => {
  it('accepts exactly `Bearer <token>`', () => {
    expect(bearerMatches('Bearer abc123', 'abc123')).toBe(true);
    expect(bearerMatches('bearer abc123', 'abc123')).toBe(true);
    expect(bearerMatches('Bearer abc1234', 'abc123')).toBe(false);
    expect(bearerMatches('Bearer abc12', 'abc123')).toBe(false);
    expect(bearerMatches('Basic abc123', 'abc123')).toBe(false);
    expect(bearerMatches('abc123', 'abc123')).toBe(false);
    expect(bearerMatches(undefined, 'abc123')).toBe(false);
    expect(bearerMatches('Bearer ', '')).toBe(false); // an empty configured token never matches
  });
});
