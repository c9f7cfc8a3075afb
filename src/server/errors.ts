/**
 * Errors the control plane raises on purpose (besides the store's NotFoundError and
 * ConflictError). Each has a stable `code`; http-errors.ts maps codes to HTTP statuses.
 */
import { UmbraError, type ErrorContext } from '../core/errors.js';

/** One invalid field of a request, with its path (`samples[3].value`; `query.from` for query strings). */
export interface RequestIssue {
  path: string;
  message: string;
}

/** A request body or query failed validation. Every invalid field is listed, not only the first. */
export class RequestInvalidError extends UmbraError {
  readonly issues: readonly RequestIssue[];
  constructor(what: string, issues: readonly RequestIssue[]) {
    const list = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    super('REQUEST_INVALID', `invalid ${what}: ${list}`, { path: issues[0]?.path ?? '', issues });
    this.name = 'RequestInvalidError';
    this.issues = issues;
  }
}

/** A request without the right bearer token. The message never says what was expected. */
export class UnauthorizedError extends UmbraError {
  constructor() {
    super('UNAUTHORIZED', 'missing or invalid bearer token (Authorization: Bearer <token>)');
    this.name = 'UnauthorizedError';
  }
}

/** The route exists but not with this method. */
export class MethodNotAllowedError extends UmbraError {
  constructor(method: string, path: string, readonly allowed: readonly string[]) {
    super('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`, { method, route: path, allowed });
    this.name = 'MethodNotAllowedError';
  }
}

/** A request body over the limit. */
export class PayloadTooLargeError extends UmbraError {
  constructor(limitBytes: number) {
    super('PAYLOAD_TOO_LARGE', `request body is larger than ${limitBytes} bytes`, { limitBytes });
    this.name = 'PayloadTooLargeError';
  }
}

/** No live host has room for a VM (or the requested host has none). Not retryable as such. */
export class NoCapacityError extends UmbraError {
  constructor(message: string, context: ErrorContext = {}) {
    super('NO_CAPACITY', message, context);
    this.name = 'NoCapacityError';
  }
}

/** What a call to an agent was about. */
export interface AgentCallContext extends ErrorContext {
  host: string;
  op: string;
  vmId?: string;
}

/** A host agent could not be reached (connection refused, timeout, reply not in the protocol). Retryable. */
export class AgentUnavailableError extends UmbraError {
  constructor(message: string, context: AgentCallContext, opts: { cause?: unknown } = {}) {
    super('AGENT_UNAVAILABLE', message, context, { cause: opts.cause, retryable: true });
    this.name = 'AgentUnavailableError';
  }
}

/**
 * A host agent answered with a protocol error. `context.agentCode` is the agent's code
 * (`VM_START_FAILED`, ...), `context.stderrTail` QEMU's stderr when it failed to start;
 * `retryable` is the agent's.
 */
export class AgentError extends UmbraError {
  constructor(
    message: string,
    context: AgentCallContext & { agentCode: string; status: number; stderrTail?: string },
    opts: { retryable: boolean },
  ) {
    super('AGENT_ERROR', message, context, { retryable: opts.retryable });
    this.name = 'AgentError';
  }
}
