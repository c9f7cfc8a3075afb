import { describe, expect, it } from 'vitest';
import { renderEvent, renderFailover } from './failover-command.js';

describe('failover command rendering', () => {
  it('an event as one line with its scalar data', () => {
    expect(renderEvent({ seq: 3, t: Date.UTC(2026, 10, 29, 12, 0, 1, 250), kind: 'failover.step', vmId: 'vm1', data: { step: 'promote', ok: true, detail: 'warm promotion in 120 ms', nested: { x: 1 } } })).toBe(
      '2026-11-29 12:00:01.250  failover.step      vm1      step=promote ok=true detail="warm promotion in 120 ms"',
    );
  });

  it('a failover: held, dry run, done with its steps', () => {
    expect(renderFailover({ dryRun: false, decision: { kind: 'blocked', vmId: 'vm1', why: 'no shadow to promote', alert: 'no_shadow', resync: false } })).toBe('failover of vm1 held: no shadow to promote\n');
    const d = { kind: 'failover' as const, vmId: 'vm1', path: 'warm' as const, shadowId: 'vm1-s1', toHost: 'h2', dataLossBoundSeconds: 0, reason: 'manual', priority: 0 };
    expect(renderFailover({ dryRun: true, decision: d })).toBe('would fail over vm1: warm to vm1-s1 on h2, data-loss bound 0 s\n');
    const text = renderFailover({
      dryRun: false,
      decision: d,
      failover: {
        id: 'f', vmId: 'vm1', state: 'done', reason: 'manual', path: 'warm', fromHost: 'h1', fromInstance: 'vm1', shadowId: 'vm1-s1', toHost: 'h2', dataLossBoundSeconds: 0,
        startedAt: 0, endedAt: 900, data: {},
        steps: [{ name: 'fence', startedAt: 0, endedAt: 20, ok: true, detail: 'paused on h1 by its agent' }],
      },
    });
    expect(text).toBe('failover of vm1: warm to vm1-s1 on h2, data-loss bound 0 s: done in 900 ms\n  ok   fence            20 ms  paused on h1 by its agent\n');
  });
});
