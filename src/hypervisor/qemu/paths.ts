/**
 * The run dir layout of a QEMU VM: `<baseDir>/vms/<id>/` holds everything an agent needs to
 * re-adopt the VM after its own restart (spec, pidfile, QMP socket) and the logs.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { VmSpecInvalidError } from '../errors.js';

/** Files of one VM's run dir. */
export interface VmPaths {
  dir: string;
  /** The normalized spec, JSON. */
  specFile: string;
  /** QMP monitor socket. */
  qmpSocket: string;
  /** QEMU writes its pid here (`-pidfile`). */
  pidFile: string;
  /** QEMU's stdout+stderr (appended across starts). */
  qemuLog: string;
  /** Serial console socket (connect to talk to the guest console). */
  serialSocket: string;
  /** Everything the guest wrote to its serial console. */
  serialLog: string;
}

/** Longest unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH = 107;

/** The run dir of VM `id` under `baseDir`. Throws `VM_SPEC_INVALID` when a socket path would be too long. */
export function vmPaths(baseDir: string, id: string): VmPaths {
  const dir = join(baseDir, 'vms', id);
  const p: VmPaths = {
    dir,
    specFile: join(dir, 'spec.json'),
    qmpSocket: join(dir, 'qmp.sock'),
    pidFile: join(dir, 'qemu.pid'),
    qemuLog: join(dir, 'qemu.log'),
    serialSocket: join(dir, 'serial.sock'),
    serialLog: join(dir, 'serial.log'),
  };
  for (const s of [p.qmpSocket, p.serialSocket]) {
    if (Buffer.byteLength(s) > MAX_SOCKET_PATH)
      throw new VmSpecInvalidError([{ path: 'id', message: `socket path ${s} is longer than ${MAX_SOCKET_PATH} bytes: use a shorter run dir` }], id);
  }
  return p;
}

/** The driver's base dir: `explicit`, else `$UMBRA_RUN_DIR`, else `~/.local/state/umbra`. */
export function resolveRunDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return resolve(explicit);
  if (env.UMBRA_RUN_DIR) return resolve(env.UMBRA_RUN_DIR);
  return join(homedir(), '.local', 'state', 'umbra');
}

/** The directory holding every VM's run dir. */
export function vmsDir(baseDir: string): string {
  return join(baseDir, 'vms');
}
