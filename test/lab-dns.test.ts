/**
 * The lab's DNS against a REAL named, without a lab (no namespaces, so no lab lock): the lab's
 * start step on 127.0.0.1 in a temp lab dir, then the switch the server builds from the policy
 * file the lab wrote moves a VM's name, as the failover controller does. named is stopped by its
 * recorded pid in afterAll (and anything still naming the temp dir), and the dir removed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../src/config/load.js';
import { systemClock } from '../src/core/clock.js';
import { observeLabDns, startLabDns } from '../src/lab/dns.js';
import { labLayout, LAB_NETWORK } from '../src/lab/layout.js';
import { findProcessesMentioning, isAlive, stopProcesses } from '../src/lab/procs.js';
import { labPaths, readLabState, writeLabState, type LabState } from '../src/lab/state.js';
import { buildTrafficSwitch, planTrafficDrivers } from '../src/traffic/from-config.js';
import { ensureTrafficTools } from '../src/traffic/host-tools.js';

const stateDir = mkdtempSync(join(tmpdir(), 'uld-'));
const paths = labPaths(stateDir);
afterAll(async () => {
  const pids = [readLabState(stateDir)?.dns?.pid, ...findProcessesMentioning(stateDir).map((p) => p.pid)].filter((p): p is number => typeof p === 'number');
  await stopProcesses(pids, { graceMs: 3000 });
  rmSync(stateDir, { recursive: true, force: true });
});

describe('lab DNS on a real named', () => {
  it('starts named with the VM records, and the server switch from the written policy moves a name', async () => {
    await ensureTrafficTools();
    for (const d of [paths.labDir, paths.logsDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
    const layout = labLayout(2, 2);
    const state: LabState = {
      version: 1, phase: 'starting', createdAt: Date.now(), stateDir, labDir: paths.labDir,
      network: { ...LAB_NETWORK, bridgeAddress: '127.0.0.1' }, hosts: [], token: 't', server: null, vms: [], image: null,
    };
    const t0 = performance.now();
    const dns = await startLabDns(state, layout, paths, { env: process.env, clock: systemClock, write: writeLabState, readyTimeoutMs: 15_000 });
    console.log(`[measured] lab named ready in ${((performance.now() - t0) / 1000).toFixed(2)} s on port ${dns.server.port}`);
    expect(readLabState(stateDir)?.dns?.pid).toBe(dns.pid);
    expect(isAlive(dns.pid)).toBe(true);
    expect(statSync(dns.secretFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dns.dir, 'named.conf')).mode & 0o777).toBe(0o600);
    const secret = readFileSync(dns.secretFile, 'utf8').trim();
    expect(readFileSync(dns.out, 'utf8') + readFileSync(dns.log, 'utf8')).not.toContain(secret);

    // The initial records: the address of each VM's host (vm1 on h1, vm2 on h2).
    expect(await observeLabDns(dns)).toEqual({ vm1: ['10.213.0.11'], vm2: ['10.213.0.12'] });
    const dig = execFileSync('dig', ['+short', '+norecurse', '+time=2', '+tries=1', '-p', String(dns.server.port), '@127.0.0.1', 'vm1.lab.umbra', 'A'], { encoding: 'utf8' });
    expect(dig.trim()).toBe('10.213.0.11');

    // What the server does with that policy: a DNS switch signed with the lab's key.
    const cfg = loadConfigFile(dns.policyFile);
    if (!cfg.ok) throw new Error(JSON.stringify(cfg.errors));
    const sw = buildTrafficSwitch(planTrafficDrivers(cfg.config.traffic), { policyFile: dns.policyFile })!;
    expect(sw.name).toBe('dns');
    expect((await sw.ensure('vm1', { host: '10.213.0.11', port: 20000 })).changed).toBe(false);
    const moved = await sw.ensure('vm1', { host: '10.213.0.12', port: 20000 });
    expect(moved.changed).toBe(true);
    expect(await observeLabDns(dns)).toEqual({ vm1: ['10.213.0.12'], vm2: ['10.213.0.12'] });
    await sw.close();
  }, 60_000);
});
