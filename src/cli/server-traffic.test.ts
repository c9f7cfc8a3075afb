import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { serverCommand } from './server-command.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-server-traffic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = Buffer.alloc(32, 5).toString('base64');
writeFileSync(join(dir, 'k.secret'), `${SECRET}\n`, { mode: 0o600 });

function policy(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Starts `umbra server` in-process with a policy (and flags); resolves once it listens. */
async function run(dataDir: string, extra: { policy: string; haproxySocket?: string }) {
  const out: string[] = [];
  const err: string[] = [];
  const ac = new AbortController();
  const exit = serverCommand({ listen: '127.0.0.1:0', dataDir, kernel: '/k', initrd: '/i', ...extra }, { stdout: (s) => out.push(s), stderr: (s) => err.push(s), signal: ac.signal, env: {} });
  let failed: unknown = null;
  exit.catch((e: unknown) => (failed = e));
  await vi.waitFor(
    () => {
      if (failed) throw failed;
      expect(out.length).toBe(1);
    },
    { timeout: 30_000, interval: 20 },
  );
  return { stop: async () => (ac.abort(), exit), err };
}

/** The fields of the server's `traffic switch` log line. */
function trafficLog(err: string[]): { switch: string; drivers: Record<string, unknown>[] } | undefined {
  for (const line of err.join('').split('\n')) {
    if (!line.startsWith('{')) continue;
    const rec = JSON.parse(line) as { msg?: string; switch: string; drivers: Record<string, unknown>[] };
    if (rec.msg === 'traffic switch') return rec;
  }
  return undefined;
}

const DNS_BLOCK = 'traffic:\n  dns:\n    server: 127.0.0.1:5353\n    zone: lab.umbra\n    tsig: { name: umbra-lab, secret_file: k.secret }\n';

describe('umbra server: traffic from the policy file', () => {
  it('builds the DNS switch from traffic.dns (secret read from its file, never logged)', async () => {
    const s = await run(join(dir, 'd1'), { policy: policy('dns.yaml', DNS_BLOCK) });
    expect(await s.stop()).toBe(0);
    expect(trafficLog(s.err)).toMatchObject({ switch: 'dns', drivers: [{ driver: 'dns', server: '127.0.0.1:5353', zone: 'lab.umbra', ttl: 5, key: 'umbra-lab' }] });
    expect(s.err.join('')).not.toContain(SECRET);
  });

  it('--haproxy-socket beside traffic.dns: both, through the multi switch; the flag wins over traffic.haproxy', async () => {
    const file = policy('both.yaml', `${DNS_BLOCK}  haproxy: { socket: /from/file.sock }\n`);
    const s = await run(join(dir, 'd2'), { policy: file, haproxySocket: '/from/flag.sock' });
    expect(await s.stop()).toBe(0);
    expect(trafficLog(s.err)).toMatchObject({
      switch: 'multi',
      drivers: [{ driver: 'haproxy', socket: '/from/flag.sock', from: '--haproxy-socket', overrides: '/from/file.sock' }, { driver: 'dns' }],
    });
  });

  it('no traffic block and no flag: no switch', async () => {
    const s = await run(join(dir, 'd3'), { policy: policy('none.yaml', 'policies: { failover_priority: 1 }\n') });
    expect(await s.stop()).toBe(0);
    expect(trafficLog(s.err)).toBeUndefined();
  });

  it('refuses to start on a missing secret file, naming the field and its line', async () => {
    const file = policy('gone.yaml', DNS_BLOCK.replace('k.secret', 'gone.secret'));
    await expect(serverCommand({ listen: '127.0.0.1:0', dataDir: join(dir, 'd4'), kernel: '/k', initrd: '/i', policy: file }, { stdout: () => undefined, stderr: () => undefined, env: {} })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      context: { path: 'traffic.dns.tsig.secret_file', line: 5 },
      message: expect.stringContaining(`traffic.dns.tsig.secret_file: cannot read the TSIG secret file ${join(dir, 'gone.secret')}: no such file`),
    });
  });
});
