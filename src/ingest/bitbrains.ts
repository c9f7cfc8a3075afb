import { InputError } from '../core/errors.js';
import type { RawSeries } from '../forecast/types.js';
import { classifyNumber, quoteCell } from './cells.js';
import { GrowableFloat64, MetricColumn } from './growable.js';
import { forEachLine } from './line-reader.js';
import { epochToSeconds, epochUnitOf, type EpochUnit } from './timestamp.js';

/** The 11 columns of a GWA-T-12 Bitbrains file, in order, as named in its header. */
export const BITBRAINS_COLUMNS = [
  'Timestamp [ms]',
  'CPU cores',
  'CPU capacity provisioned [MHZ]',
  'CPU usage [MHZ]',
  'CPU usage [%]',
  'Memory capacity provisioned [KB]',
  'Memory usage [KB]',
  'Disk read throughput [KB/s]',
  'Disk write throughput [KB/s]',
  'Network received throughput [KB/s]',
  'Network transmitted throughput [KB/s]',
] as const;

/** The usage columns that become metrics: column index, metric name, unit. */
export const BITBRAINS_METRICS: ReadonlyArray<{ column: number; metric: string; unit: string }> = [
  { column: 3, metric: 'cpu_mhz', unit: 'MHz' },
  { column: 4, metric: 'cpu_pct', unit: '%' },
  { column: 6, metric: 'mem_kb', unit: 'KB' },
  { column: 7, metric: 'disk_read_kbs', unit: 'KB/s' },
  { column: 8, metric: 'disk_write_kbs', unit: 'KB/s' },
  { column: 9, metric: 'net_rx_kbs', unit: 'KB/s' },
  { column: 10, metric: 'net_tx_kbs', unit: 'KB/s' },
];

const COL_CORES = 1;
const COL_CPU_CAPACITY = 2;
const COL_MEM_CAPACITY = 5;

/** Capacity is the most frequent provisioned value over this trailing window (the current one). */
const CAPACITY_WINDOW_SECONDS = 86_400;

/**
 * Reads a Bitbrains GWA-T-12 per-VM file (`;\t` delimited, 11 columns). The timestamp is epoch
 * SECONDS although the header says `[ms]` (values above 1e11 are taken as milliseconds, with a
 * note). Returns one RawSeries per usage metric (cpu_mhz, cpu_pct, mem_kb, disk_read_kbs,
 * disk_write_kbs, net_rx_kbs, net_tx_kbs), all carrying the provisioned capacity: cores, MHz and
 * memory KB, each the most frequent (rounded) value over the last day of the file, so that a
 * re-provisioning during the month yields the current size.
 *
 * @throws InputError naming the file, line and column on a malformed row.
 */
export async function readBitbrains(path: string, series: string): Promise<RawSeries[]> {
  const metrics = BITBRAINS_METRICS.map((m) => new MetricColumn(m.metric, m.unit));
  const cores = new GrowableFloat64();
  const cpuCapacity = new GrowableFloat64();
  const memCapacity = new GrowableFloat64();
  const times = new GrowableFloat64();
  let epochUnit: EpochUnit | undefined;
  let sawContent = false;
  let lastLine = 0;
  const notes: string[] = [];
  const values = new Float64Array(BITBRAINS_COLUMNS.length);

  const fail = (message: string, line: number): never => {
    throw new InputError(message, { file: path, line, series });
  };

  await forEachLine(path, (text, line) => {
    lastLine = line;
    if (text.trim() === '') return;
    const first = !sawContent;
    sawContent = true;
    const cells = text.split(';');
    if (first && /^\s*"?timestamp/i.test(cells[0])) {
      if (cells.length !== BITBRAINS_COLUMNS.length) fail(`expected a ${BITBRAINS_COLUMNS.length}-column Bitbrains header, found ${cells.length} columns`, line);
      return;
    }
    if (cells.length !== BITBRAINS_COLUMNS.length) fail(`expected ${BITBRAINS_COLUMNS.length} columns separated by ";", found ${cells.length}`, line);
    for (let c = 0; c < cells.length; c++) {
      // Fast path: Number() skips the TAB after ';'. Only a blank cell gives a false 0.
      const fast = Number(cells[c]);
      if (Number.isFinite(fast) && (fast !== 0 || /\d/.test(cells[c]))) {
        values[c] = fast;
        continue;
      }
      const cell = cells[c].trim();
      const { kind, value } = classifyNumber(cell);
      if (kind !== 'number') {
        const what = kind === 'not-finite' ? 'is not a finite number' : kind === 'empty' ? 'is empty' : 'is not a number';
        fail(`column ${JSON.stringify(BITBRAINS_COLUMNS[c])}: ${quoteCell(cell)} ${what}`, line);
      }
      values[c] = value;
    }
    if (epochUnit === undefined) {
      epochUnit = epochUnitOf(values[0]);
      if (epochUnit !== 's') notes.push(`timestamps read as epoch ${epochUnit === 'ms' ? 'milliseconds' : epochUnit} (first value ${values[0]})`);
    }
    const t = epochToSeconds(values[0], epochUnit);
    times.push(t);
    cores.push(values[COL_CORES]);
    cpuCapacity.push(values[COL_CPU_CAPACITY]);
    memCapacity.push(values[COL_MEM_CAPACITY]);
    for (let m = 0; m < metrics.length; m++) metrics[m].push(t, values[BITBRAINS_METRICS[m].column], line);
  });

  if (!sawContent) fail('empty file', 1);
  if (times.length < 2) fail(`need at least 2 observations, found ${times.length}`, lastLine);

  const allTimes = times.toArray();
  const capacity: NonNullable<RawSeries['capacity']> = {};
  const c = trailingMode(allTimes, cores.toArray(), CAPACITY_WINDOW_SECONDS);
  const mhz = trailingMode(allTimes, cpuCapacity.toArray(), CAPACITY_WINDOW_SECONDS);
  const mem = trailingMode(allTimes, memCapacity.toArray(), CAPACITY_WINDOW_SECONDS);
  if (c > 0) capacity.cpuCores = c;
  if (mhz > 0) capacity.cpuMhz = mhz;
  if (mem > 0) capacity.memKb = mem;

  return metrics.map((m) => ({
    series,
    metric: m.metric,
    unit: m.unit,
    times: m.times.toArray(),
    values: m.values.toArray(),
    lines: m.lines.toArray(),
    source: path,
    capacity: { ...capacity },
    ...(notes.length > 0 ? { notes: [...notes] } : {}),
  }));
}

/**
 * The most frequent value (rounded to an integer) among rows within `window` seconds of the
 * latest time; on a tie, the value that reached the top count last wins. Rows need not be sorted.
 */
export function trailingMode(times: Float64Array, values: Float64Array, window: number): number {
  let tMax = -Infinity;
  for (let i = 0; i < times.length; i++) if (times[i] > tMax) tMax = times[i];
  const counts = new Map<number, number>();
  let best = NaN;
  let bestCount = 0;
  for (let i = 0; i < times.length; i++) {
    if (times[i] < tMax - window) continue;
    const v = Math.round(values[i]);
    const n = (counts.get(v) ?? 0) + 1;
    counts.set(v, n);
    if (n >= bestCount) {
      best = v;
      bestCount = n;
    }
  }
  return best;
}
