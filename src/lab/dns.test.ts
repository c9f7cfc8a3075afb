import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../config/load.js';
import { freeDnsPort, labDnsNames, labDnsRecords, labDnsResult, labPolicyText } from './dns.js';
import { labLayout, LAB_NETWORK } from './layout.js';
import { labPaths, readLabState, writeLabState, type LabState } from './state.js';
import { renderLabStatus, type LabStatusReport } from './status.js';

const dir = mkdtempSync(join(tmpdir(), 'ulab-dns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DNS = { server: { host: '10.213.0.1', port: 40053 }, zone: 'lab.umbra', keyName: 'umbra-lab', secretFile: join(dir, 'tsig.secret') };
writeFileSync(DNS.secretFile, `${Buffer.alloc(32, 3).toString('base64')}\n`, { mode: 0o600 });

describe('lab DNS pieces', () => {
  it('names each VM in the zone and points it at the host it is placed on', () => {
    const layout = labLayout(2, 3);
    expect(labDnsNames(layout.vms.map((v) => v.id))).toEqual({ vm1: 'vm1.lab.umbra', vm2: 'vm2.lab.umbra', vm3: 'vm3.lab.umbra' });
    expect(labDnsRecords(layout)).toEqual([
      { name: 'vm1', address: '10.213.0.11', ttl: 5 },
      { name: 'vm2', address: '10.213.0.12', ttl: 5 },
      { name: 'vm3', address: '10.213.0.11', ttl: 5 },
    ]);
    expect(labDnsRecords(labLayout(1, 0))).toEqual([]);
  });

  it("writes a server policy that validates: traffic.dns only without --policy; the user's policy with its traffic block replaced", () => {
    const bare = join(dir, 'bare.yaml');
    writeFileSync(bare, labPolicyText(undefined, DNS));
    const a = loadConfigFile(bare);
    if (!a.ok) throw new Error(JSON.stringify(a.errors));
    expect(a.config.traffic).toEqual({
      dns: { server: { host: '10.213.0.1', port: 40053 }, zone: 'lab.umbra', ttl: 5, tsig: { name: 'umbra-lab', algorithm: 'hmac-sha256', secret_file: DNS.secretFile } },
    });

    const user = '# mine\npolicies:\n  shadow_flavor: migrate\n  failover_priority: 7\ntraffic:\n  haproxy: { socket: /elsewhere.sock }\n';
    const merged = join(dir, 'merged.yaml');
    writeFileSync(merged, labPolicyText(user, DNS));
    const b = loadConfigFile(merged);
    if (!b.ok) throw new Error(JSON.stringify(b.errors));
    expect(b.config.policies).toMatchObject({ shadow_flavor: 'migrate', failover_priority: 7 });
    expect(b.config.traffic.haproxy).toBeUndefined();
    expect(b.config.traffic.dns?.zone).toBe('lab.umbra');
    // An empty or comment-only user file is fine too.
    expect(labPolicyText('# nothing\n', DNS)).toContain('traffic:');
  });

  it('prints what lab up --json adds under "dns"', () => {
    expect(labDnsResult({ ...DNS, names: { vm1: 'vm1.lab.umbra' } })).toEqual({ server: '10.213.0.1:40053', zone: 'lab.umbra', names: { vm1: 'vm1.lab.umbra' } });
  });

  it('records named in the lab state (pid, paths, names) and reads it back', () => {
    const stateDir = join(dir, 'state');
    const s: LabState = {
      version: 1, phase: 'starting', createdAt: 1, stateDir, labDir: labPaths(stateDir).labDir, network: LAB_NETWORK, hosts: [], token: 't', server: null, vms: [], image: null,
      dns: { pid: 4242, argv: ['named', '-c', 'x'], out: 'o', log: 'l', dir: join(stateDir, 'lab', 'dns'), ...DNS, policyFile: 'p', names: { vm1: 'vm1.lab.umbra' } },
    };
    writeLabState(s);
    expect(readLabState(stateDir)?.dns).toEqual(s.dns);
  });

  it("lab status shows named and each name's A records", () => {
    const r: LabStatusReport = {
      stateDir: '/s', exists: true, phase: 'up', healthy: true, server: { url: 'http://10.213.0.1:7000', pid: 1, alive: true }, hosts: [], vms: [],
      dns: { server: '10.213.0.1:40053', zone: 'lab.umbra', pid: 77, alive: true, names: { vm1: 'vm1.lab.umbra', vm2: 'vm2.lab.umbra' }, records: { vm1: ['10.213.0.12'], vm2: [] } },
    };
    expect(renderLabStatus(r).split('\n').slice(-4)).toEqual([
      'dns 10.213.0.1:40053  zone lab.umbra  named pid 77  up',
      'dns vm1.lab.umbra  A 10.213.0.12  (vm1)',
      'dns vm2.lab.umbra  A (none)  (vm2)',
      '',
    ]);
    expect(renderLabStatus({ ...r, dns: { ...r.dns!, alive: false, records: null } })).toContain('dns vm1.lab.umbra  A (no answer)  (vm1)');
  });

  it('finds a port free for both UDP and TCP', async () => {
    const port = await freeDnsPort('127.0.0.1');
    expect(port).toBeGreaterThan(1023);
    expect(port).toBeLessThan(65536);
  });
});
