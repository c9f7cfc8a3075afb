/**
 * Typed errors of the hypervisor driver layer. Callers branch on `code` and `retryable`, never
 * on message text. Both drivers (QEMU and simulated) raise exactly these classes, and the
 * contract suite (contract.ts) checks that they do.
 */
import { UmbraError, type ErrorCode, type ErrorContext } from '../core/errors.js';

/** The subset of {@link ErrorCode} the hypervisor layer raises. */
export type HypervisorErrorCode = Extract<
  ErrorCode,
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
>;

/**
 * Whether an operation that failed with this code may succeed when retried unchanged.
 * Timeouts and dropped connections are transient; a bad spec, a missing VM, a refused
 * command or an exhausted hot-plug slot are not.
 */
export const RETRYABLE: Readonly<Record<HypervisorErrorCode, boolean>> = {
  VM_NOT_FOUND: false,
  VM_EXISTS: false,
  VM_SPEC_INVALID: false,
  VM_START_FAILED: false,
  VM_INVALID_STATE: false,
  QMP_TIMEOUT: true,
  QMP_DISCONNECTED: true,
  QMP_PROTOCOL: false,
  HV_COMMAND_FAILED: false,
  POWERDOWN_TIMEOUT: false,
  HOTPLUG_FAILED: false,
  ACCEL_UNAVAILABLE: false,
};

/** Context fields every hypervisor error may carry. */
export interface HypervisorErrorContext extends ErrorContext {
  /** The VM the error is about. */
  vmId?: string;
  /** The driver operation that failed (`start`, `mirror`, `hotAddVcpu`...). */
  op?: string;
}

/** Any error raised by a {@link HypervisorDriver}; `code` says which kind. */
export class HypervisorError extends UmbraError {
  declare readonly code: HypervisorErrorCode;
  declare readonly context: HypervisorErrorContext;
  constructor(code: HypervisorErrorCode, message: string, context: HypervisorErrorContext = {}, opts: { cause?: unknown } = {}) {
    super(code, message, context, { cause: opts.cause, retryable: RETRYABLE[code] });
    this.name = 'HypervisorError';
  }
}

/** No VM with this id is known to the driver (no record, no run dir). */
export class VmNotFoundError extends HypervisorError {
  constructor(vmId: string, op?: string) {
    super('VM_NOT_FOUND', `no VM with id ${JSON.stringify(vmId)}`, { vmId, op });
    this.name = 'VmNotFoundError';
  }
}

/** `create` was called for an existing id with a different spec (same spec is a no-op). */
export class VmExistsError extends HypervisorError {
  constructor(vmId: string) {
    super('VM_EXISTS', `VM ${vmId} already exists with a different spec`, { vmId, op: 'create' });
    this.name = 'VmExistsError';
  }
}

/** One invalid field of a VM spec. */
export interface SpecIssue {
  /** Dotted path such as `memory.maxMiB` or `disks[0].path`. */
  path: string;
  message: string;
}

/** The VM spec is invalid; `issues` lists every invalid field, not only the first. */
export class VmSpecInvalidError extends HypervisorError {
  readonly issues: readonly SpecIssue[];
  constructor(issues: readonly SpecIssue[], vmId?: string) {
    super('VM_SPEC_INVALID', `invalid VM spec: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`, {
      vmId,
      op: 'create',
    });
    this.name = 'VmSpecInvalidError';
    this.issues = issues;
  }
}

/**
 * The hypervisor process did not come up (bad disk path, bad option, exit at start).
 * `stderrTail` holds the last lines QEMU wrote, which say why.
 */
export class VmStartFailedError extends HypervisorError {
  readonly stderrTail: string;
  readonly exitCode: number | null;
  constructor(vmId: string, stderrTail: string, exitCode: number | null, detail?: string) {
    // QEMU's own complaint is the last line it prefixed with its name (a hint may follow it).
    const lines = stderrTail.trim().split('\n');
    const why = [...lines].reverse().find((l) => /^qemu-system-\S+: /.test(l)) ?? lines[lines.length - 1] ?? '';
    super('VM_START_FAILED', `VM ${vmId} failed to start${detail ? ` (${detail})` : ''}${why ? `: ${why}` : ''}`, {
      vmId,
      op: 'start',
      exitCode,
    });
    this.name = 'VmStartFailedError';
    this.stderrTail = stderrTail;
    this.exitCode = exitCode;
  }
}

/** The operation is not possible in the VM's current state (e.g. `stop` on an exited VM). */
export class VmInvalidStateError extends HypervisorError {
  readonly state: string;
  constructor(vmId: string, op: string, state: string, need: string) {
    super('VM_INVALID_STATE', `cannot ${op} VM ${vmId}: it is ${state}, needs ${need}`, { vmId, op, state });
    this.name = 'VmInvalidStateError';
    this.state = state;
  }
}

/** A QMP command got no answer in time. Retryable: QEMU may be busy. */
export class QmpTimeoutError extends HypervisorError {
  constructor(command: string, timeoutMs: number, context: HypervisorErrorContext = {}) {
    super('QMP_TIMEOUT', `QMP command ${command} got no answer in ${timeoutMs} ms`, { ...context, command, timeoutMs });
    this.name = 'QmpTimeoutError';
  }
}

/** The QMP connection closed (or was never open) while a command was pending. Retryable. */
export class QmpDisconnectedError extends HypervisorError {
  constructor(message: string, context: HypervisorErrorContext = {}, cause?: unknown) {
    super('QMP_DISCONNECTED', message, context, { cause });
    this.name = 'QmpDisconnectedError';
  }
}

/** The peer did not speak QMP (bad greeting, unparsable line). */
export class QmpProtocolError extends HypervisorError {
  constructor(message: string, context: HypervisorErrorContext = {}) {
    super('QMP_PROTOCOL', message, context);
    this.name = 'QmpProtocolError';
  }
}

/**
 * The hypervisor refused a command (QMP `error` reply, or the simulated equivalent).
 * `errorClass` is QMP's class (`GenericError`, `DeviceNotFound`...), `desc` its text.
 */
export class HvCommandError extends HypervisorError {
  readonly errorClass: string;
  readonly desc: string;
  constructor(command: string, errorClass: string, desc: string, context: HypervisorErrorContext = {}) {
    super('HV_COMMAND_FAILED', `${command} failed: ${desc}`, { ...context, command, errorClass });
    this.name = 'HvCommandError';
    this.errorClass = errorClass;
    this.desc = desc;
  }
}

/** The guest did not shut down within the powerdown timeout (it ignores ACPI, or is slow). */
export class PowerdownTimeoutError extends HypervisorError {
  constructor(vmId: string, timeoutMs: number) {
    super('POWERDOWN_TIMEOUT', `VM ${vmId} did not power down within ${timeoutMs} ms`, { vmId, op: 'powerdown', timeoutMs });
    this.name = 'PowerdownTimeoutError';
  }
}

/** A vCPU or memory hot-add was refused (no free slot, above maxmem, bad size). */
export class HotplugError extends HypervisorError {
  constructor(vmId: string, op: string, message: string, cause?: unknown) {
    super('HOTPLUG_FAILED', `${op} on VM ${vmId}: ${message}`, { vmId, op }, { cause });
    this.name = 'HotplugError';
  }
}

/** No accelerator works on this host (not even TCG). */
export class AccelUnavailableError extends HypervisorError {
  constructor(message: string, context: HypervisorErrorContext = {}) {
    super('ACCEL_UNAVAILABLE', message, context);
    this.name = 'AccelUnavailableError';
  }
}

/** True when `e` is a {@link HypervisorError}, optionally with the given code. */
export function isHypervisorError(e: unknown, code?: HypervisorErrorCode): e is HypervisorError {
  return e instanceof HypervisorError && (code === undefined || e.code === code);
}
