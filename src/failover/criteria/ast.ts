import type { CompareOp, CriteriaFlag, CriteriaMetric, CriteriaState, CriteriaUnit } from './metrics.js';

/** Where a node sits in the source: 0-based offsets, `[start, end)`. Column = start + 1. */
export interface Span {
  start: number;
  end: number;
}

/** `metric op value[unit] [for duration]`, e.g. `cpu > 90% for 5m`. */
export interface CompareNode {
  kind: 'compare';
  metric: CriteriaMetric;
  op: CompareOp;
  /** The number as written. */
  value: number;
  /** The unit as written, normalized (`%`, `ms`, `s`, `MiB`, `GiB`; `''` for a plain number). */
  unit: CriteriaUnit;
  /** The `for` duration in seconds; 0 when there is none (the latest sample decides). */
  durationSeconds: number;
  /** The source text of this condition. */
  text: string;
  span: Span;
}

/** `state in [crashed, hung]`. */
export interface StateInNode {
  kind: 'state_in';
  states: CriteriaState[];
  text: string;
  span: Span;
}

/** `host_lost`, `probe_failed`. */
export interface FlagNode {
  kind: 'flag';
  flag: CriteriaFlag;
  text: string;
  span: Span;
}

export interface NotNode {
  kind: 'not';
  expr: CriteriaNode;
  span: Span;
}

/** `a and b and c` (two or more items). */
export interface AndNode {
  kind: 'and';
  items: CriteriaNode[];
  span: Span;
}

/** `a or b or c` (two or more items). */
export interface OrNode {
  kind: 'or';
  items: CriteriaNode[];
  span: Span;
}

/** A leaf condition. */
export type AtomNode = CompareNode | StateInNode | FlagNode;
/** A parsed criteria expression. */
export type CriteriaNode = AtomNode | NotNode | AndNode | OrNode;

/** Every leaf of `node`, left to right. */
export function atomsOf(node: CriteriaNode): AtomNode[] {
  switch (node.kind) {
    case 'compare':
    case 'state_in':
    case 'flag':
      return [node];
    case 'not':
      return atomsOf(node.expr);
    case 'and':
    case 'or':
      return node.items.flatMap(atomsOf);
  }
}

/** A canonical rendering (`(cpu > 90% for 5m and not host_lost) or state in [crashed]`). */
export function formatCriteria(node: CriteriaNode): string {
  switch (node.kind) {
    case 'compare':
      return `${node.metric} ${node.op} ${node.value}${node.unit}${node.durationSeconds > 0 ? ` for ${fmtSeconds(node.durationSeconds)}` : ''}`;
    case 'state_in':
      return `state in [${node.states.join(', ')}]`;
    case 'flag':
      return node.flag;
    case 'not': {
      const inner = formatCriteria(node.expr);
      return node.expr.kind === 'and' || node.expr.kind === 'or' ? `not (${inner})` : `not ${inner}`;
    }
    case 'and':
      return node.items.map((n) => (n.kind === 'or' ? `(${formatCriteria(n)})` : formatCriteria(n))).join(' and ');
    case 'or':
      return node.items.map(formatCriteria).join(' or ');
  }
}

function fmtSeconds(s: number): string {
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60}m`;
  if (Number.isInteger(s)) return `${s}s`;
  return `${Math.round(s * 1000)}ms`;
}
