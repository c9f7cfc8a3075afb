import { UsageError } from './errors.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/**
 * Parses a duration such as `90s`, `5m`, `1h`, `24h`, `7d`, `1w` (or a bare number of seconds)
 * into seconds. Throws a UsageError naming `what` on anything else.
 */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/.exec(String(text));
  if (!m) throw new UsageError(`${what}: expected a duration like 30s, 5m, 1h, 24h or 7d, got "${text}"`);
  const v = Number(m[1]) * UNIT_SECONDS[m[2] || 's'];
  if (!(v > 0)) throw new UsageError(`${what}: must be positive, got "${text}"`);
  return v;
}

/** Formats seconds as the largest whole unit (`86400` → `24h`, `300` → `5m`). */
export function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
