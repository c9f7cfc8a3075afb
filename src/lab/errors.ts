/**
 * Errors of `umbra lab`. They reuse the shared codes (src/core/errors.ts): `USAGE` for what the
 * user must change (not root, bad counts, another lab in the way), `INTERNAL` for a step of the
 * set-up that failed (an `ip` command, a process that exited), `AGENT_UNAVAILABLE` when the
 * agents never registered. `context.step` names the step.
 */
import { UmbraError, type ErrorCode, type ErrorContext } from '../core/errors.js';

/** The lab steps an error can be about. */
export type LabStep = 'root' | 'args' | 'image' | 'network' | 'server' | 'agent' | 'register' | 'vm' | 'health' | 'state' | 'down' | 'protect' | 'traffic' | 'dns';

/** A lab operation failed; `context.step` says where, `context.logTail` carries a process's last log lines. */
export class LabError extends UmbraError {
  constructor(code: Extract<ErrorCode, 'USAGE' | 'INTERNAL' | 'AGENT_UNAVAILABLE' | 'VM_START_FAILED'>, message: string, context: ErrorContext & { step: LabStep }, opts: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, context, opts);
    this.name = 'LabError';
  }
}

/** Throws a clear `USAGE` LabError unless this process runs as root (namespaces need it). */
export function requireRoot(uid: number | undefined = process.getuid?.()): void {
  if (uid !== 0) {
    throw new LabError('USAGE', 'umbra lab needs root: it creates network namespaces, veth pairs and a bridge (run it with sudo, or as root in a container)', { step: 'root' });
  }
}
