/**
 * HAProxy's runtime API over its admin unix socket (`stats socket PATH level admin`): one
 * command per connection (write `cmd\n`, read to end), plus parsers for the answers the
 * driver reads (`show servers state`, `show stat` CSV). The parsers are pure.
 */
import net from 'node:net';
import { TrafficProtocolError, TrafficUnavailableError, type TrafficErrorContext } from '../errors.js';

/** Sends one command; resolves with HAProxy's whole answer. */
export function runtimeCommand(socketPath: string, command: string, opts: { timeoutMs?: number; context?: TrafficErrorContext } = {}): Promise<string> {
  // One line only: a newline or `;` would smuggle a second command (callers validate names too).
  if (/[\n\r;]/.test(command)) return Promise.reject(new TrafficProtocolError(`refusing a runtime command with a separator: ${JSON.stringify(command)}`, opts.context));
  const timeoutMs = opts.timeoutMs ?? 2000;
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(new TrafficUnavailableError(`HAProxy runtime API at ${socketPath}: ${err.message}`, opts.context, err));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const timer = setTimeout(() => finish(new Error(`no answer to "${command.split(' ').slice(0, 2).join(' ')}" in ${timeoutMs} ms`)), timeoutMs);
    sock.on('connect', () => sock.write(`${command}\n`));
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('end', () => finish(null));
    sock.on('error', (e) => finish(e));
  });
}

/** One server of `show servers state` (format version 1), the fields the driver reads. */
export interface ServerState {
  backend: string;
  server: string;
  address: string;
  port: number;
  /** 0 stopped, 1 starting, 2 running, 3 stopping (HAProxy's SRV_ST_*). */
  opState: number;
  /** Bit field of HAProxy's SRV_ADMF_* (see {@link ADMIN}). */
  adminState: number;
  /** User weight; 0 takes the server out of load balancing. */
  weight: number;
}

/** HAProxy's SRV_ADMF_* bits (src/server.h). */
export const ADMIN = {
  /** Forced maintenance (`set server state maint`, `disable server`). */
  FMAINT: 0x01,
  /** Inherited maintenance (a tracked server is in maint). */
  IMAINT: 0x02,
  /** Maintenance from the configuration (`disabled`). */
  CMAINT: 0x04,
  /** Forced drain (`set server state drain`). */
  FDRAIN: 0x08,
  /** Inherited drain. */
  IDRAIN: 0x10,
  /** Maintenance because DNS resolution failed. */
  RMAINT: 0x20,
  /** Maintenance because the address is being resolved (2.x `init-addr none`). */
  HMAINT: 0x40,
} as const;

/** Bits meaning "no new traffic". */
export const ADMIN_NO_TRAFFIC = ADMIN.FMAINT | ADMIN.IMAINT | ADMIN.CMAINT | ADMIN.FDRAIN | ADMIN.IDRAIN | ADMIN.RMAINT | ADMIN.HMAINT;

/** Parses `show servers state [backend]`: a version line, a `# field ...` header, one line per server. */
export function parseServersState(text: string): ServerState[] {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines[0] !== '1') throw new Error(`unexpected servers state format ${JSON.stringify(lines[0] ?? '')}`);
  const header = lines[1]?.startsWith('# ') ? lines[1].slice(2).split(' ') : undefined;
  if (!header) throw new Error('servers state without a header');
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`servers state lacks ${name}`);
    return i;
  };
  const ix = {
    be: col('be_name'),
    srv: col('srv_name'),
    addr: col('srv_addr'),
    port: col('srv_port'),
    op: col('srv_op_state'),
    admin: col('srv_admin_state'),
    weight: col('srv_uweight'),
  };
  return lines.slice(2).map((l) => {
    const f = l.split(' ');
    if (f.length < header.length) throw new Error(`short servers state line: ${l}`);
    return {
      backend: f[ix.be],
      server: f[ix.srv],
      address: f[ix.addr],
      port: Number(f[ix.port]),
      opState: Number(f[ix.op]),
      adminState: Number(f[ix.admin]),
      weight: Number(f[ix.weight]),
    };
  });
}

/** One row of `show stat` CSV, by column name (values as text; empty where not applicable). */
export type StatRow = Readonly<Record<string, string>>;

/** Parses `show stat` CSV (first line `# pxname,svname,...`). */
export function parseStatCsv(text: string): StatRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (!lines[0]?.startsWith('# ')) throw new Error('stat CSV without a header');
  const header = lines[0].slice(2).split(',');
  return lines.slice(1).map((l) => {
    const f = l.split(',');
    const row: Record<string, string> = {};
    header.forEach((h, i) => {
      if (h) row[h] = f[i] ?? '';
    });
    return row;
  });
}

/** A counter column as a number (empty counts as 0). */
export function counter(row: StatRow, column: string): number {
  const v = row[column];
  if (v === undefined || v === '') return 0;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`stat column ${column} is not a number: ${v}`);
  return n;
}
