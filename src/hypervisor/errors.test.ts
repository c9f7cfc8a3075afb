import { describe, expect, it } from 'vitest';
import { UmbraError } from '../core/errors.js';
import { HypervisorError, QmpTimeoutError, VmStartFailedError, isHypervisorError } from './errors.js';

describe('hypervisor errors', () => {
  it("names QEMU's own complaint, not the hint after it", () => {
    const tail = 'qemu-system-x86_64: -device virtio-blk-pci,drive=snap: Failed to get shared "write" lock\nIs another process using the image [/d.raw]?';
    const e = new VmStartFailedError('a', tail, 1, 'QEMU exited at start');
    expect(e.message).toBe('VM a failed to start (QEMU exited at start): qemu-system-x86_64: -device virtio-blk-pci,drive=snap: Failed to get shared "write" lock');
    expect(e.stderrTail).toBe(tail);
    expect(e.context).toMatchObject({ vmId: 'a', op: 'start', exitCode: 1 });
  });

  it('marks transient failures retryable by code', () => {
    const t = new QmpTimeoutError('query-status', 100, { vmId: 'a' });
    expect(t).toBeInstanceOf(UmbraError);
    expect(t.retryable).toBe(true);
    expect(new HypervisorError('QMP_DISCONNECTED', 'x').retryable).toBe(true);
    expect(new HypervisorError('HOTPLUG_FAILED', 'x').retryable).toBe(false);
    expect(new VmStartFailedError('a', '', null).retryable).toBe(false);
    expect(isHypervisorError(t, 'QMP_TIMEOUT')).toBe(true);
    expect(isHypervisorError(t, 'VM_NOT_FOUND')).toBe(false);
    expect(isHypervisorError(new Error('x'))).toBe(false);
  });
});
