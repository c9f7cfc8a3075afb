/**
 * Running host commands for the image builder: argument arrays only (never a shell string),
 * binary-safe output, and failures as {@link ImageBuildError} carrying the stderr tail.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ImageBuildError, type ImageBuildStep } from './errors.js';

export interface RunOptions {
  cwd?: string;
  /** Bytes written to the command's stdin (stdin is closed otherwise). */
  input?: Uint8Array;
  env?: NodeJS.ProcessEnv;
  /** Kill the command after this long (default 20 minutes). */
  timeoutMs?: number;
  /** Exit statuses that count as success (default [0]). */
  okStatus?: number[];
  /** A failure is transient (a download): the error is marked retryable. */
  retryable?: boolean;
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
  status: number;
}

const TAIL = 2000;

/** Runs `cmd args...`; resolves with its output, rejects with an ImageBuildError for `step`. */
export function run(step: ImageBuildStep, cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const command = [cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString('utf8');
      if (err.length > 4 * TAIL) err = err.slice(-2 * TAIL);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20 * 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new ImageBuildError(step, `cannot run ${cmd}: ${e.message}`, { command }, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const status = code ?? -1;
      if ((opts.okStatus ?? [0]).includes(status)) return resolve({ stdout: Buffer.concat(out), stderr: err, status });
      const stderr = err.slice(-TAIL).trim();
      const why = signal ? `killed by ${signal}` : `exit status ${status}`;
      reject(new ImageBuildError(step, `${command}: ${why}${stderr ? `: ${stderr.split('\n').slice(-3).join(' | ')}` : ''}`, { command, stderr }, { retryable: opts.retryable }));
    });
    child.stdin.on('error', () => {}); // the command may exit before reading all its input
    child.stdin.end(opts.input ? Buffer.from(opts.input) : undefined);
  });
}

/** The absolute path of an executable found on PATH (plus the sbin directories), or undefined. */
export function which(cmd: string, path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}
