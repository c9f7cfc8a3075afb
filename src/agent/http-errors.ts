/**
 * Errors on the agent's HTTP API (statuses from src/api/http-errors.ts, shared with the server). A failed QEMU start carries QEMU's
 * stderr tail in `context.stderrTail`.
 */
import { isUmbraError } from '../core/errors.js';
import { httpStatusOf, type ErrorBody } from '../api/http-errors.js';
import { VmSpecInvalidError, VmStartFailedError } from '../hypervisor/errors.js';

/** An error of the HTTP layer itself (auth, routing, body). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: 'UNAUTHORIZED' | 'NOT_FOUND' | 'METHOD_NOT_ALLOWED' | 'BAD_REQUEST' | 'PAYLOAD_TOO_LARGE',
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export { HTTP_STATUS, type ErrorBody } from '../api/http-errors.js';

/** Status and body for any thrown value. */
export function errorResponse(e: unknown): { status: number; body: ErrorBody } {
  if (e instanceof HttpError) return { status: e.status, body: { error: { code: e.code, message: e.message, retryable: false, context: {} } } };
  if (isUmbraError(e)) {
    const context: Record<string, unknown> = { ...e.context };
    if (e instanceof VmStartFailedError) context.stderrTail = e.stderrTail;
    if (e instanceof VmSpecInvalidError) context.issues = e.issues;
    return { status: httpStatusOf(e.code), body: { error: { code: e.code, message: e.message, retryable: e.retryable, context } } };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e), retryable: false, context: {} } } };
}
