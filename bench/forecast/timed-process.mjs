// @ts-check
/** Runs one child process to completion and measures its wall time (spawn to exit). */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

/**
 * @typedef {object} TimedRun
 * @property {number} wallSeconds wall-clock seconds from spawn to exit
 * @property {number | null} code exit status (null when killed by a signal)
 * @property {string | null} signal
 * @property {string} stdout the whole standard output (when captured)
 */

/**
 * Spawns `command` with an argument array (no shell), waits for it to exit and times it.
 * Standard error goes to `stderrPath` (a log file) so a noisy child cannot fill a pipe.
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, stderrPath: string, captureStdout?: boolean }} opts
 * @returns {Promise<TimedRun>}
 */
export function runTimed(command, args, opts) {
  return new Promise((resolve, reject) => {
    const errLog = createWriteStream(opts.stderrPath);
    const started = process.hrtime.bigint();
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', opts.captureStdout ? 'pipe' : 'ignore', 'pipe'],
    });
    /** @type {Buffer[]} */
    const chunks = [];
    child.stdout?.on('data', (c) => chunks.push(c));
    child.stderr?.pipe(errLog);
    child.on('error', (e) => {
      errLog.end();
      reject(e);
    });
    child.on('close', (code, signal) => {
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      errLog.end(() =>
        resolve({ wallSeconds, code, signal, stdout: Buffer.concat(chunks).toString('utf8') }),
      );
    });
  });
}
