/**
 * The one place where error codes become HTTP statuses, and the protocol's error body
 * `{ error: { code, message, retryable, context } }`, for every API (server and agent).
 */
import type { ErrorCode } from '../core/errors.js';

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
  VM_INVALID_STATE: 409,
  HOTPLUG_FAILED: 409,
  NO_CAPACITY: 409,
  PAYLOAD_TOO_LARGE: 413,
  INSUFFICIENT_HISTORY: 422,
  VM_START_FAILED: 502,
  QMP_PROTOCOL: 502,
  HV_COMMAND_FAILED: 502,
  AGENT_ERROR: 502,
  QMP_TIMEOUT: 503,
  QMP_DISCONNECTED: 503,
  ACCEL_UNAVAILABLE: 503,
  AGENT_UNAVAILABLE: 503,
  SOURCE_UNAVAILABLE: 503,
  SHADOWS_DISABLED: 503,
  TRAFFIC_UNAVAILABLE: 503,
  TRAFFIC_REFUSED: 502,
  TRAFFIC_COMMAND_FAILED: 502,
  TRAFFIC_PROTOCOL: 502,
  POWERDOWN_TIMEOUT: 504,
  STORE_FAILED: 500,
  INTERNAL: 500,
};

/** The HTTP status of an error code (500 when unlisted). */
export function httpStatusOf(code: string): number {
  return (HTTP_STATUS as Record<string, number | undefined>)[code] ?? 500;
}

/** The protocol's error body. */
export interface ErrorBody {
  error: { code: string; message: string; retryable: boolean; context: Record<string, unknown> };
}
