import { isUmbraError, type ErrorCode } from '../core/errors.js';

/** Exit statuses, in one place. */
export const EXIT = {
  OK: 0,
  /** Unexpected internal failure. */
  FAILURE: 1,
  /** Usage errors: bad flags, invalid config file. */
  USAGE: 2,
  /** Some inputs/series failed while the others were processed. */
  PARTIAL: 3,
} as const;

const BY_CODE: Partial<Record<ErrorCode, number>> = {
  USAGE: EXIT.USAGE,
  CONFIG_INVALID: EXIT.USAGE,
  INPUT_INVALID: EXIT.PARTIAL,
  INPUT_UNSUPPORTED: EXIT.PARTIAL,
  INSUFFICIENT_HISTORY: EXIT.PARTIAL,
  SOURCE_UNAVAILABLE: EXIT.PARTIAL,
};

/** The exit status for an error that ended a command. */
export function exitCodeFor(err: unknown): number {
  if (isUmbraError(err)) return BY_CODE[err.code] ?? EXIT.FAILURE;
  if (err && typeof err === 'object' && 'code' in err && String((err as { code: unknown }).code).startsWith('commander.')) return EXIT.USAGE;
  return EXIT.FAILURE;
}
