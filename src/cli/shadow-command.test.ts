import { describe, expect, it } from 'vitest';
import type { ShadowView } from '../server/shadow-routes.js';
import type { AlertRow } from '../store/store.js';
import { bytes, renderAlerts, renderShadow, renderShadowList } from './shadow-command.js';

const T0 = 1_800_000_000_000;

function shadow(extra: Partial<ShadowView['status']> = {}): ShadowView {
  return {
    id: 'vm1-s1',
    vmId: 'vm1',
    host: 'h2',
    flavor: 'warm',
    mode: 'sync',
    intervalSeconds: 300,
    size: { vcpus: 2, memoryMiB: 256 },
    createdAt: T0,
    phase: 'active',
    reason: 'protected (a shadow whatever the risk): protected VM',
    replaces: null,
    status: {
      sync: 'synchronized',
      syncSince: T0 + 2000,
      progress: null,
      lagBytes: 0,
      lagSeconds: 0,
      generation: 1,
      target: { host: '10.213.0.12', port: 40001, export: 'vm1-s1' },
      vm: { state: 'running', pid: 4242, endpoint: 'http://10.213.0.12:40002' },
      targetPid: 4141,
      error: null,
      initialCopyBytesPerSec: 300 * 1024 * 1024,
      readyAt: T0 + 1500,
      verify: { at: T0 + 60_000, ok: true, pauseMs: 275, chunks: 64, mismatched: [] },
      rehearsal: { at: T0 + 30_000, ok: true, where: 'in-shadow', timeToReadyMs: null, taskMs: 12, error: null },
      ...extra,
    },
  };
}

describe('shadow command rendering', () => {
  it('bytes in binary units', () => {
    expect([bytes(null), bytes(512), bytes(65536), bytes(3 * 1024 * 1024 * 1024)]).toEqual(['-', '512 B', '64.0 KiB', '3.0 GiB']);
  });

  it('the list: one row per shadow with sync, progress, lag, pid and age', () => {
    const syncing = { ...shadow({ sync: 'syncing', progress: 0.42, lagSeconds: 1.5, lagBytes: 2 * 1024 * 1024 }), id: 'vm2-s1', vmId: 'vm2', mode: 'async' as const };
    expect(renderShadowList([shadow(), syncing], T0 + 90_000)).toBe(
      [
        'SHADOW  VM   HOST  FLAVOR  MODE   SYNC          PROGRESS  LAG             PID   AGE',
        'vm1-s1  vm1  h2    warm    sync   synchronized  -         0.0s / 0 B      4242  90s',
        'vm2-s1  vm2  h2    warm    async  syncing       42%       1.5s / 2.0 MiB  4242  90s',
        '',
      ].join('\n'),
    );
    expect(renderShadowList([], T0)).toBe('no shadows\n');
  });

  it('one shadow in detail: verification pause, rehearsal, first-copy throughput', () => {
    const text = renderShadow(shadow(), T0 + 120_000);
    expect(text).toContain('shadow vm1-s1 of vm1 on h2 (warm, sync)');
    expect(text).toContain('target     nbd://10.213.0.12:40001/vm1-s1 (pid 4141)');
    expect(text).toContain('verified   equal 60s ago, pause 275 ms');
    expect(text).toContain('rehearsed  ok 90s ago (in-shadow)');
    expect(text).toContain('first copy 300.0 MiB/s');
    const bad = renderShadow(shadow({ verify: { at: T0, ok: false, pauseMs: 300, chunks: 64, mismatched: [40] }, error: 'Input/output error' }), T0 + 1000);
    expect(bad).toContain('DIFFERENT (1 chunks)');
    expect(bad).toContain('error      Input/output error');
  });

  it('alerts as a table', () => {
    const a: AlertRow = { key: 'corruption/vm1', kind: 'corruption', severity: 'critical', vmId: 'vm1', shadowId: 'vm1-s1', state: 'firing', startsAt: T0, endsAt: null, summary: 'differs', data: {}, updatedAt: T0 };
    expect(renderAlerts([a], T0 + 5000)).toBe('STATE   SEVERITY  KIND        VM   SINCE  SUMMARY\nfiring  critical  corruption  vm1  5s     differs\n');
    expect(renderAlerts([], T0)).toBe('no alerts\n');
  });
});
