/**
 * `umbra status [--json]`: the server's view of hosts and VMs (`GET /v1/status`), as a table or
 * as the StatusReport JSON. The server URL and token come from the flags, else $UMBRA_SERVER and
 * $UMBRA_TOKEN, else the lab's state file `$UMBRA_STATE_DIR/lab.json` (`{server, token}`).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { StatusReport } from '../api/protocol.js';
import { UsageError } from '../core/errors.js';
import type { IO } from './commands.js';
import { EXIT } from './exit-codes.js';

/** Options of `umbra status`. */
export interface StatusCommandArgs {
  server?: string;
  token?: string;
  json?: boolean;
}

/** Extra hooks for tests: another environment, another time for "lease left". */
export interface StatusCommandIO extends IO {
  env?: NodeJS.ProcessEnv;
  /** Epoch ms (default: the system time; only used to print how long leases have left). */
  now?: () => number;
}

/** The lab's state dir: $UMBRA_STATE_DIR, else $XDG_STATE_HOME/umbra (~/.local/state/umbra). */
export function labStateDir(env: NodeJS.ProcessEnv): string {
  return env.UMBRA_STATE_DIR || join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'umbra');
}

/** Where the server and token come from, each: the flag, the environment, or the lab's state file. */
export function resolveServerTarget(args: Pick<StatusCommandArgs, 'server' | 'token'>, env: NodeJS.ProcessEnv): { server: string; token: string } {
  let lab: { server?: unknown; token?: unknown } | null = null;
  const labFile = join(labStateDir(env), 'lab.json');
  const fromLab = () => {
    if (lab === null) {
      try {
        lab = JSON.parse(readFileSync(labFile, 'utf8')) as { server?: unknown; token?: unknown };
      } catch {
        lab = {};
      }
    }
    return lab;
  };
  const server = args.server || env.UMBRA_SERVER || (typeof fromLab().server === 'string' ? (fromLab().server as string) : undefined);
  const token = args.token || env.UMBRA_TOKEN || (typeof fromLab().token === 'string' ? (fromLab().token as string) : undefined);
  if (!server) throw new UsageError(`no server: pass --server URL, set UMBRA_SERVER, or start a lab (it writes ${labFile})`);
  try {
    new URL(server);
  } catch {
    throw new UsageError(`--server: not a URL: "${server}"`);
  }
  if (!token) throw new UsageError(`no token: pass --token, set UMBRA_TOKEN, or start a lab (it writes ${labFile})`);
  return { server, token };
}

/** A table with padded columns (the last one unpadded). Pure. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 0 ? `${s}s` : `expired ${-s}s ago`;
}

/** The status as text: a table of hosts, then a table of VMs. Pure. */
export function renderStatus(r: StatusReport, now: number): string {
  const hosts = r.agents.length
    ? table(
        ['HOST', 'ADDRESS', 'ALIVE', 'LEASE', 'CORES', 'MEMORY'],
        r.agents.map((a) => [a.name, a.address, a.alive ? 'yes' : 'no', seconds(a.leaseExpiresAt - now), String(a.capacity.cores), `${a.capacity.memoryMiB} MiB`]),
      )
    : 'no hosts\n';
  const vms = r.vms.length
    ? table(
        ['VM', 'ROLE', 'HOST', 'STATE', 'PID', 'SYNC', 'ENDPOINT'],
        r.vms.map((v) => [v.id, v.shadowOf ? `shadow of ${v.shadowOf}` : v.role, v.host, v.state, v.pid === null ? '-' : String(v.pid), v.sync ?? '-', v.endpoint ?? '-']),
      )
    : 'no VMs\n';
  return `server ${r.server.url} (umbra ${r.server.version})\n\n${hosts}\n${vms}`;
}

/** Runs `umbra status`; resolves with the exit status (errors propagate to the CLI's mapping). */
export async function statusCommand(args: StatusCommandArgs, io: StatusCommandIO): Promise<number> {
  const { server, token } = resolveServerTarget(args, io.env ?? process.env);
  const { ServerApiClient } = await import('../server/client.js');
  const report = await new ServerApiClient({ baseUrl: server, token }).status();
  if (args.json) io.stdout(JSON.stringify(report, null, 2) + '\n');
  else io.stdout(renderStatus(report, (io.now ?? (() => Date.now()))()));
  return EXIT.OK;
}
