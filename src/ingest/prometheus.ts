import { credentialsAsHeader, redactUrl } from '../core/redact.js';
import { readFile as readFileText } from 'node:fs/promises';
import { InputError, UmbraError } from '../core/errors.js';
import type { RawSeries } from '../forecast/types.js';
import { GrowableFloat64 } from './growable.js';

/** One element of a Prometheus range-query (`matrix`) result. */
interface MatrixSample {
  metric?: Record<string, string>;
  values?: unknown;
}

/** Where a Prometheus response came from, for ids and messages. */
export interface PrometheusSource {
  /** Series id of the result (file stem or a label); a label suffix is added per result when there are several. */
  series: string;
  /** File path or URL (credentials removed), named in errors and in `RawSeries.source`. */
  source: string;
}

/**
 * Parses a Prometheus `query_range` response (`{"status":"success","data":{"resultType":
 * "matrix","result":[…]}}`; a bare `result` array, as `promtool query range -o json` prints,
 * is accepted too). One RawSeries per result: metric = its `__name__` label or `value`; series
 * id = `source.series`, plus `{label="v",…}` of the labels that differ between results when
 * there are several. `"NaN"` samples (Prometheus's "no value") are dropped and noted; ±Inf is
 * an error.
 *
 * @throws InputError (`INPUT_INVALID`) on `status:"error"`, a non-matrix result, malformed
 *   samples, or a result with fewer than 2 samples.
 */
export function parsePrometheusResponse(body: unknown, src: PrometheusSource): RawSeries[] {
  const fail = (message: string): never => {
    throw new InputError(message, { file: src.source, series: src.series });
  };
  let result: unknown;
  if (Array.isArray(body)) {
    result = body;
  } else if (isObject(body)) {
    if (body.status === 'error') {
      fail(`Prometheus returned an error: ${String(body.errorType ?? 'error')}: ${String(body.error ?? 'no message')}`);
    }
    const data = body.data;
    if (!isObject(data)) fail('not a Prometheus query_range response: no "data" object');
    const d = data as Record<string, unknown>;
    if (d.resultType !== 'matrix') {
      fail(`expected a range query result (resultType "matrix"), got ${JSON.stringify(d.resultType ?? null)}; use query_range, not query`);
    }
    result = d.result;
  } else {
    fail('not a Prometheus query_range response');
  }
  if (!Array.isArray(result)) fail('not a Prometheus query_range response: "result" is not a list');
  const results = result as MatrixSample[];
  if (results.length === 0) fail('the query returned no series');

  const suffixes = labelSuffixes(results.map((r) => (isObject(r) && isObject(r.metric) ? (r.metric as Record<string, string>) : {})));
  return results.map((r, k) => {
    if (!isObject(r) || !Array.isArray(r.values)) fail(`result ${k}: expected {"metric":{…},"values":[[t,"v"],…]}`);
    const labels = isObject(r.metric) ? (r.metric as Record<string, string>) : {};
    const id = src.series + suffixes[k];
    const samples = r.values as unknown[];
    const times = new GrowableFloat64(samples.length);
    const values = new GrowableFloat64(samples.length);
    let dropped = 0;
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i];
      if (!Array.isArray(s) || s.length !== 2) fail(`result ${k} (${id}), sample ${i}: expected [time, "value"]`);
      const pair = s as [unknown, unknown];
      const t = Number(pair[0]);
      if (typeof pair[0] !== 'number' || !Number.isFinite(t)) fail(`result ${k} (${id}), sample ${i}: bad time ${JSON.stringify(pair[0])}`);
      const text = String(pair[1]);
      const v = Number(text);
      if (text === 'NaN') {
        dropped++;
        continue;
      }
      if (typeof pair[1] !== 'string' || !Number.isFinite(v)) {
        fail(`result ${k} (${id}), sample ${i}: ${JSON.stringify(pair[1])} is not a finite number`);
      }
      times.push(t);
      values.push(v);
    }
    if (times.length < 2) fail(`result ${k} (${id}): need at least 2 observations, found ${times.length}`);
    const series: RawSeries = {
      series: id,
      metric: labels.__name__ ?? 'value',
      unit: '',
      times: times.toArray(),
      values: values.toArray(),
      source: src.source,
    };
    if (dropped > 0) series.notes = [`${dropped} NaN samples dropped`];
    return series;
  });
}

/**
 * Reads a saved Prometheus `query_range` JSON response from a file; see
 * {@link parsePrometheusResponse}. The series id is `series` (the file stem).
 */
export async function readPrometheusFile(path: string, series: string): Promise<RawSeries[]> {
  const text = await readFileText(path, 'utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new InputError(`not valid JSON: ${(e as Error).message}`, { file: path, series }, { cause: e });
  }
  return parsePrometheusResponse(body, { series, source: path });
}

/** A live range query against a Prometheus server (or anything speaking its HTTP API). */
export interface PrometheusRangeQuery {
  /** Base URL of the server, e.g. `http://localhost:9090` (a path prefix is kept). */
  url: string;
  /** PromQL expression. */
  query: string;
  /** Range start and end: epoch seconds, or an RFC 3339 string. */
  start: number | string;
  end: number | string;
  /** Resolution: seconds, or a Prometheus duration such as `5m`. */
  step: number | string;
  /** Bearer token sent as `Authorization: Bearer …` (never logged or put in errors). */
  token?: string;
  /** Series id base (default `prometheus`); several results get label suffixes. */
  series?: string;
  /** Request timeout in milliseconds (default 30 000). */
  timeoutMs?: number;
  /** The fetch to use (default: global fetch); injectable for tests. */
  fetchImpl?: typeof fetch;
}

/**
 * Runs `query_range` on a Prometheus server (POST `/api/v1/query_range`, form-encoded) and parses
 * the answer like a saved response.
 *
 * @throws UmbraError `SOURCE_UNAVAILABLE` (retryable) when the server cannot be reached, times
 *   out or answers 5xx or a non-JSON body; InputError (`INPUT_INVALID`) when it rejects the
 *   query (4xx, `status:"error"`) or answers something that is not a range result. Every error
 *   names the URL (without credentials).
 */
export async function fetchPrometheusRange(q: PrometheusRangeQuery): Promise<RawSeries[]> {
  const endpoint = `${q.url.replace(/\/+$/, '')}/api/v1/query_range`;
  const shown = redactUrl(endpoint);
  if (!URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol)) {
    throw new InputError(`not an http(s) URL: ${JSON.stringify(shown)}`, { file: shown });
  }
  const doFetch = q.fetchImpl ?? fetch;
  // Credentials in the URL become a Basic header; the request goes to the URL without them. A bearer token wins.
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...credentialsAsHeader(endpoint).headers };
  if (q.token) headers.authorization = `Bearer ${q.token}`;
  const body = new URLSearchParams({ query: q.query, start: String(q.start), end: String(q.end), step: String(q.step) });
  const unavailable = (message: string, cause?: unknown): UmbraError =>
    new UmbraError('SOURCE_UNAVAILABLE', message, { file: shown }, { cause, retryable: true });

  let res: Response;
  try {
    res = await doFetch(shown, { method: 'POST', headers, body, signal: AbortSignal.timeout(q.timeoutMs ?? 30_000) });
  } catch (e) {
    const why = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
    throw unavailable(`Prometheus unreachable: ${why}`, e);
  }
  const text = await res.text().catch((e: unknown) => {
    throw unavailable(`Prometheus response could not be read: ${String(e)}`, e);
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    if (!res.ok) throw httpError(res.status, text.slice(0, 200), shown);
    throw unavailable(`Prometheus answered HTTP ${res.status} with a body that is not JSON`, e);
  }
  if (!res.ok) {
    const detail = isObject(parsed) && typeof parsed.error === 'string' ? parsed.error : text.slice(0, 200);
    throw httpError(res.status, detail, shown);
  }
  return parsePrometheusResponse(parsed, { series: q.series ?? 'prometheus', source: shown });
}

function httpError(status: number, detail: string, shown: string): UmbraError {
  const message = `Prometheus answered HTTP ${status}: ${detail}`;
  // 4xx: the query or its parameters are wrong (retrying will not help); 5xx: the server is.
  if (status >= 400 && status < 500) return new InputError(message, { file: shown, status });
  return new UmbraError('SOURCE_UNAVAILABLE', message, { file: shown, status }, { retryable: true });
}

/**
 * For each label set, `{k="v",…}` of the labels (other than `__name__`) whose values differ
 * between the sets; `''` when there is one set. Sets that still collide get `#index`.
 */
export function labelSuffixes(sets: Array<Record<string, string>>): string[] {
  if (sets.length <= 1) return sets.map(() => '');
  const keys = new Set<string>();
  for (const s of sets) for (const k of Object.keys(s)) if (k !== '__name__') keys.add(k);
  const varying = [...keys].sort().filter((k) => new Set(sets.map((s) => s[k] ?? '')).size > 1);
  const out = sets.map((s) =>
    varying.length === 0 ? '' : `{${varying.filter((k) => s[k] !== undefined).map((k) => `${k}=${JSON.stringify(s[k])}`).join(',')}}`,
  );
  // Results that differ only by __name__ are different metrics of one series: same id is right.
  const seen = new Map<string, number>();
  return out.map((suffix, i) => {
    const key = `${suffix}\u0000${sets[i].__name__ ?? ''}`;
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    return n === 0 ? suffix : `${suffix}#${i}`;
  });
}


/** Re-exported: callers that show a Prometheus URL import it from here. */
export { redactUrl };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
