import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UmbraError } from '../core/errors.js';
import { fetchPrometheusRange, labelSuffixes, parsePrometheusResponse } from './prometheus.js';

const matrix = (result: unknown[]) => ({ status: 'success', data: { resultType: 'matrix', result } });
const src = { series: 'node', source: 'node.json' };

describe('parsePrometheusResponse', () => {
  it('gives one series per result, named by __name__, with label suffixes when there are several', () => {
    const out = parsePrometheusResponse(
      matrix([
        { metric: { __name__: 'up', instance: 'a:9100', job: 'node' }, values: [[1700000000, '1'], [1700000060, '0']] },
        { metric: { __name__: 'up', instance: 'b:9100', job: 'node' }, values: [[1700000000.5, '1'], [1700000060, '1']] },
      ]),
      src,
    );
    expect(out.map((s) => s.series)).toEqual(['node{instance="a:9100"}', 'node{instance="b:9100"}']);
    expect(out[0].metric).toBe('up');
    expect(Array.from(out[0].times)).toEqual([1700000000, 1700000060]);
    expect(Array.from(out[0].values)).toEqual([1, 0]);
    expect(out[1].times[0]).toBe(1700000000.5);
    expect(out[0].source).toBe('node.json');
  });
  it('names an unnamed single result "value" after the file stem, and drops NaN samples with a note', () => {
    const [s] = parsePrometheusResponse(matrix([{ metric: {}, values: [[1, '1'], [2, 'NaN'], [3, '3']] }]), src);
    expect(s.series).toBe('node');
    expect(s.metric).toBe('value');
    expect(Array.from(s.values)).toEqual([1, 3]);
    expect(s.notes).toEqual(['1 NaN samples dropped']);
  });
  it('accepts a bare result list (promtool -o json)', () => {
    expect(parsePrometheusResponse([{ metric: {}, values: [[1, '1'], [2, '2']] }], src)).toHaveLength(1);
  });
  it('rejects error responses, instant vectors, +Inf and short results as INPUT_INVALID', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ status: 'error', errorType: 'bad_data', error: 'parse error' }, /bad_data: parse error/],
      [{ status: 'success', data: { resultType: 'vector', result: [] } }, /resultType "matrix"/],
      [matrix([]), /no series/],
      [matrix([{ metric: {}, values: [[1, '1'], [2, '+Inf']] }]), /"\+Inf" is not a finite number/],
      [matrix([{ metric: {}, values: [[1, '1']] }]), /need at least 2 observations, found 1/],
      [matrix([{ metric: {}, values: [[1, 2, 3]] }]), /expected \[time, "value"\]/],
      [{ foo: 1 }, /no "data" object/],
    ];
    for (const [body, re] of bad) {
      expect(() => parsePrometheusResponse(body, src)).toThrow(re);
      try {
        parsePrometheusResponse(body, src);
      } catch (e) {
        expect((e as UmbraError).code).toBe('INPUT_INVALID');
        expect((e as UmbraError).context.file).toBe('node.json');
      }
    }
  });
});

describe('labelSuffixes', () => {
  it('uses only the labels that differ, and keeps results that differ by __name__ in one series', () => {
    expect(labelSuffixes([{ job: 'n', instance: 'a' }, { job: 'n', instance: 'b' }])).toEqual(['{instance="a"}', '{instance="b"}']);
    expect(labelSuffixes([{ __name__: 'rx' }, { __name__: 'tx' }])).toEqual(['', '']);
    expect(labelSuffixes([{ a: '1' }, { a: '1' }])).toEqual(['', '#1']);
    expect(labelSuffixes([{ a: '1' }])).toEqual(['']);
  });
});

describe('fetchPrometheusRange with an injected fetch', () => {
  const ok = matrix([{ metric: { __name__: 'cpu' }, values: [[10, '1.5'], [70, '2.5']] }]);
  it('POSTs the query to /api/v1/query_range with the token and parses the answer', async () => {
    let seen: { url: string; init: RequestInit } | undefined;
    const fetchImpl = (async (url: string | URL | Request, init?: RequestInit) => {
      seen = { url: String(url), init: init! };
      return new Response(JSON.stringify(ok), { status: 200 });
    }) as typeof fetch;
    const [s] = await fetchPrometheusRange({ url: 'http://prom.test:9090/prefix/', query: 'rate(x[5m])', start: 10, end: 70, step: '1m', token: 'T0K', fetchImpl, series: 'vm7' });
    expect(seen!.url).toBe('http://prom.test:9090/prefix/api/v1/query_range');
    expect(seen!.init.method).toBe('POST');
    expect((seen!.init.headers as Record<string, string>).authorization).toBe('Bearer T0K');
    expect(Object.fromEntries(new URLSearchParams(String(seen!.init.body)))).toEqual({ query: 'rate(x[5m])', start: '10', end: '70', step: '1m' });
    expect(s.series).toBe('vm7');
    expect(s.metric).toBe('cpu');
    expect(Array.from(s.values)).toEqual([1.5, 2.5]);
  });
  it('maps a 400 with a Prometheus error to INPUT_INVALID and a 503 to retryable SOURCE_UNAVAILABLE, naming the URL without credentials', async () => {
    const answer = (status: number, body: string) => (async () => new Response(body, { status })) as unknown as typeof fetch;
    const q = { url: 'http://user:secret@prom.test', query: 'x', start: 0, end: 60, step: 60 };
    const e400 = (await fetchPrometheusRange({ ...q, fetchImpl: answer(400, '{"status":"error","errorType":"bad_data","error":"bad query"}') }).catch((e: unknown) => e)) as UmbraError;
    expect(e400.code).toBe('INPUT_INVALID');
    expect(e400.message).toMatch(/HTTP 400: bad query/);
    expect(e400.context.file).toBe('http://prom.test/api/v1/query_range');
    const e503 = (await fetchPrometheusRange({ ...q, fetchImpl: answer(503, 'upstream down') }).catch((e: unknown) => e)) as UmbraError;
    expect(e503.code).toBe('SOURCE_UNAVAILABLE');
    expect(e503.retryable).toBe(true);
    expect(e503.where()).not.toMatch(/secret/);
    const eStatus = (await fetchPrometheusRange({ ...q, fetchImpl: answer(200, '{"status":"error","error":"timeout"}') }).catch((e: unknown) => e)) as UmbraError;
    expect(eStatus.code).toBe('INPUT_INVALID');
  });
  it('rejects a URL that is not http(s)', async () => {
    await expect(fetchPrometheusRange({ url: 'ftp://x', query: 'x', start: 0, end: 1, step: 1 })).rejects.toThrow(/not an http\(s\) URL/);
  });
});

describe('fetchPrometheusRange over real HTTP on loopback', () => {
  let server: Server;
  let base: string;
  let body = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        body = text;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(matrix([{ metric: { instance: 'h1' }, values: [[100, '1'], [160, '2']] }, { metric: { instance: 'h2' }, values: [[100, '3'], [160, '4']] }])));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('reads a range query from a live server with the global fetch', async () => {
    const out = await fetchPrometheusRange({ url: base, query: 'up', start: 100, end: 160, step: 60 });
    expect(out.map((s) => `${s.series} ${Array.from(s.values).join(',')}`)).toEqual(['prometheus{instance="h1"} 1,2', 'prometheus{instance="h2"} 3,4']);
    expect(new URLSearchParams(body).get('query')).toBe('up');
  });
  it('reports an unreachable server as SOURCE_UNAVAILABLE with the URL', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const e = (await fetchPrometheusRange({ url: `http://127.0.0.1:${port}`, query: 'up', start: 0, end: 60, step: 60 }).catch((x: unknown) => x)) as UmbraError;
    expect(e).toBeInstanceOf(UmbraError);
    expect(e.code).toBe('SOURCE_UNAVAILABLE');
    expect(e.context.file).toBe(`http://127.0.0.1:${port}/api/v1/query_range`);
    expect(e.message).toMatch(/unreachable/);
  });
});

describe('fetchPrometheusRange with credentials in the URL', () => {
  it('sends them as a Basic header to the URL without them, and never quotes the password', async () => {
    const { fetchPrometheusRange } = await import('./prometheus.js');
    const seen: { url: string; auth: string | undefined }[] = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      seen.push({ url: String(url), auth: (init.headers as Record<string, string>).authorization });
      return new Response(JSON.stringify({ status: 'error', error: 'bad query' }), { status: 400 });
    }) as unknown as typeof fetch;
    const err = await fetchPrometheusRange({ url: 'http://alice:s3cret@127.0.0.1:9/', query: 'up', start: 0, end: 600, step: 300, fetchImpl }).catch((e: Error & { context?: { file?: string } }) => e);
    expect(seen[0].url).toBe('http://127.0.0.1:9/api/v1/query_range');
    expect(seen[0].auth).toBe(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
    expect(String((err as Error).message)).not.toMatch(/s3cret/);
    expect(String((err as { context?: { file?: string } }).context?.file)).not.toMatch(/s3cret/);
  });
});
