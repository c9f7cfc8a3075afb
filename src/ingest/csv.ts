import { InputError } from '../core/errors.js';
import type { RawSeries } from '../forecast/types.js';
import { classifyNumber, cleanCell, quoteCell, splitHeaderUnit } from './cells.js';
import { MetricColumn } from './growable.js';
import { forEachLine } from './line-reader.js';
import { epochToSeconds, epochUnitOf, isNumericTimestamp, parseIsoTimestamp, type EpochUnit } from './timestamp.js';

/** Options of {@link readDelimited}, for readers that are a constrained CSV (NAB). */
export interface DelimitedOptions {
  /** Require exactly this many columns (time included). */
  exactColumns?: number;
  /** Name every metric this (only sensible with one value column). */
  metricName?: string;
}

/** A CSV column being read; `text`/`firstTextLine` count cells that were not numbers. */
interface ColumnState {
  index: number;
  header: string;
  data: MetricColumn;
  text: number;
  firstTextLine: number;
  firstText: string;
}

const EPOCH_UNIT_NAMES: Record<EpochUnit, string> = {
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
};

/** Share of steps against the overall direction above which the first column is judged not to be time. */
const MAX_CONTRARY_SHARE = 0.1;

/**
 * Reads a generic CSV: a header row, the time in the first column (epoch seconds, or ISO 8601;
 * naive times are UTC; epoch milliseconds/micro/nanoseconds are recognised by magnitude and
 * noted), and one RawSeries per further numeric column, named by its header (`cpu [%]` →
 * metric `cpu`, unit `%`). The delimiter is `,`, `;` or TAB, whichever splits the header most.
 * A file whose first row is all numbers is read as headerless (metrics `value`, `value2`, …).
 * Columns that hold mostly text are skipped (and noted); a column that is mostly numbers may not
 * contain text. Empty cells are missing observations.
 *
 * @throws InputError naming the file and line: empty file, fewer than 2 observations, a
 *   non-numeric / NaN / Infinity cell, an unparsable timestamp, a ragged row.
 */
export async function readCsv(path: string, series: string): Promise<RawSeries[]> {
  return readDelimited(path, series, {});
}

/** The CSV reader with constraints; see {@link readCsv}. */
export async function readDelimited(path: string, series: string, opts: DelimitedOptions): Promise<RawSeries[]> {
  let delimiter = ',';
  let columns: ColumnState[] | undefined;
  let width = 0;
  let epochUnit: EpochUnit | undefined;
  let headerLine = 0;
  let rows = 0;
  let lastLine = 0;
  let prevTime = NaN;
  let backward = 0;
  let forward = 0;
  const notes: string[] = [];

  const fail = (message: string, line: number): never => {
    throw new InputError(message, { file: path, line, series });
  };

  const readRow = (cells: string[], line: number): void => {
    if (cells.length < width) fail(`expected ${width} columns, found ${cells.length}`, line);
    for (let j = width; j < cells.length; j++) {
      if (cleanCell(cells[j]) !== '') fail(`expected ${width} columns, found ${cells.length}`, line);
    }
    const timeText = cleanCell(cells[0]);
    let t: number;
    if (isNumericTimestamp(timeText)) {
      const raw = Number(timeText);
      if (epochUnit === undefined) {
        epochUnit = epochUnitOf(raw);
        if (epochUnit !== 's') notes.push(`timestamps read as epoch ${EPOCH_UNIT_NAMES[epochUnit]} (first value ${timeText})`);
      }
      t = epochToSeconds(raw, epochUnit);
    } else {
      t = parseIsoTimestamp(timeText);
    }
    if (!Number.isFinite(t)) {
      fail(
        `cannot parse timestamp ${quoteCell(timeText)} in column ${JSON.stringify(columnName(0))} ` +
          '(expected epoch seconds or ISO 8601 such as 2014-02-14 14:30:00)',
        line,
      );
    }
    if (t < prevTime) backward++;
    else if (t > prevTime) forward++;
    prevTime = t;
    rows++;
    for (const col of columns!) {
      const cell = cleanCell(cells[col.index]);
      const { kind, value } = classifyNumber(cell);
      if (kind === 'number') col.data.push(t, value, line);
      else if (kind === 'not-finite') fail(`column ${JSON.stringify(col.header)}: ${quoteCell(cell)} is not a finite number`, line);
      else if (kind === 'not-a-number') {
        if (col.text++ === 0) {
          col.firstTextLine = line;
          col.firstText = cell;
        }
      }
    }
  };

  let headers: string[] = [];
  const columnName = (i: number): string => headers[i] || `column ${i + 1}`;

  await forEachLine(path, (text, line) => {
    lastLine = line;
    if (text.trim() === '' || text.startsWith('#')) return;
    if (columns === undefined) {
      headerLine = line;
      delimiter = pickDelimiter(text);
      const cells = splitRow(text, delimiter);
      width = cells.length;
      if (opts.exactColumns !== undefined && width !== opts.exactColumns) {
        fail(`expected ${opts.exactColumns} columns, found ${width}`, line);
      }
      if (width < 2) fail('expected a time column and at least one value column', line);
      const cleaned = cells.map(cleanCell);
      const headerless = isDataRow(cleaned);
      headers = headerless ? cleaned.map((_, i) => (i === 0 ? 'time' : i === 1 ? 'value' : `value${i}`)) : cleaned;
      columns = [];
      const used = new Set<string>();
      for (let i = 1; i < width; i++) {
        const header = headers[i] || `column ${i + 1}`;
        const split = opts.metricName !== undefined ? { metric: opts.metricName, unit: '' } : splitHeaderUnit(header);
        const unit = split.unit;
        let metric = split.metric;
        for (let k = 2; used.has(metric); k++) metric = `${split.metric}_${k}`; // repeated header names stay apart
        used.add(metric);
        columns.push({ index: i, header, data: new MetricColumn(metric, unit), text: 0, firstTextLine: 0, firstText: '' });
      }
      if (headerless) {
        notes.push('no header row: columns named value, value2, …');
        readRow(cells, line);
      }
      return;
    }
    readRow(splitRow(text, delimiter), line);
  });

  if (columns === undefined) fail('empty file', 1);
  const cols = columns!;
  if (rows < 2) fail(`need at least 2 observations, found ${rows}`, Math.max(lastLine, headerLine));
  // Time runs one way (newest-first exports run backwards, which is fine); data wanders both ways.
  if (Math.min(backward, forward) > MAX_CONTRARY_SHARE * (rows - 1)) {
    fail(
      `the first column ${JSON.stringify(columnName(0))} does not look like time: ` +
        `${Math.min(backward, forward)} of ${rows - 1} steps go against its overall direction`,
      headerLine,
    );
  }

  const out: RawSeries[] = [];
  let firstSkipped: ColumnState | undefined;
  for (const col of cols) {
    if (col.text > 0) {
      // A mostly-numeric column with a stray word is an error; a mostly-text column is a label.
      if (col.data.length >= col.text) {
        fail(`column ${JSON.stringify(col.header)}: ${quoteCell(col.firstText)} is not a number`, col.firstTextLine);
      }
      notes.push(`column ${JSON.stringify(col.header)} skipped: not numeric`);
      firstSkipped ??= col;
      continue;
    }
    if (col.data.length < 2) {
      fail(`column ${JSON.stringify(col.header)}: need at least 2 observations, found ${col.data.length}`, lastLine);
    }
    out.push({
      series,
      metric: col.data.metric,
      unit: col.data.unit,
      times: col.data.times.toArray(),
      values: col.data.values.toArray(),
      lines: col.data.lines.toArray(),
      source: path,
    });
  }
  if (out.length === 0) {
    const col = firstSkipped!;
    fail(`no numeric value column: column ${JSON.stringify(col.header)}: ${quoteCell(col.firstText)} is not a number`, col.firstTextLine);
  }
  if (notes.length > 0) for (const s of out) s.notes = [...notes];
  return out;
}

/** The delimiter among `,`, `;`, TAB that splits the header into the most fields (`,` on ties). */
function pickDelimiter(header: string): string {
  let best = ',';
  let bestCount = splitRow(header, ',').length;
  for (const d of [';', '\t']) {
    const n = splitRow(header, d).length;
    if (n > bestCount) {
      best = d;
      bestCount = n;
    }
  }
  return best;
}

/** Splits one CSV line; double-quoted fields may contain the delimiter and `""` escapes. */
export function splitRow(line: string, delimiter: string): string[] {
  if (!line.includes('"')) return line.split(delimiter);
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"') {
        if (line[i + 1] === '"') {
          cur += '"';
          i++;
        } else quoted = false;
      } else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** True when a first row is data rather than a header: a time, then numbers only. */
function isDataRow(cells: string[]): boolean {
  const t = cells[0];
  if (!isNumericTimestamp(t) && !Number.isFinite(parseIsoTimestamp(t))) return false;
  return cells.slice(1).every((c) => classifyNumber(c).kind === 'number');
}
