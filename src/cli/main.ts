#!/usr/bin/env node
/** `umbra` entry point: runs one command and exits with its status (see exit-codes.ts). */
import { buildProgram } from './commands.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { isUmbraError } from '../core/errors.js';

async function main(argv: string[]): Promise<number> {
  const io = { stdout: (s: string) => void process.stdout.write(s), stderr: (s: string) => void process.stderr.write(s) };
  let pending: Promise<number> | undefined;
  const program = buildProgram(io, (p) => (pending = p));
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return EXIT.OK;
    if (code.startsWith('commander.')) return EXIT.USAGE;
    throw e;
  }
  if (!pending) return EXIT.OK;
  return pending;
}

main(process.argv).then(
  (status) => {
    process.exitCode = status;
  },
  (err: unknown) => {
    if (isUmbraError(err)) process.stderr.write(`umbra: ${err.where()}\n`);
    else process.stderr.write(`umbra: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = exitCodeFor(err);
  },
);
