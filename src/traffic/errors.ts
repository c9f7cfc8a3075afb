/**
 * Typed errors of the traffic layer. Callers branch on `code` and `retryable`, never on message
 * text. Every driver (HAProxy, DNS, simulated, multi) raises exactly these classes, and the
 * contract suite (contract.ts) checks the ones every driver shares.
 *
 * Codes: an unknown service is `NOT_FOUND`; an invalid service name or backend is
 * `REQUEST_INVALID` (both reuse the API's codes, so the one HTTP map applies); the rest are the
 * `TRAFFIC_*` codes of src/core/errors.ts.
 */
import { UmbraError, type ErrorCode, type ErrorContext } from '../core/errors.js';

/** The subset of {@link ErrorCode} the traffic layer raises. */
export type TrafficErrorCode = Extract<
  ErrorCode,
  'NOT_FOUND' | 'REQUEST_INVALID' | 'TRAFFIC_UNAVAILABLE' | 'TRAFFIC_REFUSED' | 'TRAFFIC_COMMAND_FAILED' | 'TRAFFIC_PROTOCOL'
>;

/** Context fields every traffic error may carry. */
export interface TrafficErrorContext extends ErrorContext {
  /** The driver that raised it (`haproxy`, `dns`, `sim`, `multi`). */
  driver?: string;
  /** The service the error is about. */
  service?: string;
  /** The driver operation that failed (`ensure`, `observe`, `disable`, `stats`). */
  op?: string;
}

/** Any error raised on purpose by a {@link TrafficSwitch}; `code` says which kind. */
export class TrafficError extends UmbraError {
  declare readonly code: TrafficErrorCode;
  declare readonly context: TrafficErrorContext;
  constructor(code: TrafficErrorCode, message: string, context: TrafficErrorContext = {}, opts: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, context, { cause: opts.cause, retryable: opts.retryable ?? code === 'TRAFFIC_UNAVAILABLE' });
    this.name = 'TrafficError';
  }
}

/** The switch does not know this service (HAProxy: no such backend or server slot). */
export class TrafficServiceUnknownError extends TrafficError {
  constructor(service: string, context: TrafficErrorContext = {}) {
    super('NOT_FOUND', `no traffic route for service ${JSON.stringify(service)}`, { ...context, service });
    this.name = 'TrafficServiceUnknownError';
  }
}

/**
 * A service name or backend is invalid (checked before anything is sent, so a bad value never
 * reaches a runtime command line or a DNS name). `problems` lists every invalid field.
 */
export class TrafficRequestInvalidError extends TrafficError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], context: TrafficErrorContext = {}) {
    super('REQUEST_INVALID', `invalid traffic request: ${problems.join('; ')}`, context);
    this.name = 'TrafficRequestInvalidError';
    this.problems = problems;
  }
}

/**
 * The switch could not be reached or did not answer in time (no socket, connection refused,
 * DNS timeout). Retryable: the next pass tries again.
 */
export class TrafficUnavailableError extends TrafficError {
  constructor(message: string, context: TrafficErrorContext = {}, cause?: unknown) {
    super('TRAFFIC_UNAVAILABLE', message, context, { cause, retryable: true });
    this.name = 'TrafficUnavailableError';
  }
}

/**
 * The switch refused the change as not authorized: DNS `REFUSED` (e.g. an unsigned update)
 * or `NOTAUTH` (unknown key, wrong secret, clock skew; `tsigError` names the TSIG error).
 * Not retryable: the configuration (key, zone, ACL) must change.
 */
export class TrafficRefusedError extends TrafficError {
  /** The DNS response code name (`REFUSED`, `NOTAUTH`), or `PERMISSION_DENIED` (HAProxy socket not at level admin). */
  readonly rcode: string;
  /** The TSIG error the server reported (`BADSIG`, `BADKEY`, `BADTIME`), if any. */
  readonly tsigError: string | undefined;
  constructor(message: string, rcode: string, tsigError: string | undefined, context: TrafficErrorContext = {}) {
    super('TRAFFIC_REFUSED', message, { ...context, rcode, tsigError }, { retryable: false });
    this.name = 'TrafficRefusedError';
    this.rcode = rcode;
    this.tsigError = tsigError;
  }
}

/**
 * The switch answered a change with an error (HAProxy's runtime API said no, DNS `SERVFAIL`,
 * `NOTZONE`...). `answer` is the switch's own text or response code. Retryable only where
 * the switch's state may change by itself (DNS `SERVFAIL` while a zone loads).
 */
export class TrafficCommandError extends TrafficError {
  readonly answer: string;
  constructor(message: string, answer: string, context: TrafficErrorContext = {}, opts: { retryable?: boolean } = {}) {
    super('TRAFFIC_COMMAND_FAILED', message, { ...context, answer }, { retryable: opts.retryable ?? false });
    this.name = 'TrafficCommandError';
    this.answer = answer;
  }
}

/** The switch's answer could not be understood, or its TSIG signature did not verify. */
export class TrafficProtocolError extends TrafficError {
  constructor(message: string, context: TrafficErrorContext = {}, cause?: unknown) {
    super('TRAFFIC_PROTOCOL', message, context, { cause, retryable: false });
    this.name = 'TrafficProtocolError';
  }
}

/**
 * A switch process (haproxy, named) started by Umbra did not come up: it exited, or did not
 * answer in time. `logTail` holds the last lines it wrote, which say why (a taken port, a bad
 * config). Not retryable: the same config fails the same way.
 */
export class TrafficStartError extends TrafficError {
  readonly logTail: string;
  constructor(program: string, why: string, logTail: string) {
    const last = logTail.trim().split('\n').slice(-3).join(' | ');
    super('TRAFFIC_UNAVAILABLE', `${program} did not start: ${why}${last ? `: ${last}` : ''}`, { op: 'start', program }, { retryable: false });
    this.name = 'TrafficStartError';
    this.logTail = logTail;
  }
}

/** True when `e` is a {@link TrafficError}, optionally with the given code. */
export function isTrafficError(e: unknown, code?: TrafficErrorCode): e is TrafficError {
  return e instanceof TrafficError && (code === undefined || e.code === code);
}
