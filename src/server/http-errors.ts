/**
 * The one place where error codes become HTTP statuses and the protocol's error body
 * `{ error: { code, message, retryable, context } }`. Anything that is not an UmbraError is a
 * bug: it answers 500 `INTERNAL` without its message (which may hold internals) and is logged.
 */
import { isUmbraError, type ErrorCode } from '../core/errors.js';

/** HTTP status per error code; a code not listed is 500. */
export const HTTP_STATUS: Readonly<Partial<Record<ErrorCode, number>>> = {
  USAGE: 400,
  CONFIG_INVALID: 400,
  INPUT_INVALID: 400,
  REQUEST_INVALID: 400,
  VM_SPEC_INVALID: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  VM_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  VM_EXISTS: 409,
  NO_CAPACITY: 409,
  PAYLOAD_TOO_LARGE: 413,
  INSUFFICIENT_HISTORY: 422,
  AGENT_ERROR: 502,
  AGENT_UNAVAILABLE: 503,
  SOURCE_UNAVAILABLE: 503,
  STORE_FAILED: 500,
  INTERNAL: 500,
};

/** The protocol's error body. */
export interface ErrorBody {
  error: { code: string; message: string; retryable: boolean; context: Record<string, unknown> };
}

/** Status and body for anything thrown by a handler; `internal` is true for a non-Umbra error (a bug: log it). */
export function errorResponse(e: unknown): { status: number; body: ErrorBody; internal: boolean } {
  if (isUmbraError(e)) {
    return {
      status: HTTP_STATUS[e.code] ?? 500,
      body: { error: { code: e.code, message: e.message, retryable: e.retryable, context: { ...e.context } } },
      internal: false,
    };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error (see the server log)', retryable: false, context: {} } }, internal: true };
}
