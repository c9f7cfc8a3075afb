import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfigText, pathSegments } from './load.js';
import type { ConfigIssue } from './issues.js';

function issues(text: string): ConfigIssue[] {
  const r = parseConfigText(text);
  if (r.ok) throw new Error('expected the text to be invalid');
  return r.errors;
}

function byPath(list: ConfigIssue[], path: string): ConfigIssue {
  const found = list.find((i) => i.path === path);
  if (!found) throw new Error(`no issue at ${path}; got ${list.map((i) => i.path).join(', ')}`);
  return found;
}

describe('parseConfigText', () => {
  it('fills every default from an empty file (and from a comments-only file)', () => {
    for (const text of ['', '# nothing here\n']) {
      const r = parseConfigText(text);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.config.forecast.horizons).toEqual([3600, 21600, 86400]);
      expect(r.config.forecast.levels).toEqual([80, 95]);
      expect(r.config.forecast.lstm).toBe(false);
      expect(r.config.forecast.history).toBe(35 * 86400);
      expect(r.config.forecast.schedule).toBe(900);
      expect(r.config.forecast.models).toBeUndefined();
      expect(r.config.policies.shadow_creation_threshold).toBe(0.2);
      expect(r.config.policies.synchronization_mode).toBe('async');
      expect(r.config.policies.max_data_loss).toBe(0);
      expect(r.config.policies.max_failovers).toEqual({ count: 3, window: 86400 });
      expect(r.config.policies.warmup_task).toBeUndefined();
      expect(r.config.policies.groups).toEqual([]);
      expect(r.config.budgets).toEqual({ total: {}, per_host: {} });
    }
  });

  it('parses a full file: durations to seconds, levels sorted, warm-up task and groups', () => {
    const r = parseConfigText(`
forecast:
  horizons: [30m, 2h]
  levels: [95, 50]
  models: [snaive, mstl_ets]
  lstm: true
  history: 2w
  schedule: 90
policies:
  shadow_creation_threshold: 0.35
  synchronization_mode: periodic
  synchronization_interval: 10m
  shadow_flavor: migrate
  warmup_task: { command: { argv: [/bin/check, --fast] } }
  max_data_loss: 0s
  failover_priority: -5
  failover_criteria: cpu > 90% for 5m
  max_failovers: { count: 2, window: 1d }
  groups:
    - name: db
      match: { names: [db-*], labels: { tier: 1 } }
      max_data_loss: 1m
      warmup_task: { http: { path: /healthz, port: 8080 } }
budgets:
  total: { cores: 32, memory_gib: 128.5 }
  per_host: { cores: 8 }
`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const c = r.config;
    expect(c.forecast).toEqual({ horizons: [1800, 7200], levels: [50, 95], models: ['snaive', 'mstl_ets'], lstm: true, history: 1209600, schedule: 90 });
    expect(c.policies.warmup_task).toEqual({ command: { argv: ['/bin/check', '--fast'], timeout: 60 } });
    expect(c.policies.max_data_loss).toBe(0);
    expect(c.policies.failover_priority).toBe(-5);
    expect(c.policies.max_failovers).toEqual({ count: 2, window: 86400 });
    expect(c.policies.groups).toHaveLength(1);
    const g = c.policies.groups[0];
    expect(g.match).toEqual({ names: ['db-*'], labels: { tier: '1' } });
    expect(g.max_data_loss).toBe(60);
    expect(g.warmup_task).toEqual({ http: { path: '/healthz', port: 8080, expect_status: 200, timeout: 10 } });
    expect(g.shadow_creation_threshold).toBeUndefined();
    expect(c.budgets).toEqual({ total: { cores: 32, memory_gib: 128.5 }, per_host: { cores: 8 } });
  });

  it('reports every invalid field of one file, each with its path, line and column', () => {
    const text = [
      'forecast:', //                                  1
      '  levels: [80, 150]', //                        2
      'policies:', //                                  3
      '  shadow_creation_threshold: 1.5', //           4
      '  synchronization_mode: eventually', //         5
      '  synchronization_interval: soon', //           6
      '  failover_criteria: ""', //                    7
      '  warmup_task:', //                             8
      '    command: { argv: "curl -f localhost" }', // 9
      '  groups:', //                                  10
      '    - name: db', //                             11
      '      match: {}', //                            12
      '      failover_priority: 1.5', //               13
      'budgets:', //                                   14
      '  total: { cores: -1 }', //                     15
    ].join('\n');
    const list = issues(text);
    expect(list.map((i) => i.path)).toEqual([
      'forecast.levels[1]',
      'policies.shadow_creation_threshold',
      'policies.synchronization_mode',
      'policies.synchronization_interval',
      'policies.failover_criteria',
      'policies.warmup_task.command.argv',
      'policies.groups[0].match',
      'policies.groups[0].failover_priority',
      'budgets.total.cores',
    ]);
    expect(byPath(list, 'forecast.levels[1]')).toMatchObject({ line: 2, column: 16, message: 'expected a number strictly between 0 and 100, got 150' });
    expect(byPath(list, 'policies.shadow_creation_threshold')).toMatchObject({ line: 4, column: 3, message: 'expected a number between 0 and 1, got 1.5' });
    expect(byPath(list, 'policies.synchronization_mode')).toMatchObject({ line: 5, message: 'expected one of sync, async, periodic, got "eventually"' });
    expect(byPath(list, 'policies.synchronization_interval')).toMatchObject({ line: 6, message: 'expected a duration like 30s, 5m, 1h or 7d, got "soon"' });
    expect(byPath(list, 'policies.failover_criteria').line).toBe(7);
    expect(byPath(list, 'policies.warmup_task.command.argv')).toMatchObject({ line: 9, column: 16 });
    expect(byPath(list, 'policies.warmup_task.command.argv').message).toContain('list of arguments');
    expect(byPath(list, 'policies.groups[0].match')).toMatchObject({ line: 12, column: 7 });
    expect(byPath(list, 'policies.groups[0].failover_priority')).toMatchObject({ line: 13, message: 'expected an integer, got 1.5' });
    expect(byPath(list, 'budgets.total.cores')).toMatchObject({ line: 15, column: 12, message: 'expected a positive number, got -1' });
  });

  it('reports unknown keys at every level, with a did-you-mean hint for typos', () => {
    const list = issues('policies:\n  shadow_creation_treshold: 0.3\nforcast: {}\nbudgets:\n  total: { gpus: 2 }\n');
    expect(byPath(list, 'policies.shadow_creation_treshold')).toEqual({
      path: 'policies.shadow_creation_treshold',
      message: 'unknown key "shadow_creation_treshold" (did you mean "shadow_creation_threshold"?)',
      line: 2,
      column: 3,
    });
    expect(byPath(list, 'forcast').message).toBe('unknown key "forcast" (did you mean "forecast"?)');
    expect(byPath(list, 'forcast').line).toBe(3);
    // no close key: list the allowed ones instead
    expect(byPath(list, 'budgets.total.gpus').message).toBe('unknown key "gpus" (expected one of: cores, memory_gib)');
  });

  it('says a required field is missing, placed at its parent', () => {
    const list = issues('policies:\n  max_failovers:\n    count: 2\n');
    expect(byPath(list, 'policies.max_failovers.window')).toMatchObject({ line: 2, column: 3 });
    expect(byPath(list, 'policies.max_failovers.window').message).toMatch(/^missing: expected a duration/);
  });

  it('checks cross-field rules: history longer than horizons, warm-up has exactly one kind, unique groups, budgets', () => {
    const list = issues(`
forecast: { horizons: [1h, 2d], history: 1d }
policies:
  warmup_task: { http: { path: /x }, command: { argv: [a] } }
  groups:
    - { name: a, match: { names: [x] } }
    - { name: a, match: { labels: { k: v } } }
budgets: { total: { cores: 4 }, per_host: { cores: 8 } }
`);
    expect(byPath(list, 'forecast.history').message).toBe('must be longer than the longest horizon, got "1d"');
    expect(byPath(list, 'policies.warmup_task').message).toBe('expected exactly one of http: or command:');
    expect(byPath(list, 'policies.groups[1].name')).toMatchObject({ line: 7, message: 'duplicate group name "a" (also used by groups[0])' });
    expect(byPath(list, 'budgets.per_host.cores').message).toBe('must not exceed budgets.total.cores (4), got 8');
  });

  it('allows zero only where zero means something (max_data_loss)', () => {
    expect(parseConfigText('policies: { max_data_loss: 0 }').ok).toBe(true);
    const list = issues('policies: { max_downtime: 0, cooldown: -1m }');
    expect(byPath(list, 'policies.max_downtime').message).toBe('expected a positive duration such as 30s, 5m, 1h or 7d, got 0');
    expect(byPath(list, 'policies.cooldown').message).toContain('got "-1m"');
  });

  it('reports YAML syntax errors with line and column and no field path', () => {
    const list = issues('policies:\n  cooldown: 5m\n  groups: [a, b\nbudgets: {}\n');
    expect(list.length).toBeGreaterThan(0);
    expect(list[0].path).toBe('');
    expect(list[0].message).toMatch(/^YAML syntax: /);
    // The unclosed `[` is noticed where the next block key starts.
    expect(list[0]).toMatchObject({ line: 4, column: 1 });
    const dup = issues('policies:\n  cooldown: 5m\n  cooldown: 6m\n');
    expect(dup[0]).toMatchObject({ path: '', line: 3, message: 'YAML syntax: Map keys must be unique' });
  });

  it('rejects a file whose top is not a mapping', () => {
    expect(issues('- a\n- b\n')[0]).toMatchObject({ path: '', line: 1, message: 'expected a mapping at the top of the policy file, got a list' });
  });
});

describe('loadConfigFile', () => {
  it('reads a file, and reports an unreadable one as a single issue', () => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-config-'));
    const file = join(dir, 'p.yaml');
    writeFileSync(file, 'policies: { failover_priority: 7 }\n');
    const r = loadConfigFile(file);
    expect(r.ok && r.config.policies.failover_priority).toBe(7);
    expect(loadConfigFile(join(dir, 'missing.yaml'))).toEqual({
      ok: false,
      errors: [{ path: '', message: 'cannot read the policy file: no such file' }],
    });
  });

  it('accepts the shipped example policy', () => {
    const r = loadConfigFile(new URL('../../examples/policy.yaml', import.meta.url).pathname);
    expect(r.ok ? [] : r.errors).toEqual([]);
    if (r.ok) expect(r.config.policies.groups.map((g) => g.name)).toEqual(['databases', 'batch', 'sessions']);
  });
});

describe('pathSegments', () => {
  it('inverts formatPath', () => {
    expect(pathSegments('policies.groups[12].match.names[0]')).toEqual(['policies', 'groups', 12, 'match', 'names', 0]);
    expect(pathSegments('')).toEqual([]);
  });
});

describe('empty sections', () => {
  it('treats a section with nothing under it as absent, but not an empty scalar', () => {
    const r = parseConfigText('forecast:\nbudgets:\n  # total: { cores: 4 }\npolicies:\n  max_failovers:\n');
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.config.policies.max_failovers.count).toBe(3);
    const list = issues('policies:\n  cooldown:\n  groups: [{ name: a, match: { names: [x] }, max_failovers: 5 }]\n');
    expect(byPath(list, 'policies.cooldown').message).toBe('expected a duration like 30s, 5m, 1h or 7d, got an empty value');
    expect(byPath(list, 'policies.groups[0].max_failovers').message).toBe('expected a mapping like { count: 3, window: 24h }, got 5');
  });
  it('words zod type errors for operators', () => {
    expect(byPath(issues('forecast: [1h]\n'), 'forecast').message).toBe('expected a mapping, got a list');
  });
});
