import { describe, it, expect, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { lookupQuickKey, readImage, recordQuickKey, resolveCacheDir, withCacheLock } from './cache.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('image cache', () => {
  it('resolves the cache directory', () => {
    expect(resolveCacheDir('/x/y', {})).toBe('/x/y');
    expect(resolveCacheDir(undefined, { UMBRA_CACHE: '/c' })).toBe('/c/images');
    expect(resolveCacheDir(undefined, {})).toBe(join(homedir(), '.cache/umbra/images'));
  });

  it('accepts only complete images and maps quick keys to them', () => {
    const img = join(dir, 'abc');
    mkdirSync(img);
    writeFileSync(join(img, 'vmlinux'), 'KERNEL');
    expect(readImage(dir, 'abc')).toBeUndefined(); // no manifest yet
    const manifest = { hash: 'abc', files: { vmlinux: { bytes: 6, sha256: '' }, initrd: { bytes: 3, sha256: '' } } };
    writeFileSync(join(img, 'manifest.json'), JSON.stringify(manifest));
    expect(readImage(dir, 'abc')).toBeUndefined(); // no initrd
    writeFileSync(join(img, 'initrd.gz'), 'INI');
    expect(readImage(dir, 'abc')?.dir).toBe(img);
    writeFileSync(join(img, 'initrd.gz'), 'INITRD-TRUNCATED?');
    expect(readImage(dir, 'abc')).toBeUndefined(); // size differs from the manifest

    const quick = 'f'.repeat(64);
    expect(lookupQuickKey(dir, quick)).toBeUndefined();
    recordQuickKey(dir, quick, 'abc');
    expect(lookupQuickKey(dir, quick)).toBe('abc');
    expect(lookupQuickKey(dir, 'f'.repeat(16) + '0'.repeat(48))).toBeUndefined(); // same short name, other key
  });

  it('runs one holder at a time', async () => {
    const events: string[] = [];
    const job = (name: string) =>
      withCacheLock(dir, async () => {
        events.push(`${name}+`);
        await sleep(150);
        events.push(`${name}-`);
      });
    await Promise.all([job('a'), job('b')]);
    expect(events).toEqual(['a+', 'a-', 'b+', 'b-']);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });

  it('takes over a lock left by a dead process', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(dir, '.lock'), `${dead.stdout}\n`);
    const t0 = performance.now();
    expect(await withCacheLock(dir, async () => 42)).toBe(42);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('gives up waiting for a live holder after the timeout', async () => {
    writeFileSync(join(dir, '.lock'), `${process.ppid}\n`); // our parent: alive
    await expect(withCacheLock(dir, async () => 1, { timeoutMs: 300 })).rejects.toThrow(/another image build/);
    rmSync(join(dir, '.lock'));
  });
});
