/**
 * A PROTOCOL STAND-IN for the server's agent-facing routes on loopback, for agent tests that run
 * without the real server: `POST /v1/agents/register`, `/v1/agents/:name/heartbeat` and
 * `/v1/samples`. It checks the bearer token, validates every body against src/api/protocol.ts
 * (an invalid one throws: the test fails) and records what it received.
 */
import http from 'node:http';
import type net from 'node:net';
import { agentRegistrationSchema, heartbeatSchema, sampleBatchSchema, type AgentRegistration, type Heartbeat, type UsageSample } from '../../src/api/protocol.js';

/** The running stand-in: what it received, and knobs a test may turn. */
export interface StandIn {
  url: string;
  registrations: AgentRegistration[];
  heartbeats: { at: number; hb: Heartbeat }[];
  samples: UsageSample[];
  /** `down`: every request gets 503 (a server that is there but cannot serve). */
  mode: 'up' | 'down';
  /** The next heartbeat gets 404 (the server forgot the agent). */
  forgetOnce: boolean;
  /** What registration answers; heartbeats answer its `leaseSeconds`. */
  lease: { leaseSeconds: number; heartbeatSeconds: number };
  close(): Promise<void>;
}

/** Starts a stand-in that accepts `token` and answers with `lease`. */
export async function startStandIn(token: string, lease: StandIn['lease']): Promise<StandIn> {
  const s: Omit<StandIn, 'url' | 'close'> = { registrations: [], heartbeats: [], samples: [], mode: 'up', forgetOnce: false, lease: { ...lease } };
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.headers.authorization !== `Bearer ${token}`) return json(401, { error: { code: 'UNAUTHORIZED', message: 'bad token' } });
      if (s.mode === 'down') return json(503, { error: { code: 'UNAVAILABLE', message: 'down for the test' } });
      const body = JSON.parse(text || 'null');
      if (req.method === 'POST' && req.url === '/v1/agents/register') {
        s.registrations.push(agentRegistrationSchema.parse(body));
        return json(200, s.lease);
      }
      if (req.method === 'POST' && /^\/v1\/agents\/[^/]+\/heartbeat$/.test(req.url ?? '')) {
        if (s.forgetOnce) {
          s.forgetOnce = false;
          return json(404, { error: { code: 'AGENT_NOT_FOUND', message: 'unknown agent' } });
        }
        s.heartbeats.push({ at: Date.now(), hb: heartbeatSchema.parse(body) });
        return json(200, { leaseSeconds: s.lease.leaseSeconds });
      }
      if (req.method === 'POST' && req.url === '/v1/samples') {
        const batch = sampleBatchSchema.parse(body);
        s.samples.push(...batch.samples);
        return json(200, { accepted: batch.samples.length });
      }
      return json(404, { error: { code: 'NOT_FOUND', message: req.url } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return Object.assign(s, {
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}
