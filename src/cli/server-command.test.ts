import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { StatusReport } from '../api/protocol.js';
import { resolveDataDir, serverCommand } from './server-command.js';
import { statusCommand } from './status-command.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-server-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `umbra server` in-process; resolves with its JSON line, a stop function and its output. */
async function run(dataDir: string) {
  const out: string[] = [];
  const err: string[] = [];
  const ac = new AbortController();
  const exit = serverCommand({ listen: '127.0.0.1:0', dataDir, kernel: '/k', initrd: '/i' }, { stdout: (s) => out.push(s), stderr: (s) => err.push(s), signal: ac.signal, env: {} });
  let failed: unknown = null;
  exit.catch((e: unknown) => (failed = e));
  await vi.waitFor(
    () => {
      if (failed) throw failed;
      expect(out.length).toBe(1);
    },
    { timeout: 30_000, interval: 20 },
  );
  return { info: JSON.parse(out[0]) as Record<string, unknown>, stop: async () => (ac.abort(), exit), err };
}

describe('umbra server', () => {
  it('prints a generated token once, keeps it in a 0600 file, serves status, stops on signal', async () => {
    const data = join(dir, 'd1');
    const a = await run(data);
    expect(a.info).toMatchObject({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), dataDir: data, tokenSource: 'generated', tokenFile: join(data, 'token') });
    const token = a.info.token as string;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const out: string[] = [];
    const io = { stdout: (s: string) => out.push(s), stderr: () => undefined, env: {}, now: () => 0 };
    expect(await statusCommand({ server: a.info.url as string, token, json: true }, io)).toBe(0);
    const report = JSON.parse(out.join('')) as StatusReport;
    expect(report).toMatchObject({ server: { url: a.info.url }, agents: [], vms: [] });
    out.length = 0;
    await statusCommand({ server: a.info.url as string, token }, io);
    expect(out.join('')).toBe(`server ${a.info.url} (umbra ${report.server.version})\n\nno hosts\n\nno VMs\n`);
    await expect(statusCommand({ server: a.info.url as string, token: 'wrong-token-0123456789' }, io)).rejects.toMatchObject({ code: 'UNAUTHORIZED', status: 401 });

    expect(await a.stop()).toBe(0);
    expect(a.err.join('')).toContain('"msg":"server stopped"');
    expect(a.err.join('')).not.toContain(token);

    // The next start reuses the file and does not print the token again.
    const b = await run(data);
    expect(b.info.tokenSource).toBe('file');
    expect(b.info.token).toBeUndefined();
    expect(await b.stop()).toBe(0);
    await expect(statusCommand({ server: a.info.url as string, token }, io)).rejects.toMatchObject({ code: 'SOURCE_UNAVAILABLE', retryable: true });
  });

  it('rejects half an image and a bad listen address as usage errors', async () => {
    const io = { stdout: () => undefined, stderr: () => undefined, env: {} };
    await expect(serverCommand({ dataDir: join(dir, 'd2'), kernel: '/k' }, io)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(serverCommand({ dataDir: join(dir, 'd2'), listen: '127.0.0.1:http' }, io)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(serverCommand({ dataDir: join(dir, 'd2'), retentionRaw: '40d' }, io)).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('retention') });
  });

  it('finds its data dir from the flag, UMBRA_DATA_DIR or the XDG state dir', () => {
    expect(resolveDataDir('/x', { UMBRA_DATA_DIR: '/y' })).toBe('/x');
    expect(resolveDataDir(undefined, { UMBRA_DATA_DIR: '/y' })).toBe('/y');
    expect(resolveDataDir(undefined, { XDG_STATE_HOME: '/s' })).toBe('/s/umbra/server');
    expect(resolveDataDir(undefined, { HOME: '/home/u' })).toBe('/home/u/.local/state/umbra/server');
  });
});
