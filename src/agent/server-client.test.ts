import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { HttpServerClient, ServerRequestError } from './server-client.js';

const TOKEN = 't0k3n';
let server: http.Server;
let base = '';
const seen: { url: string; auth: string | undefined; body: unknown }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization, body: JSON.parse(text || 'null') });
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/v1/agents/register') return json(200, { leaseSeconds: 15, heartbeatSeconds: 5 });
      if (req.url === '/v1/agents/h1/heartbeat') return json(200, { leaseSeconds: 15 });
      if (req.url === '/v1/agents/ghost/heartbeat') return json(404, { error: { code: 'AGENT_NOT_FOUND', message: 'unknown agent ghost' } });
      if (req.url === '/v1/agents/odd/heartbeat') return json(200, { lease: 'long' });
      if (req.url === '/v1/samples') return json(200, { accepted: 1 });
      return json(500, { error: { message: 'boom' } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const reg = { name: 'h1', apiUrl: 'http://127.0.0.1:7070', address: '127.0.0.1', labels: {}, capacity: { cores: 2, memoryMiB: 1024 }, vms: [] };

describe('HttpServerClient (loopback protocol stand-in)', () => {
  it('registers, heartbeats and posts samples with the bearer token', async () => {
    const c = new HttpServerClient({ baseUrl: base + '/', token: TOKEN, clock: systemClock });
    expect(await c.register(reg)).toEqual({ leaseSeconds: 15, heartbeatSeconds: 5 });
    expect(await c.heartbeat('h1', { vms: [] })).toEqual({ leaseSeconds: 15 });
    expect(await c.postSamples({ agent: 'h1', samples: [{ vmId: 'v', t: 1, metric: 'cpu_cores', value: 0.5, unit: 'cores' }] })).toEqual({ accepted: 1 });
    expect(seen.map((s) => [s.url, s.auth])).toEqual([
      ['/v1/agents/register', `Bearer ${TOKEN}`],
      ['/v1/agents/h1/heartbeat', `Bearer ${TOKEN}`],
      ['/v1/samples', `Bearer ${TOKEN}`],
    ]);
    expect(seen[0].body).toEqual(reg);
  });

  it('a 404 says the server does not know the agent (not retryable); a bad reply is a protocol error', async () => {
    const c = new HttpServerClient({ baseUrl: base, token: TOKEN, clock: systemClock });
    const e = (await c.heartbeat('ghost', { vms: [] }).catch((x: unknown) => x)) as ServerRequestError;
    expect(e).toBeInstanceOf(ServerRequestError);
    expect(e).toMatchObject({ status: 404, retryable: false, code: 'SOURCE_UNAVAILABLE' });
    expect(e.message).toContain('unknown agent ghost');
    const odd = (await c.heartbeat('odd', { vms: [] }).catch((x: unknown) => x)) as ServerRequestError;
    expect(odd.message).toContain('does not match the protocol');
  });

  it('an unreachable server is retryable with no status', async () => {
    const c = new HttpServerClient({ baseUrl: 'http://127.0.0.1:1', token: TOKEN, clock: systemClock, timeoutMs: 1000 });
    const e = (await c.register(reg).catch((x: unknown) => x)) as ServerRequestError;
    expect(e).toMatchObject({ status: null, retryable: true });
    expect(e.message).not.toContain(TOKEN);
  });
});
