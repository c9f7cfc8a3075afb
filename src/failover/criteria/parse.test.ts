import { describe, expect, it } from 'vitest';
import { formatCriteria, type CriteriaNode } from './ast.js';
import { CriteriaError } from './errors.js';
import { checkCriteria, criteriaProblem, parseCriteria } from './parse.js';

function err(src: string): CriteriaError {
  try {
    parseCriteria(src);
  } catch (e) {
    if (e instanceof CriteriaError) return e;
    throw e;
  }
  throw new Error(`parsed: ${src}`);
}

describe('parseCriteria', () => {
  it('parses the default policy criteria', () => {
    const ast = parseCriteria('state in [crashed, panicked, hung] or host_lost');
    expect(ast).toEqual({
      kind: 'or',
      span: { start: 0, end: 47 },
      items: [
        { kind: 'state_in', states: ['crashed', 'panicked', 'hung'], text: 'state in [crashed, panicked, hung]', span: { start: 0, end: 34 } },
        { kind: 'flag', flag: 'host_lost', text: 'host_lost', span: { start: 38, end: 47 } },
      ],
    });
  });

  it('parses comparisons with units and durations', () => {
    expect(parseCriteria('cpu > 90% for 5m')).toEqual({
      kind: 'compare', metric: 'cpu', op: '>', value: 90, unit: '%', durationSeconds: 300, text: 'cpu > 90% for 5m', span: { start: 0, end: 16 },
    });
    const e = parseCriteria('error_rate >= 5 % for 1 m') as Extract<CriteriaNode, { kind: 'compare' }>;
    expect([e.op, e.value, e.unit, e.durationSeconds]).toEqual(['>=', 5, '%', 60]);
    const m = parseCriteria('memory > 1.5GiB') as Extract<CriteriaNode, { kind: 'compare' }>;
    expect([m.value, m.unit, m.durationSeconds]).toEqual([1.5, 'GiB', 0]);
    const l = parseCriteria('latency <= 250ms for 500ms') as Extract<CriteriaNode, { kind: 'compare' }>;
    expect([l.op, l.value, l.unit, l.durationSeconds]).toEqual(['<=', 250, 'ms', 0.5]);
    const d = parseCriteria('disk_write_iops > 2000 for 1h') as Extract<CriteriaNode, { kind: 'compare' }>;
    expect([d.value, d.unit, d.durationSeconds]).toEqual([2000, '', 3600]);
  });

  it('gives not > and > or precedence, and parentheses override it', () => {
    const a = parseCriteria('not host_lost and cpu > 90% or probe_failed');
    expect(formatCriteria(a)).toBe('not host_lost and cpu > 90% or probe_failed');
    expect(a.kind).toBe('or');
    if (a.kind !== 'or') return;
    expect(a.items[0].kind).toBe('and');
    const b = parseCriteria('not (host_lost or probe_failed) and (cpu > 90% or memory > 95%)');
    expect(b.kind).toBe('and');
    expect(formatCriteria(b)).toBe('not (host_lost or probe_failed) and (cpu > 90% or memory > 95%)');
  });

  it('is case-insensitive for keywords and names', () => {
    expect(formatCriteria(parseCriteria('CPU > 90% FOR 5m OR State IN [Crashed]'))).toBe('cpu > 90% for 5m or state in [crashed]');
  });

  it('points at the bad number with a caret line', () => {
    const e = err('cpu > 9O%');
    expect(e.message).toBe('cpu > 9O%\n      ^ expected a number');
    expect(e.column).toBe(7);
    expect(e.reason).toBe('expected a number');
    expect(e.code).toBe('CONFIG_INVALID');
  });

  it('suggests the metric for a misspelt one', () => {
    const e = err('cpu > 90% or memroy > 80%');
    expect(e.column).toBe(14);
    expect(e.reason).toMatch(/^unknown metric "memroy" \(did you mean memory\?\); known metrics: cpu, memory, error_rate/);
    expect(err('eror_rate > 5%').reason).toMatch(/did you mean error_rate\?/);
    expect(err('temperature > 5').reason).not.toMatch(/did you mean/);
  });

  it('suggests states and flags', () => {
    expect(err('state in [crashd]').reason).toMatch(/^unknown state "crashd" \(did you mean crashed\?\)/);
    expect(err('host_lots').reason).toMatch(/^unknown name "host_lots" \(did you mean host_lost\?\)/);
  });

  it('reports the other errors at the right column', () => {
    const cases: [string, number, RegExp][] = [
      ['', 1, /expected a condition/],
      ['cpu 90%', 5, /expected one of >, >=, <, <= after cpu/],
      ['cpu == 90%', 5, /expected one of >, >=, <, <=/],
      ['cpu > 90ms', 9, /cpu takes % , not ms|cpu takes %, not ms/],
      ['disk_read_iops > 5%', 19, /takes a plain number/],
      ['cpu > 90% for', 14, /expected a duration/],
      ['cpu > 90% for 5', 15, /a unit is required/],
      ['cpu > 90% for 5x', 15, /expected a duration/],
      ['(cpu > 90%', 11, /expected "\)"/],
      ['cpu > 90%)', 10, /unmatched "\)"/],
      ['cpu > 90% host_lost', 11, /expected "and", "or" or the end/],
      ['state [crashed]', 7, /expected "in" after state/],
      ['state in []', 11, /at least one state/],
      ['state in [crashed hung]', 19, /expected "," or "\]"/],
      ['host_lost and', 14, /expected a condition after this/],
      ['host_lost and or probe_failed', 15, /keyword "or"/],
      ['cpu > 90% & host_lost', 11, /unexpected character "&"/],
    ];
    for (const [src, col, re] of cases) {
      const e = err(src);
      expect({ src, col: e.column }).toEqual({ src, col });
      expect(e.reason).toMatch(re);
    }
  });

  it('criteriaProblem and checkCriteria report the caret message', () => {
    expect(criteriaProblem('cpu > 90% for 5m or host_lost')).toBeNull();
    expect(criteriaProblem('cpu > 9O%')).toBe('cpu > 9O%\n      ^ expected a number');
    const issues: { message: string }[] = [];
    checkCriteria('cpu > 9O%', { addIssue: (i) => issues.push(i) });
    checkCriteria('   ', { addIssue: (i) => issues.push(i) });
    checkCriteria('host_lost', { addIssue: (i) => issues.push(i) });
    expect(issues.map((i) => i.message)).toEqual(['invalid criteria (column 7):\ncpu > 9O%\n      ^ expected a number']);
  });

  it('parses the example policy criteria', () => {
    for (const s of [
      'cpu > 90% for 5m or state in [crashed, panicked, hung] or host_lost',
      'cpu > 95% for 2m or error_rate > 5% for 1m or state in [crashed, hung] or host_lost',
    ]) {
      expect(formatCriteria(parseCriteria(s))).toBe(s);
    }
  });
});
