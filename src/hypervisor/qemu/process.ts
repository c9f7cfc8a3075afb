/**
 * The QEMU process: spawning it detached (stdout/stderr appended to its log, pid in its
 * pidfile), telling whether a recorded pid is still that QEMU, and killing it by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, fstatSync, statSync } from 'node:fs';
import type { Clock } from '../../core/clock.js';
import { parseProcStat } from './proc-stats.js';

/**
 * Spawns `binary args` detached from this process (it survives an agent restart), with its
 * stdout and stderr appended to `logPath`. The caller unrefs nothing else: the child is
 * reaped by Node while this process lives, by init after.
 */
export function spawnDetached(binary: string, args: readonly string[], logPath: string): ChildProcess {
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** The pid in a pidfile, or null when there is none (or it is not a number). */
export function readPidFile(path: string): number | null {
  if (!existsSync(path)) return null;
  const n = Number(readFileSync(path, 'utf8').trim());
  return Number.isInteger(n) && n > 0 ? n : null;
}

/**
 * True when `pid` is a live process (not a zombie: an exited daemon whose parent has not
 * reaped it yet still has a /proc entry) and, when `marker` is given, its command line
 * contains `marker` (guards against a recycled pid).
 */
export function isAlive(pid: number, marker?: string): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const { state } = parseProcStat(stat);
  if (state === 'Z' || state === 'X') return false;
  if (marker === undefined) return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.includes(marker));
  } catch {
    return false;
  }
}

/** Sends `signal` to `pid`; false when there was no such process. */
export function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

/** Polls `pred` every `intervalMs` of clock time until it is true (→ true) or `timeoutMs` passed (→ false). */
export async function pollUntil(pred: () => boolean, opts: { clock: Clock; timeoutMs: number; intervalMs?: number }): Promise<boolean> {
  const end = opts.clock.now() + opts.timeoutMs;
  for (;;) {
    if (pred()) return true;
    if (opts.clock.now() >= end) return false;
    await opts.clock.sleep(opts.intervalMs ?? 10);
  }
}

/**
 * The last `maxLines` lines (within the last `maxBytes` bytes, and after byte `fromOffset`:
 * e.g. where this start's output began in an appended log) of a file; '' when it is missing.
 */
export function tailFile(path: string, maxBytes = 4096, maxLines = 20, fromOffset = 0): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(fromOffset, size - maxBytes, 0);
    const len = Math.max(0, size - start);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, start);
    let text = buf.toString('utf8');
    if (start > fromOffset) text = text.slice(text.indexOf('\n') + 1); // drop a partial first line
    const lines = text.replace(/\n+$/, '').split('\n');
    return lines.slice(-maxLines).join('\n');
  } finally {
    closeSync(fd);
  }
}

/** The size of a file in bytes, 0 when it is missing. */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
