/** Secrets out of what gets logged or shown. Pure. */

/** A URL without its user:password part (a string that is not a URL comes back as is). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * A URL split for fetch: the URL without credentials, and an `Authorization: Basic` header made
 * from them (fetch refuses URLs with credentials, and its error would quote the password).
 */
export function credentialsAsHeader(url: string): { url: string; headers: Record<string, string> } {
  const u = new URL(url);
  if (!u.username && !u.password) return { url, headers: {} };
  const authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  return { url: redactUrl(url), headers: { authorization } };
}
