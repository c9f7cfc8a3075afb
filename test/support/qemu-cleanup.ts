import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * SIGKILLs every QEMU recorded under a driver run dir (`<runDir>/vms/<id>/process.json`),
 * whatever state the test left: the last line of defence in afterAll.
 */
export function killRecordedQemus(runDir: string): void {
  const vms = join(runDir, 'vms');
  if (!existsSync(vms)) return;
  for (const id of readdirSync(vms)) {
    const rec = join(vms, id, 'process.json');
    if (!existsSync(rec)) continue;
    try {
      process.kill((JSON.parse(readFileSync(rec, 'utf8')) as { pid: number }).pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
