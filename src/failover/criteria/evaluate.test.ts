import { describe, expect, it } from 'vitest';
import { evaluate, type TimedValue } from './evaluate.js';
import { parseCriteria } from './parse.js';

const NOW = 1_000_000;
/** Samples every `step` s from now − span to now (inclusive), value f(t). */
function series(span: number, step: number, f: (t: number) => number): TimedValue[] {
  const out: TimedValue[] = [];
  for (let t = NOW - span; t <= NOW; t += step) out.push({ t, value: f(t) });
  return out;
}

describe('evaluate', () => {
  const ast = parseCriteria('cpu > 90% for 5m');

  it('holds when every sample over the duration is over, covering it', () => {
    const r = evaluate(ast, { nowSeconds: NOW, samples: { cpu_pct: series(600, 10, (t) => (t >= NOW - 300 ? 95 : 50)) } });
    expect(r.result).toBe(true);
    expect(r.holds).toBe(true);
    expect(r.atoms[0].detail).toBe('cpu_pct > 90 on all 31 samples over 5m');
  });

  it('is false when one sample in the window (or the one in force at its start) is under', () => {
    const oneDip = series(600, 10, (t) => (t === NOW - 120 ? 80 : 95));
    expect(evaluate(ast, { nowSeconds: NOW, samples: { cpu_pct: oneDip } }).result).toBe(false);
    // Over since now − 295 only: the sample at now − 300 (the window's start) was under.
    const late = series(600, 5, (t) => (t > NOW - 300 ? 95 : 50));
    expect(evaluate(ast, { nowSeconds: NOW, samples: { cpu_pct: late } }).result).toBe(false);
  });

  it('is unknown without enough samples to cover the duration', () => {
    const short = series(200, 10, () => 95); // history starts 200 s ago
    const r = evaluate(ast, { nowSeconds: NOW, samples: { cpu_pct: short } });
    expect(r.result).toBe('unknown');
    expect(r.holds).toBe(false);
    const gappy = series(600, 10, () => 95).filter((s) => s.t < NOW - 200 || s.t > NOW - 100);
    expect(evaluate(ast, { nowSeconds: NOW, samples: { cpu_pct: gappy } }).result).toBe('unknown');
    const stale = series(600, 10, () => 95).filter((s) => s.t <= NOW - 60);
    expect(evaluate(ast, { nowSeconds: NOW, samples: { cpu_pct: stale } }).result).toBe('unknown');
    expect(evaluate(ast, { nowSeconds: NOW, samples: { cpu_pct: stale }, maxGapSeconds: 120 }).result).toBe(true);
  });

  it('uses the latest fresh sample without for', () => {
    const a = parseCriteria('memory > 80%');
    const s = { mem_rss_mib: [{ t: NOW - 10, value: 900 }] };
    expect(evaluate(a, { nowSeconds: NOW, samples: s, allocation: { vcpus: 1, memoryMiB: 1024 } }).result).toBe(true);
    expect(evaluate(a, { nowSeconds: NOW, samples: s, allocation: { vcpus: 1, memoryMiB: 2048 } }).result).toBe(false);
    expect(evaluate(a, { nowSeconds: NOW, samples: s }).result).toBe('unknown'); // no allocation
    expect(evaluate(a, { nowSeconds: NOW + 100, samples: s, allocation: { vcpus: 1, memoryMiB: 1024 } }).result).toBe('unknown');
  });

  it('computes error_rate over the window', () => {
    const a = parseCriteria('error_rate > 5% for 1m');
    // Probes every 10 s; the window (now − 60, now] holds 6, one failed: 16.67 %.
    const probes = series(60, 10, (t) => (t === NOW - 30 ? 0 : 1));
    const r = evaluate(a, { nowSeconds: NOW, samples: { probe_ok: probes } });
    expect(r.result).toBe(true);
    expect(r.atoms[0].detail).toBe('error rate 16.67% (1/6 probes failed over 1m)');
    expect(evaluate(parseCriteria('error_rate > 20% for 1m'), { nowSeconds: NOW, samples: { probe_ok: probes } }).result).toBe(false);
    expect(evaluate(a, { nowSeconds: NOW, samples: { probe_ok: probes.slice(-2) } }).result).toBe('unknown');
  });

  it('evaluates states, flags and three-valued logic', () => {
    const d = parseCriteria('state in [crashed, panicked, hung] or host_lost');
    expect(evaluate(d, { nowSeconds: NOW, state: 'hung', samples: {} }).holds).toBe(true);
    expect(evaluate(d, { nowSeconds: NOW, state: 'running', hostLost: true, samples: {} }).holds).toBe(true);
    expect(evaluate(d, { nowSeconds: NOW, state: 'running', samples: {} }).result).toBe(false);
    expect(evaluate(d, { nowSeconds: NOW, samples: {} }).result).toBe('unknown');
    // Missing data never makes a negated condition true.
    expect(evaluate(parseCriteria('not cpu > 90%'), { nowSeconds: NOW, samples: {} }).result).toBe('unknown');
    expect(evaluate(parseCriteria('cpu > 90% and host_lost'), { nowSeconds: NOW, samples: {} }).result).toBe(false);
    const pf = parseCriteria('probe_failed');
    expect(evaluate(pf, { nowSeconds: NOW, samples: { probe_ok: [{ t: NOW - 5, value: 0 }] } }).result).toBe(true);
    expect(evaluate(pf, { nowSeconds: NOW, samples: { probe_ok: [{ t: NOW - 5, value: 1 }] } }).result).toBe(false);
    expect(evaluate(pf, { nowSeconds: NOW, probeFailed: true, samples: {} }).result).toBe(true);
  });
});

describe('probe_failures', () => {
  it('counts consecutive failed probes back from the latest', async () => {
    const { parseCriteria } = await import('./parse.js');
    const { evaluate } = await import('./evaluate.js');
    const ast = parseCriteria('probe_failures >= 3');
    const probes = (vals: number[]) => vals.map((value, i) => ({ t: 100 + i * 5, value }));
    const at = (vals: number[]) => evaluate(ast, { nowSeconds: 100 + (vals.length - 1) * 5, samples: { probe_ok: probes(vals) } });
    expect(at([1, 0, 0, 0]).result).toBe(true);
    expect(at([0, 0, 1, 0, 0]).result).toBe(false);
    expect(at([1, 0, 0, 0]).atoms[0].detail).toBe('3 consecutive failed probes');
    expect(evaluate(ast, { nowSeconds: 1000, samples: { probe_ok: probes([0, 0, 0]) } }).result).toBe('unknown'); // stale
  });
});
