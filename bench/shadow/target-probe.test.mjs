// Unit tests of the target probe on a real temp file. Run: node --test bench/shadow/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { searchWindow, TargetProbe } from './target-probe.mjs';

test('searchWindow: the whole file without a hint, else clamped around it', () => {
  assert.deepEqual(searchWindow(-1, 1000, 100), { start: 0, end: 1000 });
  assert.deepEqual(searchWindow(50, 1000, 100), { start: 0, end: 150 });
  assert.deepEqual(searchWindow(500, 1000, 100), { start: 400, end: 600 });
  assert.deepEqual(searchWindow(950, 1000, 100), { start: 850, end: 1000 });
});

test('TargetProbe finds a head across read chunks, and waits for one written later', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ubt-'));
  try {
    const file = join(dir, 't.raw');
    const size = 3 * 1024 * 1024;
    const buf = Buffer.alloc(size);
    buf.write('w1-5:abc', 2 * 1024 * 1024 - 3); // straddles the 2 MiB read boundary below
    writeFileSync(file, buf);
    const probe = new TargetProbe(file, size, 64 * 1024);
    probe.buf = Buffer.allocUnsafe(2 * 1024 * 1024); // small reads: the overlap must catch the straddling head
    await probe.open();
    try {
      assert.equal(await probe.find(Buffer.from('w1-5:'), 0, size), 2 * 1024 * 1024 - 3);
      const first = await probe.waitFor(Buffer.from('w1-5:'), performance.now(), 1000);
      assert.equal(first?.looks, 1);
      assert.equal(probe.hint, 2 * 1024 * 1024 - 3);
      assert.equal(await probe.waitFor(Buffer.from('w1-6:'), performance.now(), 50), null);
      const at = performance.now();
      setTimeout(() => {
        const fd = openSync(file, 'r+'); // written in place, far from the hint: found by a whole-file look
        writeSync(fd, Buffer.from('w1-7:later'), 0, 10, 100);
        closeSync(fd);
      }, 30);
      const late = await probe.waitFor(Buffer.from('w1-7:'), at, 5000);
      assert.ok(late && late.delayMs >= 25 && late.looks > 1, JSON.stringify(late));
      assert.equal(probe.hint, 100);
    } finally {
      await probe.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
