/**
 * Bearer-token check shared by every API (server and agent). Constant time: both sides are
 * hashed (SHA-256) and the digests compared with timingSafeEqual, so the time taken reveals
 * neither the token's content nor its length; a header with another scheme costs the same
 * comparison. The token is never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** True when `header` is `Bearer <token>` (and `token` is not empty). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!token) return false;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  const same = timingSafeEqual(digest(m ? m[1] : ''), digest(token));
  return m !== null && same;
}
