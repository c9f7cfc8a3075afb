import { describe, expect, it } from 'vitest';
import { fenceTargets } from './agent.js';
import type { FenceTarget } from './fence.js';

describe('fenceTargets (what a fenced agent stops)', () => {
  it('labels standby shadows as shadows, and adds promoted shadows (primaries now) to the agent VMs', () => {
    const vms: FenceTarget[] = [
      { id: 'vm1', labels: { app: 'a' } },
      // A restarted agent lists shadow VMs among its own (driver run dirs).
      { id: 'vm2-s1', labels: {} },
      { id: 'vm3-s1', labels: {} },
    ];
    const shadows = { ids: () => ['vm2-s1', 'vm3-s1', 'vm4-s1'], promotedIds: () => ['vm3-s1', 'vm4-s1'] };
    expect(fenceTargets(vms, shadows)).toEqual([
      { id: 'vm1', labels: { app: 'a' } },
      { id: 'vm2-s1', labels: { role: 'shadow' } },
      { id: 'vm3-s1', labels: {} },
      { id: 'vm4-s1', labels: {} },
    ]);
  });
});
