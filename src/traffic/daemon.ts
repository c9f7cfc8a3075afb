/**
 * Starting and stopping the switch daemons Umbra runs itself (haproxy, named) in the tests and
 * the lab: spawned with an argument array in the foreground, output to a log file in their
 * directory, their pid recorded in `<dir>/<name>.pid`, stopped by that pid (SIGTERM, then
 * SIGKILL). {@link killRecordedDaemons} is the last line of defence after a failure.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import { TrafficStartError } from './errors.js';

export interface DaemonSpec {
  /** Short name: the pid file is `<dir>/<name>.pid`, the log `<dir>/<name>.log`. */
  name: string;
  /** Program and arguments (never a shell string); the program must stay in the foreground. */
  argv: readonly [string, ...string[]];
  /** The daemon's own directory (config, sockets, data); its path appears in `argv`. */
  dir: string;
  /** True once the daemon serves (polled every 20 ms; a throw counts as "not yet"). */
  ready: () => Promise<boolean>;
  /** Default 10 s. */
  readyTimeoutMs?: number;
  clock?: Clock;
}

/** A running daemon. */
export interface Daemon {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves when the process has exited (with its status, or the signal that ended it). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True until the process has exited. */
  running(): boolean;
  /** The last `bytes` of its log. */
  logTail(bytes?: number): string;
  /** SIGTERM, then SIGKILL after `timeoutMs` (default 3000); resolves once it exited. Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
}

function tail(path: string, bytes: number): string {
  try {
    const t = readFileSync(path, 'utf8');
    return t.slice(-bytes);
  } catch {
    return '';
  }
}

/** Spawns the daemon and waits until `ready()`; on failure it is killed and the error carries its log. */
export async function startDaemon(spec: DaemonSpec): Promise<Daemon> {
  const clock = spec.clock ?? systemClock;
  const logPath = join(spec.dir, `${spec.name}.log`);
  const pidFile = join(spec.dir, `${spec.name}.pid`);
  const fd = openSync(logPath, 'a');
  const [program, ...args] = spec.argv;
  const child = spawn(program, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let spawnError: Error | null = null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (e) => {
      spawnError = e;
      exitInfo = { code: null, signal: null };
      resolve(exitInfo);
    });
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  // No pid: the program could not be run; its 'error' event is still to come.
  if (child.pid === undefined) await exited;
  else writeFileSync(pidFile, `${child.pid}\n`);

  const daemon: Daemon = {
    name: spec.name,
    pid: child.pid ?? -1,
    logPath,
    exited,
    running: () => exitInfo === null,
    logTail: (bytes = 2000) => tail(logPath, bytes),
    stop: async (timeoutMs = 3000) => {
      if (exitInfo === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(timer);
      }
      rmSync(pidFile, { force: true });
    },
  };

  const end = clock.now() + (spec.readyTimeoutMs ?? 10_000);
  for (;;) {
    if (exitInfo !== null) {
      rmSync(pidFile, { force: true });
      const e = exitInfo as { code: number | null; signal: NodeJS.Signals | null };
      const why = spawnError ? `cannot run ${program}: ${(spawnError as Error).message}` : `exited with ${e.signal ?? `status ${e.code}`}`;
      throw new TrafficStartError(spec.name, why, daemon.logTail());
    }
    let ok = false;
    try {
      ok = await spec.ready();
    } catch {
      // not yet
    }
    if (ok) return daemon;
    if (clock.now() > end) {
      const logTail = daemon.logTail();
      await daemon.stop(500);
      throw new TrafficStartError(spec.name, `not ready in ${spec.readyTimeoutMs ?? 10_000} ms`, logTail);
    }
    await clock.sleep(20);
  }
}

/**
 * SIGKILLs every daemon recorded in `dir` (`*.pid`) whose command line still mentions `dir`
 * (so a recycled pid is never hit). Returns the pids killed.
 */
export function killRecordedDaemons(dir: string): number[] {
  const killed: number[] = [];
  if (!existsSync(dir)) return killed;
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.pid')) continue;
    const pid = Number(readFileSync(join(dir, f), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes(dir)) continue;
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // gone already
    }
  }
  return killed;
}
