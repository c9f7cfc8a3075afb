/**
 * Failover on the lab with a `migrate` shadow (issue 5): a paused `-incoming` QEMU of the
 * primary's shape on another host, its disk mirrored in sync mode. While the primary runs, the
 * failover moves its RAM by live migration (a planned failover with `umbra failover vm1`, and CPU
 * overload held for the criterion's duration); when the primary is dead (SIGKILL), the shadow
 * cold boots from the synchronized disk. A client appends through HAProxy throughout, and
 * faultCase (support) checks what the "Done when" lists (nothing acknowledged lost,
 * never two primaries, traffic on the former shadow, status, the old QEMU gone, every step in the
 * event log). At most 3 QEMUs at once. Needs root and a build.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEntry } from '../src/lab/index.js';
import { failoverLab, faultCase, newShadowSynchronized } from './support/failover-lab.js';

const isRoot = process.getuid?.() === 0;
const L = failoverLab('ufom', 'failover-lab-migrate');
const { env } = L;
const ctx = () => L.ctx();
const execFileP = promisify(execFile);
let cli: ReturnType<typeof execFileP> | null = null;

const POLICY = `version: 1
policies:
  synchronization_mode: sync
  shadow_flavor: migrate
  max_data_loss: 0
  failover_criteria: "state in [crashed, panicked, hung] or host_lost or cpu > 70% for 10s"
  cooldown: 1s
  probation: 1s
  max_failovers: { count: 100, window: 1h }
`;

describe.skipIf(!isRoot)('failover on the lab with a migrate shadow: live migration, cold boot', () => {
  beforeAll(() => {
    cliEntry();
  });

  afterAll(() => L.down(), 90_000);

  it('lab up --hosts 3 --vms 1 --protect --json with a migrate shadow', () => L.up(POLICY), 300_000);

  it('planned: umbra failover vm1 moves it by live migration', async () => {
    const o = await faultCase(ctx(), 'planned', {
      path: 'migrate',
      // Not awaited (nor spawnSync: the client must go on appending while the CLI waits).
      inject: () => {
        cli = execFileP(process.execPath, [cliEntry(), 'failover', 'vm1', '--json'], { env, encoding: 'utf8', timeout: 300_000 });
      },
    });
    expect(o.failover.reason).toBe('manual');
    expect(JSON.parse(String((await cli!).stdout))).toMatchObject({ decision: { kind: 'failover', path: 'migrate' } });
    expect(o.failover.data.migrationDowntimeMs).toBeTypeOf('number');
    console.log(`[measured] planned live migration: downtime ${String(o.failover.data.migrationDowntimeMs)} ms (QEMU), client gap ${o.gapMs} ms`);
  }, 400_000);

  it('CPU overload held for 10 s: live migration', async () => {
    const o = await faultCase(ctx(), 'cpu', {
      path: 'migrate',
      inject: async (p) => {
        const r = await fetch(`${p.endpoint}/load?cpu=100&seconds=300`, { signal: AbortSignal.timeout(5000) });
        expect(r.status).toBe(200);
      },
      // The load generator is guest state: it moved with the RAM. Stop it on the new primary.
      after: async () => void (await fetch(`${L.result.traffic}/load?cpu=0&seconds=1`, { signal: AbortSignal.timeout(5000) })),
    });
    expect(o.failover.reason).toMatch(/cpu > 70% for 10s/);
  }, 400_000);

  it('SIGKILL of the primary: the migrate shadow cold boots from the synchronized disk', () =>
    faultCase(ctx(), 'kill-cold', { path: 'cold', inject: (p) => void process.kill(p.pid!, 'SIGKILL') }), 400_000);

  it('a new shadow of the promoted VM gets synchronized', () => newShadowSynchronized(ctx()), 300_000);
});
