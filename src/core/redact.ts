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
