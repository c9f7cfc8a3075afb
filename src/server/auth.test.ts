import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bearerMatches } from '../api/auth.js';
import { resolveServerToken } from './auth.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKEN = 'abcdefghijklmnop-0123';

describe('bearerMatches', () => {
  it('accepts exactly Bearer <token>', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer  ${TOKEN} `, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(bearerMatches(`Basic ${TOKEN}`, TOKEN)).toBe(false);
    expect(bearerMatches(TOKEN, TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
    expect(bearerMatches('Bearer ', '')).toBe(false);
  });
});

describe('resolveServerToken', () => {
  it('prefers the flag, then the environment', () => {
    expect(resolveServerToken({ flag: TOKEN, env: 'x'.repeat(20), dataDir: dir })).toEqual({ token: TOKEN, source: 'flag' });
    expect(resolveServerToken({ env: TOKEN, dataDir: dir })).toEqual({ token: TOKEN, source: 'env' });
    expect(() => resolveServerToken({ flag: 'short', dataDir: dir })).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => resolveServerToken({ flag: 'has a space in it ok', dataDir: dir })).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });

  it('generates one into a 0600 file, then reuses it', () => {
    const d = mkdtempSync(join(dir, 'gen-'));
    const a = resolveServerToken({ dataDir: d });
    expect(a.source).toBe('generated');
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(a.file!).mode & 0o777).toBe(0o600);
    expect(readFileSync(a.file!, 'utf8').trim()).toBe(a.token);
    expect(resolveServerToken({ dataDir: d })).toEqual({ token: a.token, source: 'file', file: a.file });
  });

  it('refuses a token file others can read', () => {
    const d = mkdtempSync(join(dir, 'open-'));
    writeFileSync(join(d, 'token'), TOKEN, { mode: 0o644 });
    expect(() => resolveServerToken({ dataDir: d })).toThrow(expect.objectContaining({ code: 'USAGE', message: expect.stringContaining('chmod 600') }));
  });
});
