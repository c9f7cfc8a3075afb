import { describe, expect, it } from 'vitest';
import { LabError, requireRoot } from './errors.js';

describe('requireRoot', () => {
  it('passes for uid 0 and says clearly why root is needed otherwise (a USAGE error: exit 2)', () => {
    expect(() => requireRoot(0)).not.toThrow();
    let err: unknown;
    try {
      requireRoot(1000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).code).toBe('USAGE');
    expect((err as LabError).context.step).toBe('root');
    expect((err as LabError).message).toMatch(/^umbra lab needs root: it creates network namespaces/);
  });
});
