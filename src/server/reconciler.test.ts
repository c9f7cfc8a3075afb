import { describe, expect, it } from 'vitest';
import type { AgentVm, AgentVmSpec } from '../api/protocol.js';
import { ManualClock } from '../core/clock.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { AgentApi, AgentTarget } from './agent-client.js';
import { AgentError } from './errors.js';
import { silentLogger } from './log.js';
import { Reconciler, agentSpecFor } from './reconciler.js';

/** An AgentApi that fails `failures` times, then runs the VM. */
class ScriptedAgents implements AgentApi {
  calls: { host: string; spec: AgentVmSpec }[] = [];
  constructor(private failures: number) {}
  async ensureVm(agent: AgentTarget, spec: AgentVmSpec): Promise<AgentVm> {
    this.calls.push({ host: agent.name, spec });
    if (this.failures-- > 0) {
      throw new AgentError('agent h1: ensure failed', { host: agent.name, op: 'ensure', vmId: spec.id, agentCode: 'VM_START_FAILED', status: 502, stderrTail: 'tail' }, { retryable: false });
    }
    return { id: spec.id, state: 'running', pid: 7, endpoint: 'http://h1:9000', startedAt: 0, lastError: null };
  }
  async deleteVm(): Promise<void> {}
}

async function setup(failures: number) {
  const clock = new ManualClock(1_000_000);
  const store = openSqliteStore({ path: ':memory:', now: 0 });
  const agents = new ScriptedAgents(failures);
  const stateChanges: string[][] = [];
  const r = new Reconciler({ store, clock, agents, log: silentLogger, image: async () => ({ kernel: '/k', initrd: '/i' }), backoffBaseMs: 5000, backoffMaxMs: 20_000, onStateChange: (ids) => stateChanges.push(ids) });
  const renew = () =>
    store.transaction((tx) =>
      tx.putAgent(
        { name: 'h1', apiUrl: 'http://h1:7070', address: 'h1', labels: {}, capacity: { cores: 2, memoryMiB: 1024 } },
        { now: clock.now(), leaseExpiresAt: clock.now() + 60_000, observed: tx.getAgent('h1')?.observed ?? [] },
      ),
    );
  await renew();
  await store.transaction((tx) =>
    tx.createVm({
      id: 'vm-1',
      role: 'primary',
      spec: { vcpus: 2, memoryMiB: 256, host: 'h1', labels: { a: 'b' } },
      createdAt: clock.now(),
      status: { state: 'pending', host: 'h1', pid: null, endpoint: null, observedAt: null, lastError: null },
    }),
  );
  const state = async () => (await store.read((x) => x.getVm('vm-1')))!.status;
  return { clock, store, agents, r, state, renew, stateChanges };
}

describe('Reconciler', () => {
  it('ensures a pending VM on its live host and takes its status from the reply', async () => {
    const { r, agents, state, store } = await setup(0);
    await r.pass();
    expect(agents.calls).toHaveLength(1);
    expect(agents.calls[0].spec).toEqual({
      id: 'vm-1', vcpus: 2, maxVcpus: 4, memoryMiB: 256, maxMemoryMiB: 1024, kernel: '/k', initrd: '/i', dataDiskMiB: 64, servicePort: 0, probePath: '/health', labels: { a: 'b' },
    });
    expect(await state()).toMatchObject({ state: 'running', pid: 7, endpoint: 'http://h1:9000' });
    // Reported by the host now: nothing more to ensure.
    await r.pass();
    expect(agents.calls).toHaveLength(1);
    expect((await store.read((x) => x.listEvents({ kind: 'vm.state' }))).map((e) => e.data)).toEqual([{ from: 'pending', to: 'running', host: 'h1' }]);
    await store.close();
  });

  it('records a failed ensure as the status and retries with exponential backoff', async () => {
    const { r, agents, state, clock, store, renew } = await setup(3);
    await r.pass();
    expect(await state()).toMatchObject({ state: 'failed', lastError: { code: 'VM_START_FAILED', stderrTail: 'tail' } });
    const tries = async (ms: number) => {
      clock.advance(ms);
      await renew();
      await r.pass();
      return agents.calls.length;
    };
    expect(await tries(4999)).toBe(1); // 5 s after the first failure
    expect(await tries(1)).toBe(2);
    expect(await tries(9999)).toBe(2); // 10 s after the second
    expect(await tries(1)).toBe(3);
    expect(await tries(19_999)).toBe(3); // 20 s after the third (the cap)
    expect(await tries(1)).toBe(4);
    expect((await state()).state).toBe('running');
    await store.close();
  });

  it('does not ensure on a host whose lease ran out', async () => {
    const { r, agents, state, clock, store } = await setup(0);
    clock.advance(60_000);
    await r.pass();
    expect(agents.calls).toHaveLength(0);
    expect((await state()).state).toBe('host_lost');
    await store.close();
  });

  it('tells onStateChange which VMs changed state, and only then', async () => {
    const { r, store, clock, renew, stateChanges } = await setup(0);
    await r.pass(); // pending → running (the ensure's reply), seen by the rebuild after it
    expect(stateChanges).toEqual([['vm-1']]);
    await renew();
    await r.pass(); // same state: nothing
    expect(stateChanges).toHaveLength(1);
    clock.advance(60_000); // the host's lease runs out: running → host_lost
    await r.rebuild();
    expect(stateChanges).toEqual([['vm-1'], ['vm-1']]);
    await store.close();
  });

  it('builds the agent spec with room to hot-add', () => {
    const spec = agentSpecFor({ id: 'big', spec: { vcpus: 6, memoryMiB: 2048, host: 'h', labels: {} } }, { kernel: 'k', initrd: 'i', append: 'quiet' });
    expect(spec).toMatchObject({ vcpus: 6, maxVcpus: 6, memoryMiB: 2048, maxMemoryMiB: 2048, append: 'quiet' });
  });
});
