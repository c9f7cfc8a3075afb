/** Where the `umbra` CLI entry is, for the processes the lab spawns (`node <entry> server|agent`). */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LabError } from './errors.js';

/**
 * The built CLI entry: `dist/cli/main.js` beside this module when running from dist/, else the
 * repository's dist/ (when this module runs from src/ under a TypeScript loader, e.g. vitest).
 */
export function cliEntry(): string {
  const candidates = [new URL('../cli/main.js', import.meta.url), new URL('../../dist/cli/main.js', import.meta.url)].map((u) => fileURLToPath(u));
  const found = candidates.find((p) => p.endsWith('.js') && existsSync(p));
  if (!found) throw new LabError('USAGE', `the umbra CLI is not built (no ${candidates[1]}): run npm run build`, { step: 'args' });
  return found;
}
