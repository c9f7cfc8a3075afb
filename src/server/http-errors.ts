/**
 * The server's error responses (statuses from src/api/http-errors.ts). Anything that is not an UmbraError is a
 * bug: it answers 500 `INTERNAL` without its message (which may hold internals) and is logged.
 */
import { isUmbraError } from '../core/errors.js';
import { httpStatusOf, type ErrorBody } from '../api/http-errors.js';

export { HTTP_STATUS, type ErrorBody } from '../api/http-errors.js';

/** Status and body for anything thrown by a handler; `internal` is true for a non-Umbra error (a bug: log it). */
export function errorResponse(e: unknown): { status: number; body: ErrorBody; internal: boolean } {
  if (isUmbraError(e)) {
    return {
      status: httpStatusOf(e.code),
      body: { error: { code: e.code, message: e.message, retryable: e.retryable, context: { ...e.context } } },
      internal: false,
    };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error (see the server log)', retryable: false, context: {} } }, internal: true };
}
