/**
 * Resource counters of a process from /proc: CPU time (/proc/<pid>/stat utime+stime), RSS
 * (/proc/<pid>/status VmRSS) and syscall I/O bytes (/proc/<pid>/io rchar/wchar). The parsers
 * are pure; `readProcessStats` does the reading.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** The fields of /proc/<pid>/stat Umbra uses. */
export interface ProcStat {
  /** One letter: R running, S sleeping, D disk sleep, Z zombie, X dead, T stopped, ... */
  state: string;
  /** Parent pid. */
  ppid: number;
  /** Session id: a detached QEMU leads its own session, so signals to the agent's group miss it. */
  session: number;
  /** User-mode CPU time, clock ticks. */
  utimeTicks: number;
  /** Kernel-mode CPU time, clock ticks. */
  stimeTicks: number;
  /** Start time after boot, clock ticks (identifies the process along with its pid). */
  startTicks: number;
  /** Resident set size, pages. */
  rssPages: number;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself contain
 * spaces and parentheses, so fields are counted from the LAST `)`.
 */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('not a /proc/<pid>/stat line');
  // After ") ": field 3 (state) is rest[0]; field N is rest[N - 3].
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const f = (n: number) => Number(rest[n - 3]);
  return { state: rest[0], ppid: f(4), session: f(6), utimeTicks: f(14), stimeTicks: f(15), startTicks: f(22), rssPages: f(24) };
}

/** VmRSS from /proc/<pid>/status, in bytes (0 when absent, e.g. for a zombie). */
export function parseVmRssBytes(statusText: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(statusText);
  return m ? Number(m[1]) * 1024 : 0;
}

/** rchar/wchar from /proc/<pid>/io: bytes read/written through system calls. */
export function parseProcIo(ioText: string): { readBytes: number; writeBytes: number } {
  const r = /^rchar:\s+(\d+)/m.exec(ioText);
  const w = /^wchar:\s+(\d+)/m.exec(ioText);
  if (!r || !w) throw new Error('not a /proc/<pid>/io file');
  return { readBytes: Number(r[1]), writeBytes: Number(w[1]) };
}

let ticks: number | undefined;

/** The kernel's clock ticks per second (`getconf CLK_TCK`, once; 100 when getconf is missing). */
export function clockTicksPerSecond(): number {
  if (ticks === undefined) {
    try {
      const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      ticks = Number.isFinite(v) && v > 0 ? v : 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** One reading of a process's counters. */
export interface ProcessStats {
  /** utime + stime of every thread, ms. */
  cpuTimeMs: number;
  rssBytes: number;
  processIo: { readBytes: number; writeBytes: number } | null;
}

/** Reads a live process's counters; throws (ENOENT) when it is gone. */
export function readProcessStats(pid: number): ProcessStats {
  const st = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  const rssBytes = parseVmRssBytes(readFileSync(`/proc/${pid}/status`, 'utf8'));
  let processIo: ProcessStats['processIo'] = null;
  try {
    processIo = parseProcIo(readFileSync(`/proc/${pid}/io`, 'utf8'));
  } catch {
    // /proc/<pid>/io is readable only by the process owner (or root).
  }
  return { cpuTimeMs: ((st.utimeTicks + st.stimeTicks) * 1000) / clockTicksPerSecond(), rssBytes, processIo };
}
