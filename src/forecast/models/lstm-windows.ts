/**
 * Pure data preparation for the recurrent model (src/forecast/models/lstm.ts): normalisation,
 * calendar features and the supervised windows it trains on. No tfjs here, so the window layout
 * is tested on its own and the model file only deals with the network.
 *
 * Layout of one window with origin `o` (the first step to predict), lookback `L`, block `k`:
 * - sequence input `[L, SEQ_FEATURES]`: for i in 0..L-1, step s = o - L + i:
 *   `[z[s], sin/cos time of day (s), sin/cos day of week (s)]`;
 * - auxiliary input `[lags.length * k + 4]`: for each seasonal lag P, `z[o + j - P]` for
 *   j in 0..k-1 (the seasonal-naive values of the block; needs k <= P so they are known), then
 *   the calendar features of step o;
 * - target `[k]`: `z[o + j]` for j in 0..k-1.
 */

const DAY_S = 86_400;
const WEEK_S = 7 * DAY_S;
const TWO_PI = 2 * Math.PI;

/** Features per lookback step: the normalised value plus 4 calendar features. */
export const SEQ_FEATURES = 5;
/** Calendar features: sin/cos of time of day, sin/cos of day of week. */
export const CAL_FEATURES = 4;

/** Location and scale used to normalise a series (z = (y - mean) / scale). */
export interface Normalisation {
  mean: number;
  /** Standard deviation of the training window; 1 when the series is constant. */
  scale: number;
  /** True when the training window has no variation at all (nothing to learn). */
  constant: boolean;
}

/** Mean and standard deviation of `y` (the training window). */
export function normalisation(y: Float64Array): Normalisation {
  const n = y.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += y[i];
  const mean = n > 0 ? sum / n : 0;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = y[i] - mean;
    ss += d * d;
  }
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  // Relative threshold: a series whose spread is float noise around its level is constant.
  const constant = !(sd > 1e-12 * Math.max(1, Math.abs(mean)));
  return { mean, scale: constant ? 1 : sd, constant };
}

/**
 * `z` with room for `extra` future steps (filled later by the iterated forecast), as float32
 * because that is what the network consumes.
 */
export function normalise(y: Float64Array, norm: Normalisation, extra = 0): Float32Array {
  const z = new Float32Array(y.length + extra);
  for (let i = 0; i < y.length; i++) z[i] = (y[i] - norm.mean) / norm.scale;
  return z;
}

/** Writes the 4 calendar features of epoch second `t` into `out` at `at`. */
export function writeCalendar(t: number, out: Float32Array, at: number): void {
  const d = (((t % DAY_S) + DAY_S) % DAY_S) / DAY_S;
  const w = (((t % WEEK_S) + WEEK_S) % WEEK_S) / WEEK_S;
  out[at] = Math.sin(TWO_PI * d);
  out[at + 1] = Math.cos(TWO_PI * d);
  out[at + 2] = Math.sin(TWO_PI * w);
  out[at + 3] = Math.cos(TWO_PI * w);
}

/** Shape of the windows: the same for training and for forecasting. */
export interface WindowShape {
  lookback: number;
  /** Steps predicted per window (the block). */
  block: number;
  /** Seasonal lags whose seasonal-naive block is an auxiliary input; each must be >= block. */
  lags: number[];
}

/** Length of the auxiliary input vector for a shape. */
export function auxLength(shape: WindowShape): number {
  return shape.lags.length * shape.block + CAL_FEATURES;
}

/** The first origin a window can have: enough lookback and every lag's block in the past. */
export function firstOrigin(shape: WindowShape): number {
  let first = shape.lookback;
  for (const p of shape.lags) if (p > first) first = p;
  return first;
}

/** Inputs (and optionally targets) of `origins.length` windows as flat float32 arrays. */
export interface WindowBatch {
  count: number;
  /** `[count, lookback, SEQ_FEATURES]`, row-major. */
  seq: Float32Array;
  /** `[count, auxLength(shape)]`. */
  aux: Float32Array;
  /** `[count, block]`; empty when targets were not asked for. */
  target: Float32Array;
}

/**
 * Builds the windows whose origins are given. `z` must hold every value a window reads
 * (`o - max(lookback, lag)` .. `o - 1`, plus `o .. o + block - 1` when `withTarget`).
 */
export function buildWindows(
  z: Float32Array,
  t0: number,
  step: number,
  shape: WindowShape,
  origins: ArrayLike<number>,
  withTarget: boolean,
): WindowBatch {
  const { lookback: L, block: k, lags } = shape;
  const count = origins.length;
  const auxLen = auxLength(shape);
  const seq = new Float32Array(count * L * SEQ_FEATURES);
  const aux = new Float32Array(count * auxLen);
  const target = new Float32Array(withTarget ? count * k : 0);
  for (let w = 0; w < count; w++) {
    const o = origins[w];
    let at = w * L * SEQ_FEATURES;
    for (let i = 0; i < L; i++) {
      const s = o - L + i;
      seq[at] = z[s];
      writeCalendar(t0 + s * step, seq, at + 1);
      at += SEQ_FEATURES;
    }
    at = w * auxLen;
    for (const p of lags) {
      for (let j = 0; j < k; j++) aux[at + j] = z[o + j - p];
      at += k;
    }
    writeCalendar(t0 + o * step, aux, at);
    if (withTarget) target.set(z.subarray(o, o + k), w * k);
  }
  return { count, seq, aux, target };
}

/**
 * Training origins: at most `max`, evenly spaced over `[firstOrigin, n - block]` and always
 * including the most recent one, then put in a seeded random order (fit runs without its own
 * shuffle so that training is reproducible).
 */
export function trainingOrigins(n: number, shape: WindowShape, max: number, seed: number): Int32Array {
  const first = firstOrigin(shape);
  const last = n - shape.block;
  const available = last - first + 1;
  if (available <= 0) return new Int32Array(0);
  const m = Math.min(available, Math.max(1, Math.floor(max)));
  const origins = new Int32Array(m);
  const stride = m > 1 ? (available - 1) / (m - 1) : 0;
  for (let i = 0; i < m; i++) origins[i] = last - Math.round(i * stride);
  shuffleInPlace(origins, mulberry32(seed));
  return origins;
}

/** Mulberry32: a small, fast, seeded PRNG giving uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle driven by `rand`. */
export function shuffleInPlace(a: Int32Array, rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
