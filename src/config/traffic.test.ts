import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configCheckCommand } from './check-command.js';
import { loadConfigFile, parseConfigText } from './load.js';
import { configReference } from './reference.js';
import { readTsigSecret, resolveTrafficPaths } from './traffic-files.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-traffic-cfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = Buffer.alloc(32, 7);

/** Writes `text` as a policy file in a fresh subdirectory, with a valid secret file `k.secret` beside it. */
function policy(text: string): string {
  const d = mkdtempSync(join(dir, 'p-'));
  writeFileSync(join(d, 'k.secret'), `${SECRET.toString('base64')}\n`, { mode: 0o600 });
  const file = join(d, 'policy.yaml');
  writeFileSync(file, text);
  return file;
}

const BOTH = `traffic:
  haproxy: { socket: run/admin.sock }
  dns:
    server: 10.0.0.53:5353
    zone: lab.umbra
    tsig: { name: umbra-key, secret_file: k.secret }
`;

describe('traffic: block', () => {
  it('is empty by default: no switch', () => {
    const r = parseConfigText('');
    expect(r.ok && r.config.traffic).toEqual({});
  });

  it('takes haproxy and dns together, with defaults, paths resolved against the file', () => {
    const file = policy(BOTH);
    const r = loadConfigFile(file);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const d = join(file, '..');
    expect(r.config.traffic).toEqual({
      haproxy: { socket: join(d, 'run/admin.sock') },
      dns: { server: { host: '10.0.0.53', port: 5353 }, zone: 'lab.umbra', ttl: 5, tsig: { name: 'umbra-key', algorithm: 'hmac-sha256', secret_file: join(d, 'k.secret') } },
    });
  });

  it('takes either alone; ttl as a duration or seconds; IPv6 and default port 53; every TSIG algorithm', () => {
    const h = parseConfigText('traffic: { haproxy: { socket: /run/haproxy/admin.sock } }');
    expect(h.ok && h.config.traffic).toEqual({ haproxy: { socket: '/run/haproxy/admin.sock' } });
    for (const [ttl, seconds] of [['1m', 60], [30, 30], [0, 0]] as const) {
      const r = parseConfigText(`traffic:\n  dns: { server: "[::1]", zone: svc.example.com., ttl: ${ttl}, tsig: { name: k1, algorithm: hmac-sha512, secret_file: /k } }\n`);
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      expect(r.config.traffic.dns).toMatchObject({ server: { host: '::1', port: 53 }, zone: 'svc.example.com.', ttl: seconds, tsig: { algorithm: 'hmac-sha512' } });
    }
  });

  it('reports every invalid field with its path and line', () => {
    const r = parseConfigText(`traffic:
  haproxy: { sockt: x }
  dns:
    server: 10.0.0.999
    zone: "bad zone"
    ttl: 1.5s
    tsig:
      name: k
      algorithm: hmac-md5
  foo: 1
`);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => [e.line, e.path, e.message])).toEqual([
      [2, 'traffic.haproxy.socket', "missing: expected the path of HAProxy's admin socket"],
      [2, 'traffic.haproxy.sockt', 'unknown key "sockt" (did you mean "socket"?)'],
      [4, 'traffic.dns.server', 'expected ADDR:PORT of the DNS server, such as 10.0.0.53:53 (an IP address; [::1]:53 for IPv6), got "10.0.0.999"'],
      [5, 'traffic.dns.zone', 'expected a DNS zone such as svc.example.com, got "bad zone"'],
      [6, 'traffic.dns.ttl', 'expected whole seconds up to 1d, got "1.5s"'],
      [7, 'traffic.dns.tsig.secret_file', 'missing: expected the path of a file holding the base64 secret'],
      [9, 'traffic.dns.tsig.algorithm', 'expected one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512, got "hmac-md5"'],
      [10, 'traffic.foo', 'unknown key "foo" (expected one of: haproxy, dns)'],
    ]);
  });

  it('requires server, zone and tsig in dns:', () => {
    const r = parseConfigText('traffic:\n  dns: { ttl: 5 }\n');
    expect(r.ok ? [] : r.errors.map((e) => e.path)).toEqual(['traffic.dns.server', 'traffic.dns.zone', 'traffic.dns.tsig']);
  });

  it('reports a missing, unreadable, empty or non-base64 secret file at its field, never its content', () => {
    const file = policy(BOTH.replace('k.secret', 'nope.secret'));
    const missing = loadConfigFile(file);
    expect(missing.ok ? null : missing.errors).toEqual([
      { path: 'traffic.dns.tsig.secret_file', message: `cannot read the TSIG secret file ${join(file, '..', 'nope.secret')}: no such file`, line: 6, column: 30 },
    ]);
    const d = join(file, '..');
    mkdirSync(join(d, 'nope.secret'));
    expect(loadConfigFile(file).ok ? '' : (loadConfigFile(file) as { errors: { message: string }[] }).errors[0].message).toMatch(/: is a directory$/);
    const read = (text: string) => () => Buffer.from(text);
    expect(readTsigSecret('/k', read(' \n'))).toEqual({ ok: false, message: 'the TSIG secret file /k is empty' });
    const bad = readTsigSecret('/k', read('key "k" { secret "c2VjcmV0"; };'));
    expect(bad).toEqual({ ok: false, message: `the TSIG secret file /k must hold only the base64 secret (as in tsig-keygen's secret "...")` });
    expect(readTsigSecret('/k', () => {
      throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
    })).toEqual({ ok: false, message: 'cannot read the TSIG secret file /k: permission denied' });
    expect(readTsigSecret('/k', read(`${SECRET.toString('base64')}\n`))).toEqual({ ok: true, secret: SECRET });
  });

  it('umbra config check summarizes it without the secret, and fails on a bad secret file', () => {
    const file = policy(BOTH);
    const ok = configCheckCommand(file);
    expect(ok.exitCode).toBe(0);
    const d = join(file, '..');
    expect(ok.output).toContain(`  traffic: HAProxy socket ${join(d, 'run/admin.sock')} + DNS zone lab.umbra at 10.0.0.53:5353, ttl 5s, key umbra-key (hmac-sha256) from ${join(d, 'k.secret')}`);
    const json = configCheckCommand(file, { json: true });
    expect(json.output).not.toContain(SECRET.toString('base64'));
    expect(JSON.parse(json.output).config.traffic.dns.tsig).toEqual({ name: 'umbra-key', algorithm: 'hmac-sha256', secret_file: join(d, 'k.secret') });
    chmodSync(join(d, 'k.secret'), 0o600);
    writeFileSync(join(d, 'k.secret'), 'not base64!');
    const bad = configCheckCommand(file);
    expect(bad.exitCode).toBe(2);
    expect(bad.output.split('\n')[0]).toBe(`${file}:6:30 traffic.dns.tsig.secret_file: the TSIG secret file ${join(d, 'k.secret')} must hold only the base64 secret (as in tsig-keygen's secret "...")`);
    expect(bad.output).not.toContain('not base64!');
  });

  it('leaves absolute paths alone and documents every field', () => {
    expect(resolveTrafficPaths({ haproxy: { socket: '/a.sock' } }, '/etc/umbra')).toEqual({ haproxy: { socket: '/a.sock' } });
    const md = configReference();
    for (const f of ['traffic.haproxy.socket', 'traffic.dns.server', 'traffic.dns.zone', 'traffic.dns.tsig.name', 'traffic.dns.tsig.secret_file']) expect(md).toContain(`\`${f}\``);
    expect(md).toContain('| `traffic.dns.ttl` | duration | 5s |');
    expect(md).toContain('| `traffic.dns.tsig.algorithm` | hmac-sha1 \\| hmac-sha224 \\| hmac-sha256 \\| hmac-sha384 \\| hmac-sha512 | hmac-sha256 |');
  });
});
