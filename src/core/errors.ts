/**
 * Typed errors. Every error Umbra raises on purpose is an {@link UmbraError} with a stable
 * `code`; callers branch on `code` (or `retryable`), never on message text. The CLI maps codes
 * to exit statuses in one place (src/cli/exit-codes.ts).
 */
export type ErrorCode =
  | 'USAGE' // bad command-line usage
  | 'CONFIG_INVALID' // a policy/config file failed validation
  | 'INPUT_INVALID' // an input file could not be read as a series
  | 'INPUT_UNSUPPORTED' // the input's format could not be detected / is unknown
  | 'INSUFFICIENT_HISTORY' // too little history for the requested horizon
  | 'SOURCE_UNAVAILABLE' // an external source (e.g. Prometheus) could not be reached
  // Hypervisor driver codes (raised by src/hypervisor/errors.ts, documented there):
  | 'VM_NOT_FOUND'
  | 'VM_EXISTS'
  | 'VM_SPEC_INVALID'
  | 'VM_START_FAILED'
  | 'VM_INVALID_STATE'
  | 'QMP_TIMEOUT'
  | 'QMP_DISCONNECTED'
  | 'QMP_PROTOCOL'
  | 'HV_COMMAND_FAILED'
  | 'POWERDOWN_TIMEOUT'
  | 'HOTPLUG_FAILED'
  | 'ACCEL_UNAVAILABLE'
  // Control-plane codes (server API and store; src/server/http-errors.ts maps them to HTTP):
  | 'UNAUTHORIZED' // missing or wrong bearer token
  | 'NOT_FOUND' // no such route or record (agent, VM)
  | 'METHOD_NOT_ALLOWED' // the route exists, not with this method
  | 'REQUEST_INVALID' // a request body or query failed validation (context.path names the field)
  | 'PAYLOAD_TOO_LARGE' // a request body over the size limit
  | 'CONFLICT' // a record exists with a different spec
  | 'NO_CAPACITY' // no live host has room for a VM
  | 'AGENT_UNAVAILABLE' // a host agent could not be reached (retryable)
  | 'AGENT_ERROR' // a host agent answered with an error (its code in context.agentCode)
  | 'STORE_FAILED' // the store cannot be used (schema newer than this code, corrupt file)
  | 'SHADOWS_DISABLED' // the server runs without a shadow manager
  // Traffic switch codes (raised by src/traffic/errors.ts, documented there):
  | 'TRAFFIC_UNAVAILABLE' // the switch (HAProxy socket, DNS server) could not be reached (retryable)
  | 'TRAFFIC_REFUSED' // the switch refused the change: not authorized (DNS REFUSED/NOTAUTH, bad TSIG)
  | 'TRAFFIC_COMMAND_FAILED' // the switch answered a change with an error
  | 'TRAFFIC_PROTOCOL' // the switch's answer could not be understood (or its signature did not verify)
  | 'INTERNAL';

export interface ErrorContext {
  /** The file (or URL) the error is about. */
  file?: string;
  /** 1-based line number in `file`, where one applies. */
  line?: number;
  /** Series id the error is about. */
  series?: string;
  /** Field path (config) such as `policies.shadow_creation_threshold`. */
  path?: string;
  [key: string]: unknown;
}

export class UmbraError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, context: ErrorContext = {}, opts: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'UmbraError';
    this.code = code;
    this.context = context;
    this.retryable = opts.retryable ?? false;
  }

  /** `file:line: message` when a place is known, else the message. */
  where(): string {
    const { file, line } = this.context;
    if (file && line) return `${file}:${line}: ${this.message}`;
    if (file) return `${file}: ${this.message}`;
    return this.message;
  }
}

/** An input file could not be read as a series; names the file and, where known, the line. */
export class InputError extends UmbraError {
  constructor(message: string, context: ErrorContext & { file: string }, opts: { cause?: unknown } = {}) {
    super('INPUT_INVALID', message, context, opts);
    this.name = 'InputError';
  }
}

/** A usage error (bad flag, bad value): exit status 2. */
export class UsageError extends UmbraError {
  constructor(message: string, context: ErrorContext = {}) {
    super('USAGE', message, context);
    this.name = 'UsageError';
  }
}

/** The series is valid but too short for what was asked (horizon, seasonality). */
export class InsufficientHistoryError extends UmbraError {
  constructor(message: string, context: ErrorContext = {}) {
    super('INSUFFICIENT_HISTORY', message, context);
    this.name = 'InsufficientHistoryError';
  }
}

export function isUmbraError(e: unknown): e is UmbraError {
  return e instanceof UmbraError;
}
