import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../api/protocol.js';
import { labStateDir, renderStatus, resolveServerTarget } from './status-command.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-status-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resolveServerTarget', () => {
  const state = join(dir, 'state');
  mkdirSync(state);
  writeFileSync(join(state, 'lab.json'), JSON.stringify({ server: 'http://10.0.0.1:7000', token: 'lab-token', hosts: [] }));

  it('takes each of server and token from the flag, else the environment, else the lab state file', () => {
    const env = { UMBRA_STATE_DIR: state };
    expect(resolveServerTarget({}, env)).toEqual({ server: 'http://10.0.0.1:7000', token: 'lab-token' });
    expect(resolveServerTarget({}, { ...env, UMBRA_SERVER: 'http://e:1', UMBRA_TOKEN: 'env-token' })).toEqual({ server: 'http://e:1', token: 'env-token' });
    expect(resolveServerTarget({ server: 'http://f:2' }, { ...env, UMBRA_SERVER: 'http://e:1' })).toEqual({ server: 'http://f:2', token: 'lab-token' });
    expect(resolveServerTarget({ token: 'flag-token' }, env)).toEqual({ server: 'http://10.0.0.1:7000', token: 'flag-token' });
  });

  it('says what is missing', () => {
    const empty = { UMBRA_STATE_DIR: join(dir, 'none') };
    expect(() => resolveServerTarget({}, empty)).toThrow(expect.objectContaining({ code: 'USAGE', message: expect.stringContaining('UMBRA_SERVER') }));
    expect(() => resolveServerTarget({ server: 'http://x:1' }, empty)).toThrow(expect.objectContaining({ code: 'USAGE', message: expect.stringContaining('UMBRA_TOKEN') }));
    expect(() => resolveServerTarget({ server: 'nope', token: 't' }, empty)).toThrow(expect.objectContaining({ code: 'USAGE', message: expect.stringContaining('not a URL') }));
  });

  it('puts the lab state under UMBRA_STATE_DIR or the XDG state dir', () => {
    expect(labStateDir({ UMBRA_STATE_DIR: '/a' })).toBe('/a');
    expect(labStateDir({ HOME: '/home/u' })).toBe('/home/u/.local/state/umbra');
  });
});

describe('renderStatus', () => {
  it('prints hosts and VMs as aligned tables', () => {
    const r: StatusReport = {
      server: { url: 'http://127.0.0.1:7000', version: '0.1.0', startedAt: 0 },
      agents: [
        { name: 'h1', apiUrl: 'http://10.0.0.2:7070', address: '10.0.0.2', labels: {}, capacity: { cores: 2, memoryMiB: 2048 }, leaseExpiresAt: 12_400, alive: true },
        { name: 'host-2', apiUrl: 'http://10.0.0.3:7070', address: '10.0.0.3', labels: {}, capacity: { cores: 4, memoryMiB: 4096 }, leaseExpiresAt: -5000, alive: false },
      ],
      vms: [
        { id: 'web-1', role: 'primary', host: 'h1', pid: 4242, state: 'running', endpoint: 'http://10.0.0.2:8080', sync: 'synchronized' },
        { id: 'web-1-s1', role: 'shadow', host: 'host-2', pid: 4343, state: 'running', endpoint: null, sync: 'synchronized', shadowOf: 'web-1' },
      ],
    };
    expect(renderStatus(r, 0)).toBe(
      [
        'server http://127.0.0.1:7000 (umbra 0.1.0)',
        '',
        'HOST    ADDRESS   ALIVE  LEASE           CORES  MEMORY',
        'h1      10.0.0.2  yes    12s             2      2048 MiB',
        'host-2  10.0.0.3  no     expired 5s ago  4      4096 MiB',
        '',
        'VM        ROLE             HOST    STATE    PID   SYNC          ENDPOINT',
        'web-1     primary          h1      running  4242  synchronized  http://10.0.0.2:8080',
        'web-1-s1  shadow of web-1  host-2  running  4343  synchronized  -',
        '',
      ].join('\n'),
    );
  });
});
