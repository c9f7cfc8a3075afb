import { z } from 'zod';
import { parseDuration } from '../core/duration.js';

/**
 * Zod schemas for durations written as `30s`, `5m`, `1h`, `7d`, `1w` (or a bare number of
 * seconds). They parse to a number of **seconds**; the message of a bad value says what is
 * expected so that `umbra config check` can print it as is.
 */

const ZERO = /^\s*0+(?:\.0+)?\s*[smhdw]?\s*$/;

export interface DurationOptions {
  /** Accept `0` (e.g. `max_data_loss: 0` means zero data loss). Default false. */
  allowZero?: boolean;
}

/**
 * A duration field. Input: a string like `5m` or a number of seconds; output: seconds.
 * Zero is rejected unless `allowZero`; negative and malformed values always are.
 */
export function duration(opts: DurationOptions = {}) {
  const example = 'a duration like 30s, 5m, 1h or 7d';
  return z
    .union([z.string(), z.number()], {
      error: `expected ${example}`,
    })
    .transform((raw, ctx): number => {
      const text = String(raw);
      if (ZERO.test(text)) {
        if (opts.allowZero) return 0;
        ctx.addIssue({ code: 'custom', message: 'expected a positive duration such as 30s, 5m, 1h or 7d' });
        return z.NEVER;
      }
      try {
        return parseDuration(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: `expected ${example}` });
        return z.NEVER;
      }
    });
}
