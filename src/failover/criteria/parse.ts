/**
 * The failover criteria language: a recursive-descent parser from text to {@link CriteriaNode}.
 *
 * ```
 * expr       := and ("or" and)*
 * and        := unary ("and" unary)*
 * unary      := "not" unary | primary
 * primary    := "(" expr ")" | comparison | membership | flag
 * comparison := METRIC (">" | ">=" | "<" | "<=") NUMBER[unit] ["for" DURATION]
 * membership := "state" "in" "[" STATE ("," STATE)* "]"
 * flag       := "host_lost" | "probe_failed"
 * ```
 * Units: `%`, `ms`, `s`, `MiB`, `GiB` (each metric accepts some, see CRITERIA_METRICS); a unit may
 * follow the number with or without a space. Durations: `30s`, `5m`, `1h`, `1d`, `500ms`.
 * Keywords, metric, state and flag names are case-insensitive. Precedence: not > and > or.
 */
import type { AndNode, CompareNode, CriteriaNode, OrNode, Span } from './ast.js';
import { CriteriaError } from './errors.js';
import {
  CRITERIA_FLAGS,
  CRITERIA_METRICS,
  CRITERIA_STATES,
  isFlag,
  isMetric,
  isState,
  type CompareOp,
  type CriteriaState,
  type CriteriaUnit,
} from './metrics.js';
import { didYouMean } from './suggest.js';
import { tokenize, type Token } from './tokens.js';

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'for', 'state']);
const OPS: readonly string[] = ['>', '>=', '<', '<='];
/** Unit spellings accepted after a number, to their normal form. */
const UNIT_SPELLING: Record<string, CriteriaUnit> = { '%': '%', ms: 'ms', s: 's', mib: 'MiB', gib: 'GiB' };
const DURATION_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const NUMBER = /^(\d+(?:\.\d+)?|\.\d+)(.*)$/;
const DURATION_EXAMPLE = 'a duration such as 30s, 5m or 1h';

/**
 * Parses a criteria expression.
 * @throws CriteriaError (code CONFIG_INVALID) with the column and a caret line
 */
export function parseCriteria(source: string): CriteriaNode {
  return new Parser(source).parseAll();
}

/** The parse error's message, or null when `source` parses (for config validation). */
export function criteriaProblem(source: string): string | null {
  try {
    parseCriteria(source);
    return null;
  } catch (e) {
    if (e instanceof CriteriaError) return e.message;
    throw e;
  }
}

/**
 * A zod `superRefine` for the policy's `failover_criteria`: reports the parse error (column and
 * caret line) as the field's issue. Blank strings are left to the field's own non-empty check.
 */
export function checkCriteria(source: string, ctx: { addIssue(issue: { code: 'custom'; message: string; params?: Record<string, unknown> }): void }): void {
  if (typeof source !== 'string' || source.trim() === '') return;
  try {
    parseCriteria(source);
  } catch (e) {
    if (!(e instanceof CriteriaError)) throw e;
    // noValue: the caret line already shows the value.
    ctx.addIssue({ code: 'custom', message: `invalid criteria (column ${e.column}):\n${e.message}`, params: { noValue: true } });
  }
}

class Parser {
  private readonly tokens: Token[];
  private i = 0;

  constructor(private readonly source: string) {
    this.tokens = tokenize(source);
  }

  parseAll(): CriteriaNode {
    if (this.peek().kind === 'eof') this.fail(this.peek(), 'expected a condition such as "cpu > 90% for 5m" or "host_lost"');
    const node = this.parseOr();
    const t = this.peek();
    if (t.kind !== 'eof') this.fail(t, t.kind === ')' ? 'unmatched ")"' : `expected "and", "or" or the end, got "${t.text}"`);
    return node;
  }

  // -- helpers ---------------------------------------------------------------------------------

  private peek(k = 0): Token {
    return this.tokens[Math.min(this.i + k, this.tokens.length - 1)];
  }
  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }
  private isWord(t: Token, word: string): boolean {
    return t.kind === 'word' && t.text.toLowerCase() === word;
  }
  private fail(t: Token, reason: string): never {
    throw new CriteriaError(this.source, t.start, reason);
  }
  private span(start: number): Span {
    return { start, end: this.tokens[this.i - 1]?.end ?? start };
  }
  private text(span: Span): string {
    return this.source.slice(span.start, span.end);
  }

  // -- grammar ---------------------------------------------------------------------------------

  private parseOr(): CriteriaNode {
    const start = this.peek().start;
    const items = [this.parseAnd()];
    while (this.isWord(this.peek(), 'or')) {
      this.next();
      items.push(this.parseAnd());
    }
    return items.length === 1 ? items[0] : ({ kind: 'or', items, span: this.span(start) } satisfies OrNode);
  }

  private parseAnd(): CriteriaNode {
    const start = this.peek().start;
    const items = [this.parseUnary()];
    while (this.isWord(this.peek(), 'and')) {
      this.next();
      items.push(this.parseUnary());
    }
    return items.length === 1 ? items[0] : ({ kind: 'and', items, span: this.span(start) } satisfies AndNode);
  }

  private parseUnary(): CriteriaNode {
    const t = this.peek();
    if (this.isWord(t, 'not')) {
      this.next();
      const expr = this.parseUnary();
      return { kind: 'not', expr, span: this.span(t.start) };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): CriteriaNode {
    const t = this.peek();
    if (t.kind === '(') {
      this.next();
      const inner = this.parseOr();
      const close = this.peek();
      if (close.kind !== ')') this.fail(close, close.kind === 'eof' ? 'expected ")" (unclosed "(")' : `expected ")", "and" or "or", got "${close.text}"`);
      this.next();
      return inner;
    }
    if (t.kind !== 'word') this.fail(t, t.kind === 'eof' ? 'expected a condition after this' : `expected a condition, got "${t.text}"`);
    const name = t.text.toLowerCase();
    if (name === 'state') return this.parseStateIn();
    if (isMetric(name)) return this.parseCompare();
    if (isFlag(name)) {
      this.next();
      const span = this.span(t.start);
      return { kind: 'flag', flag: name, text: this.text(span), span };
    }
    if (KEYWORDS.has(name)) this.fail(t, `expected a condition, got the keyword "${name}"`);
    if (NUMBER.test(t.text)) this.fail(t, `expected a metric before the number (${metricList()})`);
    const comparison = this.peek(1).kind === 'op';
    if (comparison) {
      const hint = didYouMean(name, Object.keys(CRITERIA_METRICS));
      this.fail(t, `unknown metric "${t.text}"${hint ? ` (did you mean ${hint}?)` : ''}; known metrics: ${metricList()}`);
    }
    const known = [...Object.keys(CRITERIA_FLAGS), ...Object.keys(CRITERIA_METRICS), 'state'];
    const hint = didYouMean(name, known);
    this.fail(t, `unknown name "${t.text}"${hint ? ` (did you mean ${hint}?)` : ''}; expected a metric comparison, "state in [...]" or a flag (${Object.keys(CRITERIA_FLAGS).join(', ')})`);
  }

  private parseStateIn(): CriteriaNode {
    const first = this.next(); // state
    const kw = this.peek();
    if (!this.isWord(kw, 'in')) this.fail(kw, `expected "in" after state, e.g. state in [${CRITERIA_STATES.slice(2, 5).join(', ')}]`);
    this.next();
    const open = this.peek();
    if (open.kind !== '[') this.fail(open, 'expected "[" starting a list of states');
    this.next();
    const states: CriteriaState[] = [];
    for (;;) {
      const s = this.peek();
      if (s.kind === ']' && states.length === 0) this.fail(s, `expected at least one state (${CRITERIA_STATES.join(', ')})`);
      if (s.kind !== 'word') this.fail(s, `expected a state (${CRITERIA_STATES.join(', ')})`);
      const name = s.text.toLowerCase();
      if (!isState(name)) {
        const hint = didYouMean(name, CRITERIA_STATES);
        this.fail(s, `unknown state "${s.text}"${hint ? ` (did you mean ${hint}?)` : ''}; known states: ${CRITERIA_STATES.join(', ')}`);
      }
      this.next();
      if (!states.includes(name)) states.push(name);
      const sep = this.peek();
      if (sep.kind === ',') {
        this.next();
        continue;
      }
      if (sep.kind === ']') {
        this.next();
        break;
      }
      this.fail(sep, sep.kind === 'eof' ? 'expected "]" (unclosed "[")' : 'expected "," or "]"');
    }
    const span = this.span(first.start);
    return { kind: 'state_in', states, text: this.text(span), span };
  }

  private parseCompare(): CompareNode {
    const m = this.next();
    const metric = m.text.toLowerCase();
    if (!isMetric(metric)) this.fail(m, 'expected a metric'); // unreachable: checked by the caller
    const doc = CRITERIA_METRICS[metric];
    const opTok = this.peek();
    if (opTok.kind !== 'op' || !OPS.includes(opTok.text)) {
      const got = opTok.kind === 'eof' ? 'the end' : `"${opTok.text}"`;
      this.fail(opTok, `expected one of >, >=, <, <= after ${metric}, got ${got}`);
    }
    this.next();
    const op = opTok.text as CompareOp;

    const numTok = this.peek();
    const parsed = numTok.kind === 'word' ? NUMBER.exec(numTok.text) : null;
    if (!parsed) this.fail(numTok, 'expected a number');
    let unitText = parsed[2];
    let unitTok = numTok;
    let unitStart = numTok.start + parsed[1].length;
    if (unitText !== '' && !Object.hasOwn(UNIT_SPELLING, unitText.toLowerCase())) this.fail(numTok, 'expected a number');
    this.next();
    // A unit written apart from its number: `90 %`, `2 GiB`.
    if (unitText === '' && this.peek().kind === 'word' && Object.hasOwn(UNIT_SPELLING, this.peek().text.toLowerCase())) {
      unitTok = this.next();
      unitText = unitTok.text;
      unitStart = unitTok.start;
    }
    const unit = unitText === '' ? '' : UNIT_SPELLING[unitText.toLowerCase()];
    if (!(doc.units as readonly CriteriaUnit[]).includes(unit)) {
      const allowed = doc.units.filter((u) => u !== '');
      const want = allowed.length ? `${allowed.join(' or ')}` : 'a plain number (no unit)';
      throw new CriteriaError(this.source, unitStart, `${metric} takes ${want}, not ${unit}`);
    }
    const value = Number(parsed[1]);

    let durationSeconds = 0;
    if (this.isWord(this.peek(), 'for')) {
      this.next();
      durationSeconds = this.parseDuration();
    }
    const span = this.span(m.start);
    return { kind: 'compare', metric, op, value, unit, durationSeconds, text: this.text(span), span };
  }

  private parseDuration(): number {
    const t = this.peek();
    const parsed = t.kind === 'word' ? NUMBER.exec(t.text) : null;
    if (!parsed) this.fail(t, `expected ${DURATION_EXAMPLE}`);
    this.next();
    let unit = parsed[2].toLowerCase();
    if (unit === '' && this.peek().kind === 'word' && Object.hasOwn(DURATION_SECONDS, this.peek().text.toLowerCase())) {
      unit = this.next().text.toLowerCase();
    }
    if (unit === '') this.fail(t, `expected ${DURATION_EXAMPLE} (a unit is required)`);
    if (!Object.hasOwn(DURATION_SECONDS, unit)) this.fail(t, `expected ${DURATION_EXAMPLE}`);
    const seconds = Number(parsed[1]) * DURATION_SECONDS[unit];
    if (!(seconds > 0)) this.fail(t, 'expected a positive duration');
    return seconds;
  }
}

function metricList(): string {
  return Object.keys(CRITERIA_METRICS).join(', ');
}
