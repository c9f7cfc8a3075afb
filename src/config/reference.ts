import { listFields } from './schema-walk.js';
import { umbraConfigSchema } from './schema.js';

function showDefault(v: unknown): string {
  if (v === undefined) return '';
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) return '';
  if (Array.isArray(v)) return `[${v.join(', ')}]`;
  if (v !== null && typeof v === 'object') return `{ ${Object.entries(v).map(([k, x]) => `${k}: ${String(x)}`).join(', ')} }`;
  return String(v);
}

/**
 * The policy file's reference as Markdown (one table row per field: path, type, default,
 * description), generated from the schema so the docs never drift from the validation.
 */
export function configReference(): string {
  const rows = listFields(umbraConfigSchema).map(
    (f) => `| \`${f.path}\` | ${f.type.replace(/\|/g, '\\|')} | ${showDefault(f.default).replace(/\|/g, '\\|')} | ${(f.description ?? '').replace(/\|/g, '\\|')} |`,
  );
  return ['| key | type | default | description |', '|---|---|---|---|', ...rows].join('\n');
}
