import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../config/load.js';

describe('failover_criteria in the policy file', () => {
  it('reports the parse error with its caret line, at the field', () => {
    const r = parseConfigText('policies:\n  failover_criteria: "cpu > 9O% or host_lost"\n');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      { path: 'policies.failover_criteria', message: 'invalid criteria (column 7):\ncpu > 9O% or host_lost\n      ^ expected a number', line: 2, column: 3 },
    ]);
  });

  it('accepts the default and the example policy', () => {
    expect(parseConfigText('').ok).toBe(true);
    expect(parseConfigText(readFileSync(new URL('../../../examples/policy.yaml', import.meta.url), 'utf8')).ok).toBe(true);
  });
});
