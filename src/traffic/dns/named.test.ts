import { describe, expect, it } from 'vitest';
import { renderNamedConf, renderZoneFile } from './named.js';

const key = { name: 'umbra-key', algorithm: 'hmac-sha256' as const, secret: Buffer.alloc(32, 1) };

describe('named config', () => {
  it('keeps everything in its dir, listens on one address, lets only the key update the zone', () => {
    const conf = renderNamedConf({ dir: '/tmp/udn-1', listen: { host: '127.0.0.1', port: 18553 }, keys: [key], zones: [{ zone: 'umbra.test', updateKeys: ['umbra-key'] }] });
    for (const line of [
      'listen-on port 18553 { 127.0.0.1; };',
      'listen-on-v6 { none; };',
      'pid-file none;',
      'session-keyfile "/tmp/udn-1/session.key";',
      'recursion no;',
      'controls { };',
      'file "/tmp/udn-1/umbra.test.zone";',
      'allow-update { key umbra-key; };',
      `secret "${key.secret.toString('base64')}";`,
    ]) {
      expect(conf).toContain(line);
    }
  });

  it('refuses unsafe paths, unknown keys, bad records, listing all', () => {
    expect(() =>
      renderNamedConf({ dir: 'rel"dir', listen: { host: '::1', port: 53 }, keys: [], zones: [{ zone: 'umbra.test', updateKeys: ['k'], records: [{ name: 'a b', address: 'x' }] }] }),
    ).toThrow(/dir .*listen\.host .*unknown key k.*bad record name.*not IPv4/);
  });

  it('renders the zone with its NS at the listen address and the initial records', () => {
    expect(renderZoneFile({ zone: 'umbra.test.', updateKeys: [], records: [{ name: 'vm-1', address: '10.0.0.1' }] }, '127.0.0.1')).toBe(
      '$TTL 60\n@ IN SOA ns.umbra.test. hostmaster.umbra.test. 1 60 60 600 5\n@ IN NS ns.umbra.test.\nns IN A 127.0.0.1\nvm-1 5 IN A 10.0.0.1\n',
    );
  });
});
