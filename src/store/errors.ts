/**
 * Errors a {@link Store} raises. Callers branch on `code`; the server maps codes to HTTP
 * statuses in one place (src/server/http-errors.ts).
 */
import { UmbraError, type ErrorContext } from '../core/errors.js';

/** A record (agent, VM) that an operation needs does not exist. Code `NOT_FOUND`. */
export class NotFoundError extends UmbraError {
  constructor(kind: 'agent' | 'vm' | 'host' | 'route' | 'shadow' | 'alert', id: string, context: ErrorContext = {}) {
    super('NOT_FOUND', `no ${kind} ${JSON.stringify(id)}`, { kind, id, ...context });
    this.name = 'NotFoundError';
  }
}

/** A record with this key exists already (with a different content). Code `CONFLICT`. */
export class ConflictError extends UmbraError {
  constructor(message: string, context: ErrorContext = {}) {
    super('CONFLICT', message, context);
    this.name = 'ConflictError';
  }
}

/** The store cannot be used: a schema newer than this code, a corrupt or unreadable file. Code `STORE_FAILED`. */
export class StoreFailedError extends UmbraError {
  constructor(message: string, context: ErrorContext = {}, opts: { cause?: unknown } = {}) {
    super('STORE_FAILED', message, context, opts);
    this.name = 'StoreFailedError';
  }
}
