import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configCheckCommand } from './check-command.js';
import { formatConfigIssues } from './format.js';

function fileWith(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'umbra-check-')), 'policy.yaml');
  writeFileSync(file, text);
  return file;
}

describe('formatConfigIssues', () => {
  it('prints file:line:col path: message, and degrades without a place or a path', () => {
    expect(
      formatConfigIssues('policy.yaml', [
        { path: 'policies.shadow_creation_threshold', message: 'expected a number between 0 and 1, got 1.5', line: 12, column: 3 },
        { path: '', message: 'YAML syntax: Map keys must be unique', line: 4, column: 1 },
        { path: '', message: 'cannot read the policy file: no such file' },
      ]),
    ).toEqual([
      'policy.yaml:12:3 policies.shadow_creation_threshold: expected a number between 0 and 1, got 1.5',
      'policy.yaml:4:1 YAML syntax: Map keys must be unique',
      'policy.yaml cannot read the policy file: no such file',
    ]);
  });
});

describe('configCheckCommand', () => {
  it('exits 0 with a summary for a valid file', () => {
    const file = fileWith('forecast: { horizons: [1h, 24h] }\npolicies: { groups: [{ name: db, match: { names: [db-*] } }] }\n');
    const r = configCheckCommand(file);
    expect(r.exitCode).toBe(0);
    expect(r.output.split('\n')[0]).toBe(`${file}: valid`);
    expect(r.output).toContain('horizons 1h, 24h');
    expect(r.output).toContain('1 group(s): db');
  });

  it('exits 2 and lists every issue, then a count', () => {
    const file = fileWith('policies:\n  shadow_creation_threshold: 1.5\n  shadow_flavor: hot\n');
    const r = configCheckCommand(file);
    expect(r.exitCode).toBe(2);
    expect(r.output.split('\n')).toEqual([
      `${file}:2:3 policies.shadow_creation_threshold: expected a number between 0 and 1, got 1.5`,
      `${file}:3:3 policies.shadow_flavor: expected one of warm, migrate, got "hot"`,
      `${file}: 2 problems`,
    ]);
  });

  it('prints JSON when asked, valid or not', () => {
    const bad = configCheckCommand(fileWith('policies: { cooldown: soon }\n'), { json: true });
    expect(bad.exitCode).toBe(2);
    const doc = JSON.parse(bad.output);
    expect(doc.valid).toBe(false);
    expect(doc.errors).toEqual([{ path: 'policies.cooldown', message: 'expected a duration like 30s, 5m, 1h or 7d, got "soon"', line: 1, column: 13 }]);
    const good = configCheckCommand(fileWith(''), { json: true });
    expect(good.exitCode).toBe(0);
    expect(JSON.parse(good.output).config.policies.cooldown).toBe(600);
  });

  it('exits 2 for a file that does not exist', () => {
    const r = configCheckCommand('/nonexistent/umbra/policy.yaml');
    expect(r.exitCode).toBe(2);
    expect(r.output).toContain('cannot read the policy file: no such file');
  });
});

describe('requireConfigFile', () => {
  it('returns the config, or throws a CONFIG_INVALID error carrying every issue', async () => {
    const { requireConfigFile, ConfigInvalidError } = await import('./config-error.js');
    expect(requireConfigFile(fileWith('policies: { failover_priority: 3 }')).policies.failover_priority).toBe(3);
    const file = fileWith('policies:\n  cooldown: x\n  probation: y\n');
    let caught: unknown;
    try {
      requireConfigFile(file);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigInvalidError);
    const err = caught as InstanceType<typeof ConfigInvalidError>;
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.issues.map((i) => i.path)).toEqual(['policies.cooldown', 'policies.probation']);
    expect(err.context).toMatchObject({ file, line: 2, path: 'policies.cooldown' });
  });
});
