/**
 * The files the `traffic:` block names: the HAProxy socket and the TSIG secret file. Paths are
 * resolved against the policy file's directory; the secret file is read and checked when the
 * file is loaded, so `umbra config check` and the server's start report a missing, unreadable
 * or malformed secret at its field. The secret itself never appears in a config, a message or
 * a log: only its file's path does.
 */
import { isAbsolute, resolve } from 'node:path';
import type { ConfigIssue } from './issues.js';
import type { TrafficConfig } from './schema.js';

/** Field path of the TSIG secret file (what errors about it name). */
export const TSIG_SECRET_FIELD = 'traffic.dns.tsig.secret_file';

/** Reads a file's bytes; throws Node's errno errors (injected so the checks are testable). */
export type ReadFile = (path: string) => Buffer;

/** The outcome of reading a TSIG secret file. */
export type SecretRead = { ok: true; secret: Buffer } | { ok: false; message: string };

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Reads the base64 secret in `file` (surrounding whitespace ignored). Never throws; a failure
 * says what is wrong with the file without quoting its content.
 */
export function readTsigSecret(file: string, read: ReadFile): SecretRead {
  let raw: Buffer;
  try {
    raw = read(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? 'unreadable');
    return { ok: false, message: `cannot read the TSIG secret file ${file}: ${why}` };
  }
  const text = raw.toString('utf8').trim();
  if (!text) return { ok: false, message: `the TSIG secret file ${file} is empty` };
  if (!BASE64.test(text) || text.length % 4 !== 0) {
    return { ok: false, message: `the TSIG secret file ${file} must hold only the base64 secret (as in tsig-keygen's secret "...")` };
  }
  return { ok: true, secret: Buffer.from(text, 'base64') };
}

/** The block with its paths made absolute against `baseDir` (the policy file's directory). Pure. */
export function resolveTrafficPaths(traffic: TrafficConfig, baseDir: string): TrafficConfig {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  return {
    ...(traffic.haproxy ? { haproxy: { ...traffic.haproxy, socket: abs(traffic.haproxy.socket) } } : {}),
    ...(traffic.dns ? { dns: { ...traffic.dns, tsig: { ...traffic.dns.tsig, secret_file: abs(traffic.dns.tsig.secret_file) } } } : {}),
  };
}

/** Every problem of the files the block names (today: the TSIG secret file), at their fields. */
export function trafficFileIssues(traffic: TrafficConfig, read: ReadFile): ConfigIssue[] {
  if (!traffic.dns) return [];
  const r = readTsigSecret(traffic.dns.tsig.secret_file, read);
  return r.ok ? [] : [{ path: TSIG_SECRET_FIELD, message: r.message }];
}
