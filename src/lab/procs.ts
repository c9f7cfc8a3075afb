/**
 * The lab's processes: spawned detached with argument arrays (they outlive `umbra lab up`),
 * found again through /proc, stopped by pid. Exited processes can linger as zombies here, so
 * liveness reads the process state from /proc, never `kill -0` alone.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { systemClock, type Clock } from '../core/clock.js';

/** What /proc says about a live (non-zombie) process. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  /** The command line, split at NULs. */
  argv: string[];
}

/** The process `pid` if it exists and is not a zombie, else null. */
export function procInfo(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state, ppid, ...
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return null;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv.at(-1) === '') argv.pop();
    return { pid, ppid: Number(rest[1]), argv };
  } catch {
    return null;
  }
}

/** True when `pid` is a live, non-zombie process. */
export function isAlive(pid: number | null | undefined): boolean {
  return typeof pid === 'number' && pid > 0 && procInfo(pid) !== null;
}

/** This process and its ancestors (never to be stopped by the lab's sweeps). */
function selfAndAncestors(): Set<number> {
  const out = new Set<number>();
  let pid = process.pid;
  while (pid > 1 && !out.has(pid)) {
    out.add(pid);
    const info = procInfo(pid);
    if (!info) break;
    pid = info.ppid;
  }
  return out;
}

/** Live processes whose command line contains `needle` (this process and its ancestors excluded). */
export function findProcessesMentioning(needle: string): ProcInfo[] {
  const skip = selfAndAncestors();
  const out: ProcInfo[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || skip.has(Number(d))) continue;
    const info = procInfo(Number(d));
    if (info && info.argv.some((a) => a.includes(needle))) out.push(info);
  }
  return out;
}

/**
 * Stops processes: SIGTERM, up to `graceMs` for them to exit, then SIGKILL and a short wait.
 * Resolves with the pids still alive at the end (normally none).
 */
export async function stopProcesses(pids: readonly number[], opts: { graceMs?: number; clock?: Clock } = {}): Promise<number[]> {
  const clock = opts.clock ?? systemClock;
  const signal = (list: number[], sig: NodeJS.Signals) => {
    for (const pid of list) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  const waitGone = async (list: number[], ms: number) => {
    const end = clock.now() + ms;
    let alive = list.filter(isAlive);
    while (alive.length && clock.now() < end) {
      await clock.sleep(50);
      alive = alive.filter(isAlive);
    }
    return alive;
  };
  let alive = [...new Set(pids)].filter(isAlive);
  signal(alive, 'SIGTERM');
  alive = await waitGone(alive, opts.graceMs ?? 5000);
  signal(alive, 'SIGKILL');
  return waitGone(alive, 2000);
}

/**
 * Spawns `argv` detached (own session, no inherited stdio) with stdout to `out` and stderr to
 * `log`; resolves with its pid. The child outlives this process.
 */
export function spawnDetached(argv: readonly string[], out: string, log: string, env: NodeJS.ProcessEnv): number {
  const o = openSync(out, 'a', 0o600);
  const e = openSync(log, 'a', 0o600);
  try {
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', o, e], env });
    if (child.pid === undefined) throw new Error(`could not start ${argv[0]}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(o);
    closeSync(e);
  }
}

/** The last `n` lines of a text file ('' when it does not exist). */
export function tailFile(file: string, n = 15): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
}

/**
 * Waits for the first JSON object line in `file` (what `umbra server` / `umbra agent` print once
 * they listen). Rejects when `pid` exits first or after `timeoutMs`, with `why` + the log tail.
 */
export async function waitForJsonLine<T>(file: string, pid: number, timeoutMs: number, clock: Clock = systemClock): Promise<T> {
  const end = clock.now() + timeoutMs;
  for (;;) {
    if (existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          return JSON.parse(line) as T;
        } catch {
          // a partial line: read again
        }
      }
    }
    if (!isAlive(pid)) throw new Error(`process ${pid} exited before it was ready`);
    if (clock.now() >= end) throw new Error(`process ${pid} not ready after ${timeoutMs} ms`);
    await clock.sleep(100);
  }
}
