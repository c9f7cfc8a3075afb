import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashParts, imageKey, readTree, sourcesKey } from './sources.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-sources-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cache keys', () => {
  it('hashes part lists unambiguously', () => {
    expect(hashParts(['ab', 'c'])).not.toBe(hashParts(['a', 'bc']));
    expect(hashParts([])).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'); // sha256('')
    expect(hashParts(['a'])).toBe(hashParts([Buffer.from('a')]));
  });

  it('reads a tree in path order and changes the key when any file or the compiler changes', () => {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'init'), '#!/bin/sh\n');
    writeFileSync(join(dir, 'sub', 'a.c'), 'int main(){}');
    const tree = readTree(dir);
    expect(tree.map(([p]) => p)).toEqual(['init', 'sub/a.c']);
    const k1 = sourcesKey(1, tree, '12.2.0');
    expect(sourcesKey(1, readTree(dir), '12.2.0')).toBe(k1);
    expect(sourcesKey(2, tree, '12.2.0')).not.toBe(k1);
    expect(sourcesKey(1, tree, '12.3.0')).not.toBe(k1);
    writeFileSync(join(dir, 'sub', 'a.c'), 'int main(){return 0;}');
    expect(sourcesKey(1, readTree(dir), '12.2.0')).not.toBe(k1);
  });

  it('keys an image by the set of pinned packages, in any order', () => {
    const a = { name: 'busybox-static', version: '1:1.35.0-4' };
    const b = { name: 'libc6', version: '2.36-9' };
    expect(imageKey('q', [a, b])).toBe(imageKey('q', [b, a]));
    expect(imageKey('q', [a, b])).not.toBe(imageKey('q', [a, { ...b, version: '2.36-10' }]));
    expect(imageKey('q', [a])).not.toBe(imageKey('r', [a]));
  });
});
