import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findProcessesMentioning, isAlive, procInfo, spawnDetached, stopProcesses, tailFile, waitForJsonLine } from './procs.js';

const dir = mkdtempSync(join(tmpdir(), 'ulab-procs-'));
const started: number[] = [];
afterAll(async () => {
  await stopProcesses(started, { graceMs: 500 });
  rmSync(dir, { recursive: true, force: true });
});

describe('lab processes', () => {
  it('spawns detached, finds by command line, stops by pid', async () => {
    const marker = join(dir, 'marker-1');
    // node ignores the extra argument; it only makes the command line findable.
    const pid = spawnDetached([process.execPath, '-e', 'setInterval(() => {}, 1000)', marker], join(dir, 'a.out'), join(dir, 'a.log'), process.env);
    started.push(pid);
    expect(isAlive(pid)).toBe(true);
    expect(procInfo(pid)?.argv.at(-1)).toBe(marker);
    expect(findProcessesMentioning(marker).map((p) => p.pid)).toEqual([pid]);
    expect(await stopProcesses([pid], { graceMs: 2000 })).toEqual([]);
    expect(isAlive(pid)).toBe(false);
    expect(findProcessesMentioning(marker)).toEqual([]);
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const pid = spawnDetached([process.execPath, '-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], join(dir, 'b.out'), join(dir, 'b.log'), process.env);
    started.push(pid);
    await new Promise((r) => setTimeout(r, 300)); // let it install the handler
    expect(await stopProcesses([pid], { graceMs: 300 })).toEqual([]);
    expect(isAlive(pid)).toBe(false);
  });

  it('waits for the first JSON line, and fails with the reason when the process exits first', async () => {
    const ok = spawnDetached([process.execPath, '-e', 'setTimeout(() => console.log(JSON.stringify({ url: "http://x" })), 200); setTimeout(() => {}, 3000)'], join(dir, 'c.out'), join(dir, 'c.log'), process.env);
    started.push(ok);
    expect(await waitForJsonLine<{ url: string }>(join(dir, 'c.out'), ok, 5000)).toEqual({ url: 'http://x' });
    const bad = spawnDetached([process.execPath, '-e', 'console.error("boom: bad flag"); process.exit(2)'], join(dir, 'd.out'), join(dir, 'd.log'), process.env);
    await expect(waitForJsonLine(join(dir, 'd.out'), bad, 5000)).rejects.toThrow(/exited before it was ready/);
    expect(tailFile(join(dir, 'd.log'))).toBe('boom: bad flag');
    expect(tailFile(join(dir, 'missing.log'))).toBe('');
  });
});
