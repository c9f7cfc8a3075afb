/**
 * Bearer-token check for the agent API. Constant time: both sides are hashed (SHA-256) and the
 * digests compared with timingSafeEqual, so neither the content nor the length of the
 * expected token leaks through timing. The token is never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** True when the Authorization header carries `Bearer <token>`. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header || !token) return false;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  const given = m ? m[1] : '';
  // Compare even when the scheme is wrong, so the time taken does not depend on the header.
  const same = timingSafeEqual(digest(given), digest(token));
  return m !== null && same;
}
