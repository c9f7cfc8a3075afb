/** Small helpers shared by the text readers: cells, headers and the messages about them. */

/** Removes surrounding whitespace and one pair of surrounding double quotes. */
export function cleanCell(text: string): string {
  const t = text.trim();
  if (t.length >= 2 && t.charCodeAt(0) === 34 && t.charCodeAt(t.length - 1) === 34) return t.slice(1, -1).trim();
  return t;
}

/** The result of reading one numeric cell. */
export type CellKind = 'number' | 'empty' | 'not-finite' | 'not-a-number';

/**
 * Classifies a cleaned cell: `number` (finite), `empty`, `not-finite` (NaN, Infinity, or a
 * number too large for a double) or `not-a-number` (any other text).
 */
export function classifyNumber(cell: string): { kind: CellKind; value: number } {
  if (cell === '') return { kind: 'empty', value: NaN };
  const v = Number(cell);
  if (Number.isFinite(v)) return { kind: 'number', value: v };
  // ±Infinity, or a literal NaN/inf spelled any common way.
  if (!Number.isNaN(v) || /^[+-]?(nan|inf|infinity)$/i.test(cell)) return { kind: 'not-finite', value: v };
  return { kind: 'not-a-number', value: NaN };
}

/** Splits a header such as `cpu [%]` or `mem (KB)` into metric `cpu` / `mem` and unit. */
export function splitHeaderUnit(header: string): { metric: string; unit: string } {
  const m = /^(.*?)\s*[[(]([^\])]*)[\])]\s*$/.exec(header);
  if (m && m[1].length > 0) return { metric: m[1], unit: m[2].trim() };
  return { metric: header, unit: '' };
}

/** Shortens a cell for an error message. */
export function quoteCell(cell: string): string {
  return JSON.stringify(cell.length > 40 ? `${cell.slice(0, 40)}…` : cell);
}
