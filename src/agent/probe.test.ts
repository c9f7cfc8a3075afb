import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { probeHttp } from './probe.js';

let server: http.Server;
let base = '';
beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/health') res.writeHead(200).end('{"status":"ok"}');
    else if (req.url === '/hang') return; // never answers
    else res.writeHead(500).end('boom');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('probeHttp (loopback HTTP server)', () => {
  it('2xx is ok, with a latency', async () => {
    const r = await probeHttp(`${base}/health`, { clock: systemClock, timeoutMs: 1000 });
    expect(r).toMatchObject({ ok: true, status: 200 });
    expect(r.latencyMs).toBeGreaterThan(0);
    expect(r.latencyMs).toBeLessThan(1000);
  });
  it('5xx is not ok', async () => {
    expect(await probeHttp(`${base}/x`, { clock: systemClock, timeoutMs: 1000 })).toMatchObject({ ok: false, status: 500, error: 'HTTP 500' });
  });
  it('no answer within the timeout is not ok', async () => {
    const r = await probeHttp(`${base}/hang`, { clock: systemClock, timeoutMs: 200 });
    expect(r).toMatchObject({ ok: false, status: null, error: 'no answer within 200 ms' });
    expect(r.latencyMs).toBeGreaterThanOrEqual(199);
  });
  it('parses status lines', async () => {
    const { parseStatusLine } = await import('./probe.js');
    expect(parseStatusLine('HTTP/1.1 200 OK\r\n')).toBe(200);
    expect(parseStatusLine('HTTP/1.0 503 Service Unavailable\r\n')).toBe(503);
    expect(parseStatusLine('HTTP/1.1 204\r\n')).toBe(204);
    expect(parseStatusLine('SSH-2.0-OpenSSH\r\n')).toBeNull();
    expect(parseStatusLine('HTTP/1.1 2')).toBeNull();
  });
  it('a server that is not HTTP is not ok', async () => {
    const net = await import('node:net');
    const srv = net.createServer((s) => s.end('SSH-2.0-nope\r\n'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    expect(await probeHttp(`http://127.0.0.1:${port}/health`, { clock: systemClock, timeoutMs: 1000 })).toMatchObject({ ok: false, status: null, error: 'not an HTTP answer' });
    srv.close();
  });
  it('a refused connection is not ok', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    expect(await probeHttp(`http://127.0.0.1:${port}/health`, { clock: systemClock, timeoutMs: 1000 })).toMatchObject({ ok: false, status: null });
  });
});
