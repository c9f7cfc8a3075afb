/**
 * Validation of a {@link TargetSpec}, shared by every block-target driver. Pure.
 */
import { PIT_NAME, TARGET_ID, type TargetSpec } from './driver.js';
import { TargetSpecInvalidError } from './errors.js';

/** Every problem of a target spec ([] when valid). */
export function targetSpecProblems(spec: TargetSpec): string[] {
  const p: string[] = [];
  if (!TARGET_ID.test(spec.id)) p.push(`id ${JSON.stringify(spec.id)}: lowercase letters, digits and dashes, 1-63 characters`);
  if (!Number.isSafeInteger(spec.sizeBytes) || spec.sizeBytes <= 0 || spec.sizeBytes % 512 !== 0) p.push(`sizeBytes ${spec.sizeBytes}: a positive multiple of 512`);
  if (!spec.host) p.push('host: required');
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) p.push(`port ${spec.port}: 1-65535`);
  if (!spec.exportName || spec.exportName.length > 255 || /[\0\n]/.test(spec.exportName)) p.push('exportName: 1-255 characters, no NUL or newline');
  return p;
}

/** Throws {@link TargetSpecInvalidError} listing every problem. */
export function checkTargetSpec(spec: TargetSpec): void {
  const p = targetSpecProblems(spec);
  if (p.length) throw new TargetSpecInvalidError(spec.id, p);
}

/** Throws `REQUEST_INVALID` for a point-in-time name QEMU node names cannot hold. */
export function checkPitName(targetId: string, name: string): void {
  if (!PIT_NAME.test(name)) throw new TargetSpecInvalidError(targetId, [`point-in-time name ${JSON.stringify(name)}: a lowercase letter, then letters, digits or dashes, at most 20 characters`]);
}

/** True when two specs name the same target and export (the size is compared separately). */
export function sameExport(a: TargetSpec, b: TargetSpec): boolean {
  return a.host === b.host && a.port === b.port && a.exportName === b.exportName;
}
