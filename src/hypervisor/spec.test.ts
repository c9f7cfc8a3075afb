import { describe, expect, it } from 'vitest';
import { parseVmSpec, sameSpec, maxVcpus } from './spec.js';
import { VmSpecInvalidError } from './errors.js';

describe('parseVmSpec', () => {
  it('fills defaults', () => {
    const s = parseVmSpec({ id: 'a', vcpus: { base: 2 }, memory: { baseMiB: 256 }, boot: { kind: 'none' }, disks: [{ kind: 'file', id: 'data', path: '/d' }] });
    expect(s.disks[0]).toEqual({ kind: 'file', id: 'data', path: '/d', format: 'raw', readOnly: false, snapshot: false, shareRw: false });
    expect(s.memory.slots).toBe(0);
    expect(s.incoming).toBe(false);
    expect(s.noReboot).toBe(true);
    expect(maxVcpus(s)).toBe(2);
  });

  it('reports every invalid field with its path', () => {
    let err: unknown;
    try {
      parseVmSpec({
        id: 'Bad_Id',
        vcpus: { base: 2, max: 1 },
        memory: { baseMiB: 256, slots: 2, maxMiB: 128 },
        boot: { kind: 'none' },
        disks: [
          { kind: 'file', id: 'data', path: '/a' },
          { kind: 'file', id: 'data', path: '/b' },
        ],
        network: { kind: 'user', forwards: [{ hostPort: 0, guestPort: 80 }] },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VmSpecInvalidError);
    const paths = (err as VmSpecInvalidError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(['disks[1].id', 'id', 'memory.maxMiB', 'network.forwards[0].hostPort', 'vcpus.max']);
    expect((err as VmSpecInvalidError).code).toBe('VM_SPEC_INVALID');
  });

  it('checks cross-field rules', () => {
    let err: unknown;
    try {
      parseVmSpec({
        id: 'a',
        vcpus: { base: 2, max: 1 },
        memory: { baseMiB: 256, slots: 2, maxMiB: 128 },
        boot: { kind: 'none' },
        disks: [
          { kind: 'file', id: 'data', path: '/a' },
          { kind: 'file', id: 'data', path: '/b' },
        ],
      });
    } catch (e) {
      err = e;
    }
    expect((err as VmSpecInvalidError).issues.map((i) => i.path).sort()).toEqual(['disks[1].id', 'memory.maxMiB', 'vcpus.max']);
  });

  it('compares specs by content, not key order', () => {
    const a = parseVmSpec({ id: 'a', vcpus: { base: 1 }, memory: { baseMiB: 128 }, boot: { kind: 'none' } });
    const b = parseVmSpec({ boot: { kind: 'none' }, memory: { baseMiB: 128 }, vcpus: { base: 1 }, id: 'a' });
    const c = parseVmSpec({ id: 'a', vcpus: { base: 1 }, memory: { baseMiB: 256 }, boot: { kind: 'none' } });
    expect(sameSpec(a, b)).toBe(true);
    expect(sameSpec(a, c)).toBe(false);
  });
});
