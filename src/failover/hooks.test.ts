import http from 'node:http';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { hookArgv, runHook, type HookContext } from './hooks.js';

const ctx: HookContext = { hook: 'before_fence', vm: 'vm1', failover: 'fo-1', from: 'h1', to: 'h2', path: 'warm', reason: 'state in [crashed]' };
const cmd = (argv: string[], timeout = 5, veto = false) => ({ command: { argv, timeout }, veto });

describe('failover hooks', () => {
  it('replaces placeholders inside each argument, no word splitting', () => {
    expect(hookArgv(['/bin/echo', '{vm} on {from}', '--to={to}', '{nope}'], ctx)).toEqual(['/bin/echo', 'vm1 on h1', '--to=h2', '{nope}']);
  });

  it('a command: success with its output, failure with its exit code, a timeout kills it', async () => {
    const ok = await runHook(cmd(['/bin/sh', '-c', 'echo "$UMBRA_HOOK $UMBRA_VM" "$0"', '{to}']), ctx);
    expect(ok).toMatchObject({ ok: true, code: 0, output: 'before_fence vm1 h2\n', veto: false });
    const bad = await runHook(cmd(['/bin/sh', '-c', 'echo nope >&2; exit 3'], 5, true), ctx);
    expect(bad).toMatchObject({ ok: false, code: 3, output: 'nope\n', error: 'exit 3', veto: true });
    const slow = await runHook(cmd(['/bin/sleep', '5'], 0.2), ctx);
    expect(slow).toMatchObject({ ok: false, error: 'timed out after 0.2 s' });
    expect(slow.ms).toBeLessThan(3000);
    const missing = await runHook(cmd(['/nonexistent/hook']), ctx);
    expect(missing.ok).toBe(false);
    expect(missing.error).toMatch(/ENOENT/);
  });

  it('a webhook: POSTs the context, 2xx is success, anything else a failure', async () => {
    const got: unknown[] = [];
    let status = 204;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://user:secret@127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`;
    try {
      const ok = await runHook({ webhook: { url, timeout: 5 }, veto: false }, ctx);
      expect(ok).toMatchObject({ ok: true, code: 204 });
      expect(ok.what).not.toContain('secret');
      expect(got[0]).toEqual(ctx);
      status = 500;
      expect(await runHook({ webhook: { url, timeout: 5 }, veto: false }, ctx)).toMatchObject({ ok: false, code: 500, error: 'HTTP 500' });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
