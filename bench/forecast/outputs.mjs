// @ts-check
/**
 * Reads each method's forecasts into one shape, aligned on the expected horizon timestamps:
 * the R peers' CSV files (peers.R) and Umbra's JSON document (the CLI contract).
 */

/** @typedef {import('./metrics.mjs').Forecast} Forecast */

/**
 * A forecast aligned on `times`, or a reason why it cannot be used (missing steps, NaN).
 * @typedef {{ ok: true, forecast: Forecast } | { ok: false, reason: string }} Aligned
 */

/**
 * Builds a Forecast over `times` from rows keyed by timestamp. Every expected step must be
 * present with finite mean and bounds, and bounds must hold lo <= hi.
 * @param {number[]} times expected timestamps (epoch s), one per horizon step
 * @param {Map<number, { mean: number, intervals: Record<string, [number, number]> }>} byTime
 * @param {number[]} levels
 * @returns {Aligned}
 */
export function alignForecast(times, byTime, levels) {
  const h = times.length;
  const mean = new Float64Array(h);
  /** @type {Record<string, [Float64Array, Float64Array]>} */
  const intervals = {};
  for (const l of levels) intervals[String(l)] = [new Float64Array(h), new Float64Array(h)];
  for (let k = 0; k < h; k++) {
    const row = byTime.get(times[k]);
    if (!row) return { ok: false, reason: `no forecast for step ${k + 1} (t=${times[k]})` };
    if (!Number.isFinite(row.mean)) return { ok: false, reason: `non-finite mean at step ${k + 1}` };
    mean[k] = row.mean;
    for (const l of levels) {
      const b = row.intervals[String(l)];
      if (!b || !Number.isFinite(b[0]) || !Number.isFinite(b[1])) {
        return { ok: false, reason: `no finite ${l} % interval at step ${k + 1}` };
      }
      if (b[0] > b[1]) return { ok: false, reason: `${l} % interval has lower > upper at step ${k + 1}` };
      intervals[String(l)][0][k] = b[0];
      intervals[String(l)][1][k] = b[1];
    }
  }
  return { ok: true, forecast: { mean, intervals } };
}

/**
 * Parses one peers.R output file (`t,mean,lo80,hi80,lo95,hi95`, header quoted or not).
 * @param {string} text the file's content
 * @param {number[]} levels
 * @returns {Map<number, { mean: number, intervals: Record<string, [number, number]> }>}
 */
export function parsePeerCsv(text, levels) {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines[0].split(',').map((c) => c.replace(/"/g, '').trim());
  const col = (/** @type {string} */ name) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`peer output lacks column ${name}`);
    return i;
  };
  const ti = col('t');
  const mi = col('mean');
  const li = levels.map((l) => [col(`lo${l}`), col(`hi${l}`)]);
  /** @type {Map<number, { mean: number, intervals: Record<string, [number, number]> }>} */
  const out = new Map();
  for (const line of lines.slice(1)) {
    const cells = line.split(',').map(Number);
    /** @type {Record<string, [number, number]>} */
    const intervals = {};
    levels.forEach((l, j) => (intervals[String(l)] = [cells[li[j][0]], cells[li[j][1]]]));
    out.set(Math.round(cells[ti]), { mean: cells[mi], intervals });
  }
  return out;
}

/**
 * One series of Umbra's JSON output, keyed by timestamp.
 * @typedef {object} UmbraSeries
 * @property {string} model the model Umbra chose
 * @property {Map<number, { mean: number, intervals: Record<string, [number, number]> }>} byTime
 */

/**
 * Parses `umbra forecast --format json` output into series id → forecast rows.
 * Throws when the document does not follow the contract's outer shape.
 * @param {string} text stdout of the CLI
 * @returns {Map<string, UmbraSeries>}
 */
export function parseUmbraJson(text) {
  const doc = JSON.parse(text);
  if (!doc || !Array.isArray(doc.forecasts)) throw new Error('Umbra output has no "forecasts" array');
  /** @type {Map<string, UmbraSeries>} */
  const out = new Map();
  for (const f of doc.forecasts) {
    /** @type {UmbraSeries['byTime']} */
    const byTime = new Map();
    for (const p of f.points ?? []) byTime.set(Math.round(p.t), { mean: p.mean, intervals: p.intervals ?? {} });
    out.set(String(f.series), { model: String(f.model ?? ''), byTime });
  }
  return out;
}
