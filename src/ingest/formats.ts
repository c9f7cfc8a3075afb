/** The input formats the readers understand. */
export const INPUT_FORMATS = ['csv', 'bitbrains', 'nab', 'prometheus'] as const;

/**
 * An input format: `csv` (generic, time in the first column), `bitbrains` (GWA-T-12 per-VM
 * trace), `nab` (Numenta Anomaly Benchmark `timestamp,value`), `prometheus` (a saved
 * `query_range` JSON response).
 */
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** True when `name` is one of {@link INPUT_FORMATS}. */
export function isInputFormat(name: string): name is InputFormat {
  return (INPUT_FORMATS as readonly string[]).includes(name);
}
