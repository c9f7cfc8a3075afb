/**
 * `umbra agent`: runs the host agent until SIGTERM/SIGINT (VMs are left running and re-adopted
 * by the next agent). Prints one JSON line on stdout once it listens:
 * `{"name","apiUrl","address","runDir","pid"}`; logs (pino JSON lines) go to stderr.
 */
import { waitForStop } from '../core/signals.js';
import { hostname } from 'node:os';
import { pino } from 'pino';
import { parseDuration } from '../core/duration.js';
import { UsageError } from '../core/errors.js';
import type { HypervisorDriver } from '../hypervisor/driver.js';
import type { IO } from './commands.js';
import { EXIT } from './exit-codes.js';

/** Options of `umbra agent` (strings as given on the command line). */
export interface AgentCommandArgs {
  /** Host name (default: this machine's host name). */
  name?: string;
  /** Server base URL, e.g. http://127.0.0.1:7000 (required). */
  server?: string;
  /** Bearer token (default $UMBRA_TOKEN). */
  token?: string;
  /** API listen address `host:port`, `host` or `port` (default <address>:7070). */
  listen?: string;
  /** Host address VMs' service ports are forwarded on (default 127.0.0.1). */
  address?: string;
  /** Run dir (default $UMBRA_RUN_DIR or ~/.local/state/umbra). */
  runDir?: string;
  /** Sampling interval (default 10s). */
  interval?: string;
  /** Lease assumed until the server replies (default 15s). */
  lease?: string;
  /** Labels `key=value` (repeatable). */
  label?: string[];
  /** Log level (default info). */
  logLevel?: string;
}

/** Extra hooks for tests and the lab: stop without a process signal, another environment or driver. */
export interface AgentCommandIO extends IO {
  /** Stops the agent like SIGTERM. */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** The driver to use (default: the QEMU driver on the run dir). */
  makeDriver?: (runDir: string, name: string) => HypervisorDriver;
}

/** Splits `host:port` / `host` / `port` (IPv6 as `[::1]:7070`). */
export function parseListen(text: string | undefined, address: string, defaultPort: number): { host: string; port: number } {
  if (!text) return { host: address, port: defaultPort };
  const port = (s: string) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--listen: bad port "${s}"`);
    return n;
  };
  if (/^\d+$/.test(text)) return { host: address, port: port(text) };
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) return { host: v6[1], port: v6[2] ? port(v6[2]) : defaultPort };
  const i = text.lastIndexOf(':');
  if (i < 0) return { host: text, port: defaultPort };
  return { host: text.slice(0, i), port: port(text.slice(i + 1)) };
}

function parseLabels(list: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf('=');
    if (i <= 0) throw new UsageError(`--label: expected key=value, got "${l}"`);
    out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

/**
 * Runs `umbra agent` until SIGTERM/SIGINT (or `io.signal`); resolves with the exit status.
 * Usage errors throw UsageError (exit 2 through the CLI's mapping).
 */
export async function agentCommand(args: AgentCommandArgs, io: AgentCommandIO): Promise<number> {
  const env = io.env ?? process.env;
  const token = args.token ?? env.UMBRA_TOKEN;
  if (!token) throw new UsageError('umbra agent: a bearer token is required (--token or $UMBRA_TOKEN)');
  if (!args.server) throw new UsageError('umbra agent: --server URL is required');
  try {
    new URL(args.server);
  } catch {
    throw new UsageError(`--server: not a URL: "${args.server}"`);
  }
  const { Agent, DEFAULT_AGENT_PORT } = await import('../agent/index.js');
  const { QemuHypervisorDriver, resolveRunDir } = await import('../hypervisor/index.js');
  const name = args.name ?? hostname();
  const address = args.address ?? '127.0.0.1';
  const listen = parseListen(args.listen, address, DEFAULT_AGENT_PORT);
  const runDir = resolveRunDir(args.runDir, env);
  const intervalMs = parseDuration(args.interval ?? '10s', '--interval') * 1000;
  const leaseMs = parseDuration(args.lease ?? '15s', '--lease') * 1000;
  const labels = parseLabels(args.label);

  // pino writes its JSON lines through io.stderr; the token is never a log field.
  const log = pino({ level: args.logLevel ?? 'info', base: { agent: name }, redact: ['token', 'authorization'] }, { write: (s: string) => io.stderr(s) });
  const driver = io.makeDriver ? io.makeDriver(runDir, name) : new QemuHypervisorDriver({ baseDir: runDir, host: name });
  const agent = await Agent.start(
    { name, serverUrl: args.server, token, address, listenHost: listen.host, listenPort: listen.port, runDir, intervalMs, leaseMs, labels },
    { driver, log },
  );
  io.stdout(JSON.stringify({ name, apiUrl: agent.apiUrl, address, runDir, pid: process.pid }) + '\n');

  await waitForStop(io.signal, (sig) => log.info({ signal: sig }, 'stopping (VMs keep running)'));
  await agent.stop();
  return EXIT.OK;
}
