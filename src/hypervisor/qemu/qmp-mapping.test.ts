import { describe, expect, it } from 'vitest';
import { cpuDeviceId, mapRunState, pickFreeCpuSlot, toBlockJobInfo, toDirtyBitmaps, toDiskStats, toMigrationInfo, type CpuSlot } from './qmp-mapping.js';

describe('QMP reply mappings (QEMU 7.2 shapes)', () => {
  it('maps run states', () => {
    expect(['running', 'prelaunch', 'paused', 'inmigrate', 'postmigrate', 'shutdown', 'guest-panicked', 'io-error', 'finish-migrate'].map(mapRunState)).toEqual([
      'running', 'prelaunch', 'paused', 'inmigrate', 'postmigrate', 'shutdown', 'crashed', 'paused', 'paused',
    ]);
  });

  it('names blockstats entries by -drive id or device id, and skips nodes without a device', () => {
    const stats = (rd: number) => ({ rd_bytes: rd, wr_bytes: 2, rd_operations: 3, wr_operations: 4, flush_operations: 5 });
    const entries = [
      { device: 'snap', 'node-name': '#block604', qdev: '/machine/peripheral/snap-dev/virtio-backend', stats: stats(0) },
      { device: '', 'node-name': 'data', qdev: '/machine/peripheral/data-dev/virtio-backend', stats: stats(512) },
      { device: '', 'node-name': 'm0-tgt', stats: stats(9) },
    ];
    expect(toDiskStats(entries)).toEqual([
      { id: 'snap', rdBytes: 0, wrBytes: 2, rdOps: 3, wrOps: 4, flushOps: 5 },
      { id: 'data', rdBytes: 512, wrBytes: 2, rdOps: 3, wrOps: 4, flushOps: 5 },
    ]);
  });

  it('maps block jobs and migration status', () => {
    expect(toBlockJobInfo({ 'auto-finalize': true, device: 'm0', busy: false, len: 16777216, offset: 16777216, status: 'ready', paused: false, speed: 0, ready: true, type: 'mirror' })).toEqual({
      jobId: 'm0', type: 'mirror', status: 'ready', ready: true, offset: 16777216, len: 16777216, speed: 0,
    });
    expect(toMigrationInfo({})).toEqual({ status: 'none' });
    expect(toMigrationInfo({ status: 'failed', 'error-desc': "Failed to connect to '127.0.0.1:1': Connection refused" })).toEqual({
      status: 'failed', error: "Failed to connect to '127.0.0.1:1': Connection refused",
    });
    expect(toMigrationInfo({ status: 'completed', 'total-time': 456, downtime: 31, ram: { transferred: 1000, remaining: 0 } })).toEqual({
      status: 'completed', totalTimeMs: 456, downtimeMs: 31, transferredBytes: 1000, remainingBytes: 0,
    });
  });

  it('picks the lowest free CPU slot', () => {
    const slot = (core: number, plugged: boolean): CpuSlot => ({
      type: 'qemu64-x86_64-cpu',
      props: { 'core-id': core, 'thread-id': 0, 'node-id': 0, 'socket-id': 0 },
      ...(plugged ? { 'qom-path': `/machine/unattached/device[${core}]` } : {}),
    });
    // query-hotpluggable-cpus lists the highest core first.
    const slots = [slot(3, false), slot(2, false), slot(1, true), slot(0, true)];
    const free = pickFreeCpuSlot(slots)!;
    expect(free.props['core-id']).toBe(2);
    expect(cpuDeviceId(free)).toBe('cpu-s0-c2-t0');
    expect(pickFreeCpuSlot([slot(0, true)])).toBeNull();
  });
  it('lists the named dirty bitmaps of a node (the successors of a running backup are anonymous)', () => {
    // As measured on QEMU 7.2 during an incremental blockdev-backup.
    const nodes = [
      { 'node-name': 'data-file' },
      {
        'node-name': 'data',
        'dirty-bitmaps': [
          { recording: false, persistent: false, busy: false, granularity: 65536, count: 0 },
          { name: 'bm0', recording: true, persistent: false, busy: true, granularity: 65536, count: 4194304 },
        ],
      },
    ];
    expect(toDirtyBitmaps(nodes, 'data')).toEqual([{ name: 'bm0', count: 4194304, granularity: 65536, busy: true, recording: true }]);
    expect(toDirtyBitmaps(nodes, 'data', true).map((b) => [b.name, b.count])).toEqual([['', 0], ['bm0', 4194304]]);
    expect(toDirtyBitmaps(nodes, 'data-file')).toEqual([]);
    expect(toDirtyBitmaps(nodes, 'nope')).toEqual([]);
  });
});
