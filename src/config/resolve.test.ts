import { describe, expect, it } from 'vitest';
import { parseConfigText } from './load.js';
import { globToRegExp, resolvePolicy } from './resolve.js';

const r = parseConfigText(`
policies:
  shadow_creation_threshold: 0.2
  failover_priority: 1
  groups:
    - name: db
      match: { names: ["db-*"] }
      failover_priority: 100
      max_data_loss: 0
    - name: prod-db
      match: { names: ["db-?"], labels: { env: prod } }
      shadow_creation_threshold: 0.05
      failover_priority: 200
`);
if (!r.ok) throw new Error(JSON.stringify(r.errors));
const policies = r.config.policies;

describe('resolvePolicy', () => {
  it('returns the defaults for a VM no group selects', () => {
    const { policy, groups } = resolvePolicy(policies, { name: 'web-1' });
    expect(groups).toEqual([]);
    expect(policy.failover_priority).toBe(1);
    expect(policy.shadow_creation_threshold).toBe(0.2);
    expect('groups' in policy).toBe(false);
  });

  it('applies every matching group in file order, later fields winning', () => {
    const { policy, groups } = resolvePolicy(policies, { name: 'db-1', labels: { env: 'prod' } });
    expect(groups).toEqual(['db', 'prod-db']);
    expect(policy.failover_priority).toBe(200);
    expect(policy.shadow_creation_threshold).toBe(0.05);
    expect(policy.max_data_loss).toBe(0);
  });

  it('needs every label and a matching name', () => {
    expect(resolvePolicy(policies, { name: 'db-1', labels: { env: 'dev' } }).groups).toEqual(['db']);
    expect(resolvePolicy(policies, { name: 'db-12', labels: { env: 'prod' } }).groups).toEqual(['db']);
  });

  it('does not mutate the configuration', () => {
    resolvePolicy(policies, { name: 'db-1', labels: { env: 'prod' } });
    expect(policies.failover_priority).toBe(1);
  });
});

describe('globToRegExp', () => {
  it('treats * and ? as wildcards and the rest literally', () => {
    expect(globToRegExp('db-*').test('db-main')).toBe(true);
    expect(globToRegExp('db-*').test('xdb-main')).toBe(false);
    expect(globToRegExp('vm.?').test('vm.1')).toBe(true);
    expect(globToRegExp('vm.?').test('vmx1')).toBe(false);
  });
});
