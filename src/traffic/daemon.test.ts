import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killRecordedDaemons, startDaemon } from './daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'udm-'));
afterAll(() => {
  killRecordedDaemons(dir);
  rmSync(dir, { recursive: true, force: true });
});

// A foreground "daemon": writes a ready file (whose path is on its argv, as a config path would be), then waits.
const script = `console.log('serving'); require('fs').writeFileSync(process.argv[1], 'x'); setInterval(() => {}, 1000);`;

describe('startDaemon', () => {
  it('starts, records the pid, logs, and stops by pid', async () => {
    const ready = join(dir, 'ready-1');
    const d = await startDaemon({ name: 'd1', argv: [process.execPath, '-e', script, ready], dir, ready: async () => existsSync(ready) });
    expect(d.running()).toBe(true);
    expect(Number(readFileSync(join(dir, 'd1.pid'), 'utf8'))).toBe(d.pid);
    await d.stop();
    expect(d.running()).toBe(false);
    expect((await d.exited).signal).toBe('SIGTERM');
    expect(existsSync(join(dir, 'd1.pid'))).toBe(false);
    expect(d.logTail()).toContain('serving');
    await d.stop(); // idempotent
  });

  it('a program that exits at start is a TrafficStartError with its log', async () => {
    const err = await startDaemon({ name: 'd2', argv: [process.execPath, '-e', "console.error('cannot bind socket'); process.exit(3)"], dir, ready: async () => false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'TrafficStartError', code: 'TRAFFIC_UNAVAILABLE', retryable: false });
    expect((err as Error).message).toMatch(/d2 did not start: exited with status 3: cannot bind socket/);
    expect(existsSync(join(dir, 'd2.pid'))).toBe(false);
  });

  it('a missing program, and one never ready, fail typed; the latter is killed', async () => {
    await expect(startDaemon({ name: 'd3', argv: ['/nonexistent/prog'], dir, ready: async () => true })).rejects.toMatchObject({ message: expect.stringMatching(/cannot run/) });
    await expect(startDaemon({ name: 'd4', argv: [process.execPath, '-e', 'setInterval(() => {}, 1000)', dir], dir, ready: async () => false, readyTimeoutMs: 300 })).rejects.toMatchObject({
      message: expect.stringMatching(/not ready in 300 ms/),
    });
    expect(existsSync(join(dir, 'd4.pid'))).toBe(false);
  });

  it('killRecordedDaemons kills recorded pids whose command line mentions the dir, and only those', async () => {
    const ready = join(dir, 'ready-5');
    const d = await startDaemon({ name: 'd5', argv: [process.execPath, '-e', script, ready], dir, ready: async () => existsSync(ready) });
    writeFileSync(join(dir, 'other.pid'), `${process.pid}\n`); // this test process: its argv does not mention dir
    expect(killRecordedDaemons(dir)).toEqual([d.pid]);
    expect((await d.exited).signal).toBe('SIGKILL');
  });
});
