/**
 * The last line of defence of tests that run qemu-storage-daemon targets (shadows, promotion,
 * retire, the storage driver): SIGKILL every daemon recorded under a run dir, whatever state
 * the test left it in.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readPidFile } from '../../src/hypervisor/qemu/process.js';
import { targetsDir } from '../../src/storage/qsd/layout.js';

/** SIGKILLs every target daemon whose pid file lies under `baseDir`'s targets directory. */
export function killTargetDaemons(baseDir: string): void {
  const root = targetsDir(baseDir);
  if (!existsSync(root)) return;
  for (const id of readdirSync(root)) {
    const pid = readPidFile(join(root, id, 'qsd.pid'));
    if (pid === null) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
