import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, readPidFile, tailFile } from './process.js';

let dir = '';
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

describe('process helpers', () => {
  it('tails a log after an offset, dropping a partial first line', () => {
    dir = mkdtempSync(join(tmpdir(), 'umbra-proc-'));
    const f = join(dir, 'qemu.log');
    const old = 'old run: error A\n';
    writeFileSync(f, `${old}line 1\nline 2\nline 3\n`);
    expect(tailFile(f, 4096, 20, old.length)).toBe('line 1\nline 2\nline 3');
    expect(tailFile(f, 4096, 2, old.length)).toBe('line 2\nline 3');
    expect(tailFile(f, 10)).toBe('line 3'); // the last 10 bytes hold a partial "line 2"
    expect(tailFile(join(dir, 'missing'))).toBe('');
  });

  it('reads pidfiles and tells live processes, checking the command line', () => {
    dir = mkdtempSync(join(tmpdir(), 'umbra-proc-'));
    writeFileSync(join(dir, 'a.pid'), `${process.pid}\n`);
    writeFileSync(join(dir, 'b.pid'), 'garbage');
    expect(readPidFile(join(dir, 'a.pid'))).toBe(process.pid);
    expect(readPidFile(join(dir, 'b.pid'))).toBeNull();
    expect(readPidFile(join(dir, 'none.pid'))).toBeNull();
    expect(isAlive(process.pid)).toBe(true);
    expect(isAlive(process.pid, 'no-such-marker-in-argv')).toBe(false);
    expect(isAlive(2 ** 22 + 12345)).toBe(false);
  });
});
