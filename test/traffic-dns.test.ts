/**
 * The DNS traffic driver against a REAL BIND 9.18 named: authoritative for `umbra.test`, bound
 * to 127.0.0.1 on a free high port, updates allowed with a TSIG key made by `tsig-keygen`; its
 * config, key, zone, journal, pid file and log in a temp dir. Changes behind the driver's back
 * and cross-checks go through BIND's own tools (`nsupdate -k`, `dig`), an implementation
 * independent of ours. named is stopped by its recorded pid in afterAll, and SIGKILLed by that
 * pid as a last resort; the temp dir is removed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrafficSwitchContract } from '../src/traffic/contract.js';
import { killRecordedDaemons } from '../src/traffic/daemon.js';
import { DnsTrafficSwitch } from '../src/traffic/dns/dns-switch.js';
import { startNamed, type NamedProcess } from '../src/traffic/dns/named.js';
import { parseBindKey, renderBindKey, type TsigKey } from '../src/traffic/dns/tsig.js';
import { ensureTrafficTools } from '../src/traffic/host-tools.js';
import type { Backend } from '../src/traffic/switch.js';
import { freePort } from './support/net.js';

const dir = mkdtempSync(join(tmpdir(), 'udn-'));
const ZONE = 'umbra.test';
let named: NamedProcess | null = null;
let key: TsigKey;
/** A key named knows but the zone does not let update. */
let readOnlyKey: TsigKey;
let keyFile: string;
let port: number;

/** `dig +short` against our named. */
function dig(name: string): string[] {
  return execFileSync('dig', ['+short', '+norecurse', '+time=2', '+tries=1', '-p', String(port), '@127.0.0.1', name, 'A'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .sort();
}

/** A change through BIND's own client, signed with the key file (the secret stays off argv). */
function nsupdate(lines: string[]): void {
  execFileSync('nsupdate', ['-k', keyFile], { input: [`server 127.0.0.1 ${port}`, `zone ${ZONE}`, ...lines, 'send', ''].join('\n'), timeout: 10_000 });
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: +s[s.length >> 1].toFixed(2), max: +s[s.length - 1].toFixed(2), n: s.length };
};

const sw = () => new DnsTrafficSwitch({ server: { host: '127.0.0.1', port }, zone: ZONE, key });

beforeAll(async () => {
  await ensureTrafficTools();
  key = parseBindKey(execFileSync('tsig-keygen', ['-a', 'hmac-sha256', 'umbra-key'], { encoding: 'utf8' }));
  readOnlyKey = parseBindKey(execFileSync('tsig-keygen', ['-a', 'hmac-sha256', 'reader-key'], { encoding: 'utf8' }));
  keyFile = join(dir, 'umbra-key.conf');
  writeFileSync(keyFile, renderBindKey(key), { mode: 0o600 });
  port = await freePort();
  named = await startNamed({
    dir,
    listen: { host: '127.0.0.1', port },
    keys: [key, readOnlyKey],
    zones: [{ zone: ZONE, updateKeys: [key.name], records: [{ name: 'vm-1', address: '10.0.0.1' }] }],
  });
}, 120_000);

afterAll(async () => {
  await named?.daemon.stop().catch(() => undefined);
  killRecordedDaemons(dir);
  rmSync(dir, { recursive: true, force: true });
});

const backends: [Backend, Backend, Backend] = [
  { host: '10.1.0.1', port: 8080 },
  { host: '10.1.0.2', port: 8080 },
  { host: '10.1.0.3', port: 8080 },
];

runTrafficSwitchContract({
  name: 'DNS (real BIND 9.18, RFC 2136 + TSIG)',
  make: () => ({
    switch: sw(),
    services: ['vm-1', 'vm-2'],
    backends,
    tamper: async (service, b) => nsupdate([`update delete ${service}.${ZONE} A`, `update add ${service}.${ZONE} 5 A ${b.host}`]),
    // DNS creates any name in the zone on its first update: there is no unknown service.
    freshService: `vm-n${randomBytes(4).toString('hex')}`,
    noStats: 'DNS has no request counters (HAProxy gives the error-rate signal)',
  }),
});

describe('DNS traffic switch with real named', () => {
  it('updates the A record; dig sees what the driver observes; measures update latency', async () => {
    const s = sw();
    const updateMs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const b = backends[i % 2];
      const t0 = performance.now();
      const r = await s.ensure('vm-5', b);
      updateMs.push(performance.now() - t0);
      expect(r.changed).toBe(true);
      expect(r.actions).toEqual([`update vm-5.${ZONE} A: delete all, add ${b.host} ttl 5`]);
      expect(dig(`vm-5.${ZONE}`)).toEqual([b.host]);
      expect((await s.observe('vm-5')).targets).toEqual([{ host: b.host, port: null, enabled: true, health: 'unknown' }]);
    }
    console.log(`[traffic-dns] ensure (signed query + signed update, both verified): ${JSON.stringify(stats(updateMs))} ms`);
  });

  it('replaces extra A records added behind its back (a split heals to one record)', async () => {
    const s = sw();
    await s.ensure('vm-6', backends[0]);
    nsupdate([`update add vm-6.${ZONE} 5 A ${backends[1].host}`, `update add vm-6.${ZONE} 5 A ${backends[2].host}`]);
    expect(dig(`vm-6.${ZONE}`)).toHaveLength(3);
    expect((await s.observe('vm-6')).targets).toHaveLength(3);
    expect((await s.ensure('vm-6', backends[0])).changed).toBe(true);
    expect(dig(`vm-6.${ZONE}`)).toEqual([backends[0].host]);
  });

  it('a record with another TTL is re-published with the configured TTL', async () => {
    nsupdate([`update delete vm-7.${ZONE} A`, `update add vm-7.${ZONE} 3600 A ${backends[0].host}`]);
    const r = await sw().ensure('vm-7', backends[0]);
    expect(r.changed).toBe(true);
    const ttl = execFileSync('dig', ['+noall', '+answer', '-p', String(port), '@127.0.0.1', `vm-7.${ZONE}`, 'A'], { encoding: 'utf8' }).split(/\s+/)[1];
    expect(ttl).toBe('5');
  });

  it('a wrong secret is NOTAUTH (BADSIG), an unknown key NOTAUTH (BADKEY), a key not allowed and unsigned REFUSED: typed, not retryable, nothing changed', async () => {
    await sw().ensure('vm-8', backends[0]);
    const wrongSecret = new DnsTrafficSwitch({ server: { host: '127.0.0.1', port }, zone: ZONE, key: { ...key, secret: randomBytes(32) } });
    const e1 = await wrongSecret.ensure('vm-8', backends[1]).catch((e: unknown) => e);
    expect(e1).toMatchObject({ name: 'TrafficRefusedError', code: 'TRAFFIC_REFUSED', retryable: false, rcode: 'NOTAUTH', tsigError: 'BADSIG' });
    expect(String((e1 as Error).message)).not.toContain(key.secret.toString('base64'));

    const unknownKey = new DnsTrafficSwitch({ server: { host: '127.0.0.1', port }, zone: ZONE, key: { ...key, name: 'nobody' } });
    await expect(unknownKey.ensure('vm-8', backends[1])).rejects.toMatchObject({ code: 'TRAFFIC_REFUSED', rcode: 'NOTAUTH', tsigError: 'BADKEY' });

    // A valid key the zone does not allow: the refusal is signed, and its signature verifies.
    const reader = new DnsTrafficSwitch({ server: { host: '127.0.0.1', port }, zone: ZONE, key: readOnlyKey });
    expect((await reader.observe('vm-8')).targets.map((t) => t.host)).toEqual([backends[0].host]);
    await expect(reader.ensure('vm-8', backends[1])).rejects.toMatchObject({ code: 'TRAFFIC_REFUSED', rcode: 'REFUSED', tsigError: undefined });

    const unsigned = new DnsTrafficSwitch({ server: { host: '127.0.0.1', port }, zone: ZONE });
    // Unsigned queries are allowed (observe works), unsigned updates are not.
    expect((await unsigned.observe('vm-8')).targets.map((t) => t.host)).toEqual([backends[0].host]);
    const e3 = await unsigned.ensure('vm-8', backends[1]).catch((e: unknown) => e);
    expect(e3).toMatchObject({ name: 'TrafficRefusedError', code: 'TRAFFIC_REFUSED', retryable: false, rcode: 'REFUSED', tsigError: undefined });

    expect(dig(`vm-8.${ZONE}`)).toEqual([backends[0].host]);
  });

  it('works over TCP too', async () => {
    const tcp = new DnsTrafficSwitch({ server: { host: '127.0.0.1', port }, zone: ZONE, key, tcp: true });
    await tcp.ensure('vm-9', backends[2]);
    expect(dig(`vm-9.${ZONE}`)).toEqual([backends[2].host]);
    await tcp.disable('vm-9');
    expect(dig(`vm-9.${ZONE}`)).toEqual([]);
  });

  it('an update for a zone the server does not serve is refused, typed', async () => {
    const other = new DnsTrafficSwitch({ server: { host: '127.0.0.1', port }, zone: 'elsewhere.test', key });
    const e = await other.ensure('vm-1', backends[0]).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: expect.stringMatching(/^TRAFFIC_(REFUSED|COMMAND_FAILED)$/), retryable: false });
    console.log(`[traffic-dns] update of a zone not served: ${(e as Error).message}`);
  });

  it('an unreachable server is TRAFFIC_UNAVAILABLE and retryable', async () => {
    const gone = new DnsTrafficSwitch({ server: { host: '127.0.0.1', port: await freePort() }, zone: ZONE, key, timeoutMs: 200, attempts: 2 });
    await expect(gone.observe('vm-1')).rejects.toMatchObject({ code: 'TRAFFIC_UNAVAILABLE', retryable: true });
  });
});
