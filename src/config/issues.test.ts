import { describe, expect, it } from 'vitest';
import { formatPath, suggestKey } from './issues.js';
import { configReference } from './reference.js';

describe('suggestKey', () => {
  it('finds the key a typo was meant to be, and nothing for unrelated words', () => {
    const known = ['shadow_creation_threshold', 'synchronization_interval', 'max_shadow_age'];
    expect(suggestKey('shadow_creation_treshold', known)).toBe('shadow_creation_threshold');
    expect(suggestKey('synchronisation-interval', known)).toBe('synchronization_interval');
    expect(suggestKey('colour', known)).toBeUndefined();
  });
});

describe('formatPath', () => {
  it('dots keys and brackets indices', () => {
    expect(formatPath(['policies', 'groups', 0, 'name'])).toBe('policies.groups[0].name');
    expect(formatPath([])).toBe('');
  });
});

describe('configReference', () => {
  it('documents every policy field named in the issue, with defaults', () => {
    const md = configReference();
    for (const key of ['shadow_creation_threshold', 'synchronization_interval', 'warmup_task', 'max_shadow_age', 'failover_priority', 'failover_criteria']) {
      expect(md).toContain(`\`policies.${key}\``);
    }
    expect(md).toContain('| `forecast.horizons` | list of duration | [1h, 6h, 24h] |');
    expect(md).toContain('| `policies.synchronization_mode` | sync \\| async \\| periodic | async |');
  });
});
