import http from 'node:http';
import type net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SimWorld } from '../hypervisor/sim/world.js';
import { agentCommand, parseListen } from './agent-command.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('parseListen', () => {
  it('reads host:port, a bare port, a bare host and [v6]:port', () => {
    expect(parseListen(undefined, '10.0.0.1', 7070)).toEqual({ host: '10.0.0.1', port: 7070 });
    expect(parseListen('7071', '10.0.0.1', 7070)).toEqual({ host: '10.0.0.1', port: 7071 });
    expect(parseListen('127.0.0.1:0', '10.0.0.1', 7070)).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListen('0.0.0.0', '10.0.0.1', 7070)).toEqual({ host: '0.0.0.0', port: 7070 });
    expect(parseListen('[::1]:9', '10.0.0.1', 7070)).toEqual({ host: '::1', port: 9 });
    expect(() => parseListen('h:99999', 'a', 1)).toThrow(/bad port/);
  });
});

describe('agentCommand', () => {
  const io = { stdout: () => undefined, stderr: () => undefined };
  it('refuses to run without a token or a server', async () => {
    await expect(agentCommand({ server: 'http://127.0.0.1:1' }, { ...io, env: {} })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(agentCommand({ token: 't' }, { ...io, env: {} })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(agentCommand({ token: 't', server: 'nope' }, { ...io, env: {} })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(agentCommand({ token: 't', server: 'http://x', interval: 'soon' }, { ...io, env: {}, makeDriver: () => SimWorld.oneHost().driver('h1') })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('registers, prints its API URL, serves, and stops on the signal with exit 0 (simulated driver)', async () => {
    const registered: unknown[] = [];
    const srv = http.createServer((req, res) => {
      let t = '';
      req.on('data', (c) => (t += c));
      req.on('end', () => {
        if (req.url === '/v1/agents/register') registered.push(JSON.parse(t));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ leaseSeconds: 30, heartbeatSeconds: 10, accepted: 0 }));
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const server = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
    const runDir = mkdtempSync(join(tmpdir(), 'umc-'));
    dirs.push(runDir);
    const out: string[] = [];
    const logs: string[] = [];
    const ac = new AbortController();
    const world = SimWorld.oneHost();
    const status = agentCommand(
      { name: 'h1', server, listen: '127.0.0.1:0', runDir, interval: '1s', lease: '30s' },
      { stdout: (s) => out.push(s), stderr: (s) => logs.push(s), env: { UMBRA_TOKEN: 'cli-secret-token' }, signal: ac.signal, makeDriver: () => world.driver('h1') },
    );
    const t0 = Date.now();
    while (out.length === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    const line = JSON.parse(out[0]);
    expect(line).toMatchObject({ name: 'h1', address: '127.0.0.1', runDir, pid: process.pid });
    expect((await fetch(`${line.apiUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${line.apiUrl}/v1/vms`, { headers: { authorization: 'Bearer cli-secret-token' } })).status).toBe(200);
    expect(registered).toHaveLength(1);
    ac.abort();
    expect(await status).toBe(0);
    await expect(fetch(`${line.apiUrl}/healthz`)).rejects.toThrow();
    expect(logs.join('')).toContain('"msg":"registered with the server"');
    expect(logs.join('')).not.toContain('cli-secret-token');
    srv.closeAllConnections();
    srv.close();
  });
});
