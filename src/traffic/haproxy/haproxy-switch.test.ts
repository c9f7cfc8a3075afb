/**
 * The HAProxy driver's pure parts (parsers, plan, answers) on text captured from HAProxy 2.6,
 * and its error mapping against a scripted admin socket (the real-haproxy tests are in
 * test/traffic-haproxy.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { answerOk, HaproxyTrafficSwitch, planHaproxyEnsure, serverRoute } from './haproxy-switch.js';
import { ADMIN, counter, parseServersState, parseStatCsv, runtimeCommand, type ServerState } from './runtime.js';

const HEADER =
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port';
/** `show servers state be_vm1` from HAProxy 2.6.12: up, then in forced maintenance, then draining. */
const STATE_UP = `1\n${HEADER}\n3 be_vm1 1 active 127.0.0.1 2 0 1 1 1 15 3 2 6 0 0 0 - 18101 - 0 0 - - 0\n\n`;
const STATE_MAINT = `1\n${HEADER}\n3 be_vm1 1 active 127.0.0.1 0 1 1 1 0 15 3 0 14 0 0 0 - 18102 - 0 0 - - 0\n\n`;
const STATE_DRAIN = `1\n${HEADER}\n3 be_vm1 1 active 127.0.0.1 2 8 1 1 0 15 3 1 6 0 0 0 - 18102 - 0 0 - - 0\n\n`;

const server = (over: Partial<ServerState> = {}): ServerState => ({
  backend: 'be_vm-1',
  server: 'active',
  address: '10.0.0.1',
  port: 8080,
  opState: 2,
  adminState: 0,
  weight: 1,
  ...over,
});

describe('runtime API parsers', () => {
  it('reads show servers state', () => {
    expect(parseServersState(STATE_UP)).toEqual([{ backend: 'be_vm1', server: 'active', address: '127.0.0.1', port: 18101, opState: 2, adminState: 0, weight: 1 }]);
    expect(parseServersState(STATE_MAINT)[0]).toMatchObject({ port: 18102, opState: 0, adminState: ADMIN.FMAINT });
    expect(parseServersState(STATE_DRAIN)[0].adminState).toBe(ADMIN.FDRAIN);
    expect(() => parseServersState("Can't find backend.\n")).toThrow(/format/);
  });

  it('reads show stat CSV by column name', () => {
    const csv = [
      '# pxname,svname,qcur,econ,eresp,status,req_tot,hrsp_5xx,addr,',
      'be_vm1,active,0,1,0,UP,20,10,127.0.0.2:42793,',
      'be_vm1,BACKEND,0,1,0,UP,21,11,,',
      '',
    ].join('\n');
    const rows = parseStatCsv(csv);
    expect(rows.map((r) => r.svname)).toEqual(['active', 'BACKEND']);
    expect([counter(rows[0], 'req_tot'), counter(rows[0], 'hrsp_5xx'), counter(rows[0], 'econ'), counter(rows[1], 'addr')]).toEqual([20, 10, 1, 0]);
    expect(() => counter(rows[0], 'status')).toThrow(/not a number/);
    expect(() => parseStatCsv('Unknown command\n')).toThrow(/header/);
  });
});

describe('planHaproxyEnsure', () => {
  const b = { host: '10.0.0.2', port: 8080 };
  it('sends nothing when the slot already routes there', () => {
    expect(planHaproxyEnsure(server({ address: '10.0.0.2' }), b)).toEqual([]);
  });
  it('moves, re-enables, restores the weight, in that order', () => {
    expect(planHaproxyEnsure(server({ adminState: ADMIN.FMAINT, weight: 0 }), b)).toEqual([
      'set server be_vm-1/active addr 10.0.0.2 port 8080',
      'set server be_vm-1/active state ready',
      'set server be_vm-1/active weight 100%',
    ]);
    expect(planHaproxyEnsure(server({ address: '10.0.0.2', port: 9 }), b)).toEqual(['set server be_vm-1/active addr 10.0.0.2 port 8080']);
    expect(planHaproxyEnsure(server({ address: '10.0.0.2', adminState: ADMIN.FDRAIN }), b)).toEqual(['set server be_vm-1/active state ready']);
    expect(planHaproxyEnsure(server({ address: '10.0.0.2', adminState: ADMIN.CMAINT | ADMIN.FMAINT }), b)).toEqual(['set server be_vm-1/active state ready']);
  });
  it('forces health up only with a move, and only when asked', () => {
    const down = server({ opState: 0 });
    expect(planHaproxyEnsure(down, b)).not.toContain('set server be_vm-1/active health up');
    expect(planHaproxyEnsure(down, b, { assumeHealthy: true })).toContain('set server be_vm-1/active health up');
    expect(planHaproxyEnsure(server({ address: '10.0.0.2', opState: 0 }), b, { assumeHealthy: true })).toEqual([]);
  });
});

describe('serverRoute and answerOk', () => {
  it('maps admin and op states to enabled and health', () => {
    expect(serverRoute('vm-1', server()).targets).toEqual([{ host: '10.0.0.1', port: 8080, enabled: true, health: 'up' }]);
    expect(serverRoute('vm-1', server({ adminState: ADMIN.FMAINT, opState: 0 })).targets[0]).toMatchObject({ enabled: false, health: 'down' });
    expect(serverRoute('vm-1', server({ adminState: ADMIN.FDRAIN })).targets[0].enabled).toBe(false);
    expect(serverRoute('vm-1', server({ weight: 0 })).targets[0].enabled).toBe(false);
    expect(serverRoute('vm-1', server({ opState: 3 })).targets[0].health).toBe('up');
  });
  it("tells HAProxy's success sentences from its complaints", () => {
    const addr = 'set server be/s addr 10.0.0.1 port 80';
    expect(answerOk(addr, "IP changed from '127.0.0.1' to '10.0.0.1', port changed from '1' to '80' by 'stats socket command'\n\n")).toBe(true);
    expect(answerOk(addr, "no need to change the addr, port changed from '18101' to '18102' by 'stats socket command'\n")).toBe(true);
    expect(answerOk(addr, "Invalid addr 'foo' by 'stats socket command'\n")).toBe(false);
    expect(answerOk(addr, 'No such server.\n')).toBe(false);
    expect(answerOk('set server be/s state ready', '\n')).toBe(true);
    expect(answerOk('set server be/s state ready', 'Require admin level.\n')).toBe(false);
  });
});

describe('HAProxy switch against a scripted admin socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uhs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;

  /** A unix socket that answers each command line by `answer`, then closes (as HAProxy does). */
  async function fakeSocket(answer: (cmd: string) => string): Promise<{ path: string; seen: string[] }> {
    const path = join(dir, `s${n++}.sock`);
    const seen: string[] = [];
    const srv = net.createServer((c) => {
      let buf = '';
      c.on('data', (d: Buffer) => {
        buf += d.toString();
        if (!buf.includes('\n')) return;
        const cmd = buf.trim();
        seen.push(cmd);
        c.end(answer(cmd));
      });
    });
    await new Promise<void>((r) => srv.listen(path, r));
    afterAll(() => new Promise<void>((r) => srv.close(() => r())));
    return { path, seen };
  }

  it('an unknown backend is NOT_FOUND', async () => {
    const { path } = await fakeSocket(() => "Can't find backend.\n");
    await expect(new HaproxyTrafficSwitch({ socketPath: path }).observe('vm-1')).rejects.toMatchObject({ code: 'NOT_FOUND', context: { service: 'vm-1' } });
  });

  it('a socket below level admin is TRAFFIC_REFUSED', async () => {
    const { path } = await fakeSocket((cmd) => (cmd.startsWith('show') ? STATE_UP.replace(/be_vm1/g, 'be_vm-1') : 'Permission denied\n'));
    await expect(new HaproxyTrafficSwitch({ socketPath: path }).ensure('vm-1', { host: '10.0.0.3', port: 80 })).rejects.toMatchObject({
      code: 'TRAFFIC_REFUSED',
      retryable: false,
    });
  });

  it('a refused change is TRAFFIC_COMMAND_FAILED with HAProxy\'s answer', async () => {
    const { path, seen } = await fakeSocket((cmd) => (cmd.startsWith('show') ? STATE_UP.replace(/be_vm1/g, 'be_vm-1') : "Invalid addr '10.0.0.3' by 'stats socket command'\n"));
    await expect(new HaproxyTrafficSwitch({ socketPath: path }).ensure('vm-1', { host: '10.0.0.3', port: 80 })).rejects.toMatchObject({
      code: 'TRAFFIC_COMMAND_FAILED',
      answer: "Invalid addr '10.0.0.3' by 'stats socket command'",
    });
    expect(seen).toEqual(['show servers state be_vm-1', 'set server be_vm-1/active addr 10.0.0.3 port 80']);
  });

  it('a socket that never answers times out as TRAFFIC_UNAVAILABLE', async () => {
    const path = join(dir, 'mute.sock');
    const srv = net.createServer(() => {});
    await new Promise<void>((r) => srv.listen(path, r));
    try {
      await expect(runtimeCommand(path, 'show info', { timeoutMs: 100 })).rejects.toMatchObject({ code: 'TRAFFIC_UNAVAILABLE', retryable: true });
    } finally {
      srv.close();
    }
  });

  it('never sends a command with a separator', async () => {
    await expect(runtimeCommand('/nonexistent', 'show info; shutdown frontend x')).rejects.toMatchObject({ code: 'TRAFFIC_PROTOCOL' });
    await expect(runtimeCommand('/nonexistent', 'show info\nshutdown')).rejects.toMatchObject({ code: 'TRAFFIC_PROTOCOL' });
  });
});
