/**
 * Errors on the agent's HTTP API: one mapping from error code to HTTP status, and the protocol
 * body `{ error: { code, message, retryable, context } }`. A failed QEMU start carries QEMU's
 * stderr tail in `context.stderrTail`.
 */
import { isUmbraError } from '../core/errors.js';
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

/** HTTP status per error code; anything unlisted is 500. */
export const HTTP_STATUS: Readonly<Record<string, number>> = {
  VM_NOT_FOUND: 404,
  VM_EXISTS: 409,
  VM_SPEC_INVALID: 400,
  VM_INVALID_STATE: 409,
  VM_START_FAILED: 502,
  QMP_TIMEOUT: 503,
  QMP_DISCONNECTED: 503,
  QMP_PROTOCOL: 502,
  HV_COMMAND_FAILED: 502,
  POWERDOWN_TIMEOUT: 504,
  HOTPLUG_FAILED: 409,
  ACCEL_UNAVAILABLE: 503,
  USAGE: 400,
};

/** The protocol error body. */
export interface ErrorBody {
  error: { code: string; message: string; retryable: boolean; context: Record<string, unknown> };
}

/** Status and body for any thrown value. */
export function errorResponse(e: unknown): { status: number; body: ErrorBody } {
  if (e instanceof HttpError) return { status: e.status, body: { error: { code: e.code, message: e.message, retryable: false, context: {} } } };
  if (isUmbraError(e)) {
    const context: Record<string, unknown> = { ...e.context };
    if (e instanceof VmStartFailedError) context.stderrTail = e.stderrTail;
    if (e instanceof VmSpecInvalidError) context.issues = e.issues;
    return { status: HTTP_STATUS[e.code] ?? 500, body: { error: { code: e.code, message: e.message, retryable: e.retryable, context } } };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e), retryable: false, context: {} } } };
}
