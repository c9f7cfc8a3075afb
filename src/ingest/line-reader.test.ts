import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { forEachLine } from './line-reader.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-lines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function linesOf(content: string | Buffer): Promise<Array<[string, number]>> {
  const p = join(dir, `f${Math.random().toString(36).slice(2)}`);
  writeFileSync(p, content);
  const out: Array<[string, number]> = [];
  await forEachLine(p, (l, n) => out.push([l, n]));
  return out;
}

describe('forEachLine', () => {
  it('delivers LF and CRLF lines with 1-based numbers, and a last line without newline', async () => {
    expect(await linesOf('a\r\nb\nc')).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
  });
  it('drops a byte-order mark and keeps empty lines', async () => {
    expect(await linesOf('\uFEFFh\n\nx\n')).toEqual([
      ['h', 1],
      ['', 2],
      ['x', 3],
    ]);
  });
  it('joins lines across chunk boundaries', async () => {
    const long = 'x'.repeat(300 * 1024);
    const got = await linesOf(`${long}\n${long}y\n`);
    expect(got.map(([l, n]) => [l.length, n])).toEqual([
      [long.length, 1],
      [long.length + 1, 2],
    ]);
  });
});
