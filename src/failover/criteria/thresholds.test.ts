import { describe, expect, it } from 'vitest';
import { parseCriteria } from './parse.js';
import { thresholdsOf } from './thresholds.js';

describe('thresholdsOf', () => {
  it('returns forecastable comparisons in sample units, skipping states, flags and probe metrics', () => {
    const ast = parseCriteria('cpu > 90% for 5m or error_rate > 5% for 1m or memory >= 2GiB or latency > 1s or state in [crashed] or host_lost');
    expect(thresholdsOf(ast)).toEqual([
      { metric: 'cpu', sampleMetric: 'cpu_pct', op: '>', value: 90, sampleUnit: '%', written: { value: 90, unit: '%' }, durationSeconds: 300, negated: false, text: 'cpu > 90% for 5m' },
      { metric: 'memory', sampleMetric: 'mem_rss_mib', op: '>=', value: 2048, sampleUnit: 'MiB', written: { value: 2, unit: 'GiB' }, durationSeconds: 0, negated: false, text: 'memory >= 2GiB' },
    ]);
  });

  it('converts memory percentages with the allocation and flips ops under not', () => {
    const ast = parseCriteria('not (memory > 75% and not disk_read_iops < 100)');
    const t = thresholdsOf(ast, { vcpus: 2, memoryMiB: 1024 });
    expect(t.map((x) => [x.sampleMetric, x.op, x.value, x.negated])).toEqual([
      ['mem_rss_mib', '<=', 768, true],
      ['disk_read_iops', '<', 100, false],
    ]);
    expect(thresholdsOf(parseCriteria('memory > 75%'))[0].value).toBeNull();
  });
});
