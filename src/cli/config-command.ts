import { configCheckCommand } from '../config/index.js';
import type { IO } from './commands.js';

/** `umbra config check FILE [--json]`: prints the outcome; exit 0 valid, 2 invalid. */
export async function runConfigCheck(file: string, opts: { json?: boolean }, io: IO): Promise<number> {
  const outcome = configCheckCommand(file, opts);
  (outcome.exitCode === 0 || opts.json ? io.stdout : io.stderr)(outcome.output + '\n');
  return outcome.exitCode;
}
