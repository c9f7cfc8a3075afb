/**
 * Pure data preparation for the recurrent model (src/forecast/models/lstm.ts): normalisation,
 * calendar features and the supervised windows it trains on. No tfjs here, so the window layout
 * is tested on its own and the model file only deals with the network.
 *
 * Layout of one window with origin `o` (the first step to predict), lookback `L`, patch `p`,
 * block `k`:
 * - sequence input `[L / p, p + 4]`: the lookback `z[o-L .. o-1]` cut into patches of `p`
 *   consecutive values (one recurrent step per patch: `p` times fewer steps to unroll), each
 *   with the calendar features of its first step;
 * - auxiliary input `[k, auxWidth]`: for each step `o + j` of the block, one row with the
 *   seasonal-naive value `z[o + j - P]` of each seasonal lag P, then (when `depth > 1`) the
 *   median of `z[o + j - r·P0]` over r = 1..depth for the shortest lag P0 (a robust seasonal
 *   profile), then two levels known at the origin (the median over the last LEVEL_STEPS steps
 *   of the value minus its seasonal reference, the profile or else the shortest lag: a
 *   deseasonalised current level; and the median of the last season of the shortest lag, or of
 *   the lookback without lags), then the calendar features of step `o + j`. Every lag is >= k, so these are values known
 *   at the origin. Medians, because CPU series are spiky and the model is scored on MAE;
 * - target `[k]`: `z[o + j]` for j in 0..k-1.
 */

const DAY_S = 86_400;
const WEEK_S = 7 * DAY_S;
const TWO_PI = 2 * Math.PI;

/** Calendar features: sin/cos of time of day, sin/cos of day of week. */
export const CAL_FEATURES = 4;
/** Level features of the auxiliary rows: the current level and the last season's level. */
export const LEVEL_FEATURES = 2;
/** Steps whose (deseasonalised) median is the current level. */
export const LEVEL_STEPS = 24;

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
  /** Past steps fed to the recurrent layer; a multiple of `patch`. */
  lookback: number;
  /** Consecutive steps per recurrent input step. */
  patch: number;
  /** Steps predicted per window (the block). */
  block: number;
  /** Seasonal lags (shortest first) whose seasonal-naive values are auxiliary inputs; each >= block. */
  lags: number[];
  /** Seasons averaged into the profile input of the shortest lag; <= 1 means no profile. */
  depth: number;
}

/** Recurrent steps per window. */
export function seqSteps(shape: WindowShape): number {
  return shape.lookback / shape.patch;
}

/** Features per recurrent step: the patch's values and its calendar features. */
export function seqWidth(shape: WindowShape): number {
  return shape.patch + CAL_FEATURES;
}

/** Seasonal features (lags and profile) at the start of each auxiliary row. */
export function seasonalWidth(shape: WindowShape): number {
  return shape.lags.length + (hasProfile(shape) ? 1 : 0);
}

/** Auxiliary features per predicted step. */
export function auxWidth(shape: WindowShape): number {
  return seasonalWidth(shape) + LEVEL_FEATURES + CAL_FEATURES;
}

/** Index, in an auxiliary row, of the seasonal reference: the profile, else the shortest lag. */
function referenceIndex(shape: WindowShape): number {
  return hasProfile(shape) ? shape.lags.length : 0;
}

/**
 * Starting weights of the linear blend over an auxiliary row: a robust baseline the network
 * then corrects. With seasonal inputs: the seasonal reference (profile, else the shortest lag)
 * plus the current deseasonalised level, i.e. a level-adjusted seasonal median; without: the
 * current level. Other weights start at 0.
 */
export function blendPrior(shape: WindowShape): Float32Array {
  const w = new Float32Array(auxWidth(shape));
  const levelNow = seasonalWidth(shape);
  if (shape.lags.length > 0) w[referenceIndex(shape)] = 1;
  w[levelNow] = 1;
  return w;
}

function levelWindow(shape: WindowShape): number {
  return shape.lags.length > 0 ? shape.lags[0] : shape.lookback;
}

function hasProfile(shape: WindowShape): boolean {
  return shape.lags.length > 0 && shape.depth > 1;
}

/** How far back the seasonal reference of a step reaches (0 without seasonal inputs). */
function referenceReach(shape: WindowShape): number {
  if (shape.lags.length === 0) return 0;
  return hasProfile(shape) ? shape.depth * shape.lags[0] : shape.lags[0];
}

/**
 * The first origin a window can have: a full lookback, every seasonal input in the past, and
 * the seasonal reference of each of the LEVEL_STEPS steps the current level is taken over.
 */
export function firstOrigin(shape: WindowShape): number {
  let first = Math.max(shape.lookback, LEVEL_STEPS + referenceReach(shape));
  for (const p of shape.lags) if (p > first) first = p;
  return first;
}

/** Inputs (and optionally targets) of `origins.length` windows as flat float32 arrays. */
export interface WindowBatch {
  count: number;
  /** `[count, seqSteps, seqWidth]`, row-major. */
  seq: Float32Array;
  /** `[count, block, auxWidth]`. */
  aux: Float32Array;
  /** `[count, block]`; empty when targets were not asked for. */
  target: Float32Array;
}

/**
 * Builds the windows whose origins are given. `z` must hold every value a window reads
 * (from `o - firstOrigin(shape)` to `o - 1`, plus `o .. o + block - 1` when `withTarget`).
 */
export function buildWindows(
  z: Float32Array,
  t0: number,
  step: number,
  shape: WindowShape,
  origins: ArrayLike<number>,
  withTarget: boolean,
): WindowBatch {
  const { lookback: L, patch, block: k, lags, depth } = shape;
  const count = origins.length;
  const sw = seqWidth(shape);
  const aw = auxWidth(shape);
  const steps = seqSteps(shape);
  const seasonSteps = levelWindow(shape);
  const scratch = new Float32Array(Math.max(seasonSteps, LEVEL_STEPS, depth));
  const recent = new Float32Array(LEVEL_STEPS);
  const seq = new Float32Array(count * steps * sw);
  const aux = new Float32Array(count * k * aw);
  const target = new Float32Array(withTarget ? count * k : 0);
  for (let w = 0; w < count; w++) {
    const o = origins[w];
    let at = w * steps * sw;
    for (let q = 0; q < steps; q++) {
      const s = o - L + q * patch;
      for (let i = 0; i < patch; i++) seq[at + i] = z[s + i];
      writeCalendar(t0 + s * step, seq, at + patch);
      at += sw;
    }
    // Current level: median of the last LEVEL_STEPS values minus their seasonal reference
    // (a level shift against the seasonal pattern), or of the raw values without seasonality.
    for (let i = 0; i < LEVEL_STEPS; i++) {
      const s = o - LEVEL_STEPS + i;
      recent[i] = lags.length > 0 ? z[s] - reference(z, s, shape, scratch) : z[s];
    }
    const levelNow = medianInPlace(recent, LEVEL_STEPS);
    const levelSeason = medianOf(z, o - seasonSteps, o, scratch);
    at = w * k * aw;
    for (let j = 0; j < k; j++) {
      const s = o + j;
      let c = at;
      for (const p of lags) aux[c++] = z[s - p];
      if (hasProfile(shape)) aux[c++] = reference(z, s, shape, scratch);
      aux[c++] = levelNow;
      aux[c++] = levelSeason;
      writeCalendar(t0 + s * step, aux, c);
      at += aw;
    }
    if (withTarget) target.set(z.subarray(o, o + k), w * k);
  }
  return { count, seq, aux, target };
}

/** The seasonal reference of step `s`: the profile (median of `depth` past seasons) or the lag. */
function reference(z: Float32Array, s: number, shape: WindowShape, scratch: Float32Array): number {
  const p0 = shape.lags[0];
  if (!hasProfile(shape)) return z[s - p0];
  for (let r = 1; r <= shape.depth; r++) scratch[r - 1] = z[s - r * p0];
  return medianInPlace(scratch, shape.depth);
}

function medianOf(z: Float32Array, from: number, to: number, scratch: Float32Array): number {
  for (let i = from; i < to; i++) scratch[i - from] = z[i];
  return medianInPlace(scratch, to - from);
}

/** Median of `a[0 .. m-1]`, reordering it (insertion sort: m is at most a season). */
export function medianInPlace(a: Float32Array, m: number): number {
  if (m > 32) {
    a.subarray(0, m).sort();
  } else {
    for (let i = 1; i < m; i++) {
      const v = a[i];
      let j = i - 1;
      while (j >= 0 && a[j] > v) {
        a[j + 1] = a[j];
        j--;
      }
      a[j + 1] = v;
    }
  }
  const mid = m >> 1;
  return m % 2 === 1 ? a[mid] : (a[mid - 1] + a[mid]) / 2;
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
