import { describe, expect, it } from 'vitest';
import { shadowSpecSchema } from '../../api/shadow-protocol.js';
import { parseVmSpec } from '../../hypervisor/spec.js';
import { rehearsalVmId, sameShadowSpec, targetStateOf, toRehearsalVmSpec, toShadowVmSpec, toTargetSpec } from './shadow-spec.js';

const spec = shadowSpecSchema.parse({ id: 's1', primaryId: 'vm1', flavor: 'warm', diskBytes: 1 << 26, vcpus: 1, maxVcpus: 1, memoryMiB: 128, maxMemoryMiB: 128, kernel: '/k', initrd: '/i', adminToken: 'x'.repeat(16) });
const at = { address: '10.0.0.2', servicePort: 20001, exportPort: 20000, exportName: 's1' };

describe('shadow specs', () => {
  it('the target is the primary disk size, exported on the agent address', () => {
    expect(toTargetSpec(spec, at)).toEqual({ id: 's1', sizeBytes: 1 << 26, host: '10.0.0.2', port: 20000, exportName: 's1' });
  });

  it('warm and migrate VMs are valid driver specs of the same shape; only incoming and the data argument differ', () => {
    const warm = parseVmSpec(toShadowVmSpec(spec, at));
    const mig = parseVmSpec(toShadowVmSpec({ ...spec, flavor: 'migrate' }, at));
    expect(warm.incoming).toBe(false);
    expect(mig.incoming).toBe(true);
    expect({ ...warm, incoming: true, boot: null }).toEqual({ ...mig, boot: null });
    expect(warm.network?.forwards).toEqual([{ hostAddr: '10.0.0.2', hostPort: 20001, guestPort: 80 }]);
  });

  it('a rehearsal VM mounts a snapshot of the point-in-time export', () => {
    const r = parseVmSpec(toRehearsalVmSpec(spec, { vmId: 's1-r1', address: '10.0.0.2', servicePort: 20005, pit: { host: '10.0.0.2', port: 20000, export: 's1-r1' } }));
    expect(r.disks[0]).toMatchObject({ kind: 'nbd', export: 's1-r1', snapshot: true });
    expect(r.boot.kind === 'kernel' && r.boot.append).toContain('umbra.data=vda');
    expect(r.boot.kind === 'kernel' && r.boot.append).not.toContain('umbra.token');
  });

  it('rehearsal VM ids fit 63 characters', () => {
    expect(rehearsalVmId('s1', 3)).toBe('s1-r3');
    const long = 'a'.repeat(63);
    expect(rehearsalVmId(long, 12)).toBe(`${'a'.repeat(59)}-r12`);
    expect(rehearsalVmId(long, 12)).toHaveLength(63);
  });

  it('a re-sent spec naming the picked ports is the same shadow', () => {
    const rec = { spec, servicePort: 20001, exportPort: 20000 };
    expect(sameShadowSpec(rec, { ...spec, servicePort: 20001, exportPort: 20000 })).toBe(true);
    expect(sameShadowSpec(rec, { ...spec, exportPort: 20009 })).toBe(false);
    expect(sameShadowSpec(rec, { ...spec, labels: { a: 'b' } })).toBe(false);
  });

  it('reports `restarted` only while a restart is pending and the target runs', () => {
    expect(targetStateOf(true, true)).toBe('restarted');
    expect(targetStateOf(true, false)).toBe('running');
    expect(targetStateOf(false, true)).toBe('stopped');
  });
});
