/**
 * Typed errors of the block-target layer. They reuse existing codes of src/core/errors.ts (so
 * the one HTTP status map applies): an unknown target is `NOT_FOUND`, a spec that contradicts
 * the existing target is `CONFLICT`, a bad spec `REQUEST_INVALID`, a serving process that did
 * not come up `VM_START_FAILED` (it is a QEMU process, as a VM's is), a refused monitor command
 * `HV_COMMAND_FAILED` (raised by the shared QMP client), an operation on a stopped target
 * `VM_INVALID_STATE`.
 */
import { UmbraError, type ErrorCode, type ErrorContext } from '../core/errors.js';

/** Context every storage error may carry. */
export interface StorageErrorContext extends ErrorContext {
  /** The target the error is about. */
  targetId?: string;
  /** The driver operation that failed (`ensure`, `exportPointInTime`...). */
  op?: string;
}

/** Any error raised on purpose by a {@link BlockTargetDriver}. */
export class StorageError extends UmbraError {
  declare readonly context: StorageErrorContext;
  constructor(code: ErrorCode, message: string, context: StorageErrorContext = {}, opts: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, context, opts);
    this.name = 'StorageError';
  }
}

/** No target with this id exists on the host. */
export class TargetNotFoundError extends StorageError {
  constructor(targetId: string, op?: string) {
    super('NOT_FOUND', `no block target ${JSON.stringify(targetId)}`, { targetId, op });
    this.name = 'TargetNotFoundError';
  }
}

/** The spec contradicts the existing target (another size, or another address while it runs). */
export class TargetConflictError extends StorageError {
  constructor(targetId: string, why: string) {
    super('CONFLICT', `block target ${targetId}: ${why}`, { targetId, op: 'ensure' });
    this.name = 'TargetConflictError';
  }
}

/** The target spec is invalid (every problem listed). */
export class TargetSpecInvalidError extends StorageError {
  constructor(targetId: string, problems: readonly string[]) {
    super('REQUEST_INVALID', `invalid block target spec: ${problems.join('; ')}`, { targetId, op: 'ensure' });
    this.name = 'TargetSpecInvalidError';
  }
}

/** The operation needs a running serving process. */
export class TargetStoppedError extends StorageError {
  constructor(targetId: string, op: string) {
    super('VM_INVALID_STATE', `cannot ${op} on block target ${targetId}: its process is not running`, { targetId, op, state: 'stopped' });
    this.name = 'TargetStoppedError';
  }
}

/** The serving process did not come up; `stderrTail` says why (e.g. the port is taken). */
export class TargetStartFailedError extends StorageError {
  readonly stderrTail: string;
  constructor(targetId: string, stderrTail: string, detail: string) {
    const lines = stderrTail.trim().split('\n');
    const why = [...lines].reverse().find((l) => /^qemu-storage-daemon: /.test(l)) ?? lines[lines.length - 1] ?? '';
    super('VM_START_FAILED', `block target ${targetId} failed to start (${detail})${why ? `: ${why}` : ''}`, { targetId, op: 'start', stderrTail });
    this.name = 'TargetStartFailedError';
    this.stderrTail = stderrTail;
  }
}
