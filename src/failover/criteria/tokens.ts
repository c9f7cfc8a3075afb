import { CriteriaError } from './errors.js';

/**
 * Tokens of the criteria language. A `word` is a maximal run of letters, digits, `_`, `.` and
 * `%`: the parser decides whether it is a name, a number with a unit (`90%`, `250ms`, `2GiB`) or
 * a duration (`5m`), so that `9O%` is one bad number, not a number followed by a name.
 */
export type TokenKind = 'word' | 'op' | '(' | ')' | '[' | ']' | ',' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The token's text as written (`''` for eof). */
  text: string;
  /** 0-based offset in the source. */
  start: number;
  /** 0-based offset just past the token. */
  end: number;
}

const WORD = /[A-Za-z0-9_.%]/;
const PUNCT = new Set(['(', ')', '[', ']', ',']);

/** Splits a criteria expression into tokens. @throws CriteriaError on a character of no token. */
export function tokenize(source: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (PUNCT.has(c)) {
      out.push({ kind: c as TokenKind, text: c, start: i, end: i + 1 });
      i++;
      continue;
    }
    if (c === '>' || c === '<' || c === '=' || c === '!') {
      const two = source[i + 1] === '=';
      const text = two ? c + '=' : c;
      out.push({ kind: 'op', text, start: i, end: i + text.length });
      i += text.length;
      continue;
    }
    if (WORD.test(c)) {
      let j = i;
      while (j < source.length && WORD.test(source[j])) j++;
      out.push({ kind: 'word', text: source.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    throw new CriteriaError(source, i, `unexpected character "${c}"`);
  }
  out.push({ kind: 'eof', text: '', start: source.length, end: source.length });
  return out;
}
