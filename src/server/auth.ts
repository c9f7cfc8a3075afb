/**
 * The server's bearer token: finding it at start-up (flag,
 * environment, or a generated one kept in a 0600 file in the data dir). The token is never
 * logged; only the CLI prints a generated one, once. Checking it: src/api/auth.ts.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';

/** Where the token came from. */
export type TokenSource = 'flag' | 'env' | 'file' | 'generated';

/** The token file's name inside the data dir. */
export const TOKEN_FILE = 'token';

const TOKEN_SHAPE = /^[\x21-\x7e]{16,512}$/;

function checkShape(token: string, from: string): string {
  if (!TOKEN_SHAPE.test(token)) throw new UsageError(`${from}: a token is 16 to 512 printable characters without spaces`);
  return token;
}

/**
 * The token to use: `--token`, else `$UMBRA_TOKEN`, else `<dataDir>/token` when it exists (it must
 * not be readable by group or others), else a new random one written there with mode 0600.
 */
export function resolveServerToken(opts: { flag?: string; env?: string; dataDir: string }): { token: string; source: TokenSource; file?: string } {
  if (opts.flag) return { token: checkShape(opts.flag, '--token'), source: 'flag' };
  if (opts.env) return { token: checkShape(opts.env, 'UMBRA_TOKEN'), source: 'env' };
  const file = join(opts.dataDir, TOKEN_FILE);
  let mode: number | null = null;
  try {
    mode = statSync(file).mode;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (mode !== null) {
    if (mode & 0o077) throw new UsageError(`token file ${file} is readable by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`, { file });
    return { token: checkShape(readFileSync(file, 'utf8').trim(), file), source: 'file', file };
  }
  const token = randomBytes(32).toString('base64url');
  // 'wx': never overwrite a file that appeared meanwhile; mode 0600 from creation on.
  writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  return { token, source: 'generated', file };
}
