import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../config/config-error.js';
import { parseConfigText } from '../config/load.js';
import type { TrafficConfig } from '../config/schema.js';
import { DnsTrafficSwitch } from './dns/dns-switch.js';
import { buildTrafficSwitch, describeTrafficDrivers, planTrafficDrivers } from './from-config.js';
import { HaproxyTrafficSwitch } from './haproxy/haproxy-switch.js';
import { MultiTrafficSwitch } from './multi.js';

const SECRET = Buffer.alloc(32, 9);
const readSecret = (path: string) => {
  if (path !== '/etc/umbra/k.secret') throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
  return Buffer.from(SECRET.toString('base64') + '\n');
};

function traffic(yaml: string): TrafficConfig {
  const r = parseConfigText(yaml);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config.traffic;
}

const DNS = 'dns: { server: 10.213.0.1:5353, zone: lab.umbra, ttl: 3s, tsig: { name: umbra-lab, secret_file: /etc/umbra/k.secret } }';
const HAPROXY = 'haproxy: { socket: /run/haproxy/admin.sock }';

describe('planTrafficDrivers', () => {
  it('plans nothing, HAProxy, DNS or both (HAProxy first)', () => {
    expect(planTrafficDrivers(traffic(''))).toEqual([]);
    expect(planTrafficDrivers(traffic(`traffic: { ${HAPROXY} }`))).toEqual([{ kind: 'haproxy', socket: '/run/haproxy/admin.sock', source: 'config' }]);
    const dns = { kind: 'dns', server: { host: '10.213.0.1', port: 5353 }, zone: 'lab.umbra', ttl: 3, tsig: { name: 'umbra-lab', algorithm: 'hmac-sha256', secretFile: '/etc/umbra/k.secret' } };
    expect(planTrafficDrivers(traffic(`traffic: { ${DNS} }`))).toEqual([dns]);
    expect(planTrafficDrivers(traffic(`traffic: { ${DNS}, ${HAPROXY} }`)).map((s) => s.kind)).toEqual(['haproxy', 'dns']);
  });

  it('--haproxy-socket alone, beside the DNS block, and over the file socket (the flag wins)', () => {
    expect(planTrafficDrivers(traffic(''), { haproxySocket: '/lab/admin.sock' })).toEqual([{ kind: 'haproxy', socket: '/lab/admin.sock', source: 'flag' }]);
    expect(planTrafficDrivers(traffic(`traffic: { ${DNS} }`), { haproxySocket: '/lab/admin.sock' }).map((s) => s.kind)).toEqual(['haproxy', 'dns']);
    const both = planTrafficDrivers(traffic(`traffic: { ${HAPROXY}, ${DNS} }`), { haproxySocket: '/lab/admin.sock' });
    expect(both[0]).toEqual({ kind: 'haproxy', socket: '/lab/admin.sock', source: 'flag', overrides: '/run/haproxy/admin.sock' });
    expect(describeTrafficDrivers(both)).toEqual([
      { driver: 'haproxy', socket: '/lab/admin.sock', from: '--haproxy-socket', overrides: '/run/haproxy/admin.sock' },
      { driver: 'dns', server: '10.213.0.1:5353', zone: 'lab.umbra', ttl: 3, key: 'umbra-lab', algorithm: 'hmac-sha256' },
    ]);
  });
});

describe('buildTrafficSwitch', () => {
  it('builds no switch, one driver, or a multi switch over both', () => {
    expect(buildTrafficSwitch([])).toBeUndefined();
    expect(buildTrafficSwitch(planTrafficDrivers(traffic(`traffic: { ${HAPROXY} }`)))).toBeInstanceOf(HaproxyTrafficSwitch);
    const dns = buildTrafficSwitch(planTrafficDrivers(traffic(`traffic: { ${DNS} }`)), { readFile: readSecret });
    expect(dns).toBeInstanceOf(DnsTrafficSwitch);
    expect((dns as DnsTrafficSwitch).nameOf('vm1')).toBe('vm1.lab.umbra');
    const multi = buildTrafficSwitch(planTrafficDrivers(traffic(`traffic: { ${DNS} }`), { haproxySocket: '/lab/admin.sock' }), { readFile: readSecret });
    expect(multi).toBeInstanceOf(MultiTrafficSwitch);
    expect((multi as MultiTrafficSwitch).drivers.map((d) => d.name)).toEqual(['haproxy', 'dns']);
    // HAProxy counts requests: the error-rate signal still works behind the multi switch.
    expect(multi?.stats).toBeTypeOf('function');
  });

  it('the DNS driver signs with the key read from the file', async () => {
    const dns = buildTrafficSwitch(planTrafficDrivers(traffic(`traffic: { ${DNS} }`)), { readFile: readSecret }) as DnsTrafficSwitch;
    const opts = (dns as unknown as { opts: { key: { name: string; algorithm: string; secret: Buffer }; server: unknown; ttl: number } }).opts;
    expect(opts.key).toEqual({ name: 'umbra-lab', algorithm: 'hmac-sha256', secret: SECRET });
    expect(opts.server).toEqual({ host: '10.213.0.1', port: 5353 });
    expect(opts.ttl).toBe(3);
  });

  it('an unreadable secret is a CONFIG_INVALID error naming the field and the policy file, without the secret', () => {
    const plan = planTrafficDrivers(traffic(`traffic: { ${DNS.replace('k.secret', 'gone.secret')} }`));
    let caught: unknown;
    try {
      buildTrafficSwitch(plan, { policyFile: '/etc/umbra/policy.yaml', readFile: readSecret });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigInvalidError);
    expect(caught).toMatchObject({ code: 'CONFIG_INVALID', context: { file: '/etc/umbra/policy.yaml', path: 'traffic.dns.tsig.secret_file' } });
    expect((caught as Error).message).toBe(
      'invalid policy file /etc/umbra/policy.yaml:\n/etc/umbra/policy.yaml traffic.dns.tsig.secret_file: cannot read the TSIG secret file /etc/umbra/gone.secret: no such file',
    );
  });
});
