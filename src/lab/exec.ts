/** Runs a program with an argument array (never a shell string) and collects its output. */
import { execFile } from 'node:child_process';

/** The outcome of one program run. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `file args...`; resolves with its exit code and output (never rejects for a non-zero exit). */
export function run(file: string, args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 127) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code === 127 ? err.message : '') });
    });
  });
}
