import type { RawSeries } from '../forecast/types.js';
import { readDelimited } from './csv.js';

/**
 * Reads a Numenta Anomaly Benchmark file: `timestamp,value` with naive `YYYY-MM-DD HH:MM:SS`
 * times (UTC). One RawSeries, metric `value`, unit unknown (`''`). Duplicate timestamps and
 * out-of-order rows (both occur in NAB) are kept as read; the regularizer merges and sorts them.
 *
 * @throws InputError as {@link readDelimited}, and when the file does not have exactly 2 columns.
 */
export async function readNab(path: string, series: string): Promise<RawSeries[]> {
  return readDelimited(path, series, { exactColumns: 2, metricName: 'value' });
}
