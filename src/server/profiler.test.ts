import { describe, expect, it } from 'vitest';
import type { UsageSample } from '../api/protocol.js';
import { ManualClock } from '../core/clock.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { silentLogger } from './log.js';
import { Profiler } from './profiler.js';

const DAY = 86_400;
const NOW = 1_736_208_000; // 2025-01-07T00:00:00Z
/** The synthetic CPU load: a daily wave around 1 core. */
const load = (t: number) => 1 + 0.5 * Math.sin((2 * Math.PI * t) / DAY);

/**
 * `days` of one sample a minute with deterministic noise of ±0.05. Four days: the seasonality
 * test (src/forecast/seasonality.ts) does not call a daily wave significant on three.
 */
function history(vmId: string, days: number): UsageSample[] {
  const out: UsageSample[] = [];
  let seed = 12345;
  for (let t = NOW - days * DAY; t < NOW; t += 60) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    out.push({ vmId, metric: 'cpu_cores', t, value: load(t) + 0.1 * (seed / 2 ** 31 - 0.5), unit: 'cores' });
  }
  return out;
}

describe('Profiler', () => {
  it('forecasts stored series, skips short ones with a note, ignores other metrics and stale series', async () => {
    const store = openSqliteStore({ path: ':memory:', now: 0 });
    const clock = new ManualClock(NOW * 1000);
    await store.transaction((tx) =>
      tx.insertSamples([
        ...history('vm-1', 4),
        // One hour only: too little history for a 24 h horizon.
        ...Array.from({ length: 60 }, (_, i) => ({ vmId: 'vm-2', metric: 'mem_rss_mib', t: NOW - 3600 + i * 60, value: 100, unit: 'MiB' })),
        // Not a load metric: not forecast.
        { vmId: 'vm-1', metric: 'probe_ok', t: NOW - 60, value: 1, unit: 'bool' },
        // Nothing within the history window.
        { vmId: 'vm-old', metric: 'cpu_cores', t: NOW - 40 * DAY, value: 1, unit: 'cores' },
      ]),
    );
    const profiler = new Profiler({
      store,
      clock,
      log: silentLogger,
      settings: { horizons: [3600, DAY], levels: [80, 95], historySeconds: 35 * DAY, stepSeconds: 300, metrics: ['cpu_cores', 'mem_rss_mib'] },
    });
    const report = await profiler.pass();
    expect(report).toMatchObject({ at: NOW, forecast: 1, failed: [] });
    expect(report.skipped).toEqual([{ vmId: 'vm-2', metric: 'mem_rss_mib', code: 'INSUFFICIENT_HISTORY', reason: expect.stringContaining('history') }]);
    expect(profiler.last).toBe(report);

    const [row] = await store.read((r) => r.getForecasts('vm-1'));
    expect(row).toMatchObject({ vmId: 'vm-1', metric: 'cpu_cores', computedAt: NOW });
    const f = row.forecast;
    expect(f).toMatchObject({ series: 'vm-1', metric: 'cpu_cores', unit: 'cores', stepSeconds: 300 });
    // The longest horizon, one point per 5 minutes, starting right after the last bucket.
    expect(f.points).toHaveLength(288);
    expect(f.points[0].t).toBe(NOW);
    // The truth of a point is the mean of the five one-minute samples of its bucket.
    const truth = (t: number) => [0, 60, 120, 180, 240].reduce((s, d) => s + load(t + d), 0) / 5;
    let worst = 0;
    let inside = 0;
    for (const p of f.points) {
      worst = Math.max(worst, Math.abs(p.mean - truth(p.t)));
      const [lo, hi] = p.intervals['95'];
      if (lo <= truth(p.t) && truth(p.t) <= hi) inside++;
    }
    expect(worst).toBeLessThan(0.1);
    expect(inside / f.points.length).toBeGreaterThan(0.9);
    expect(await store.read((r) => r.getForecasts('vm-old'))).toEqual([]);
    await store.close();
  });
});
