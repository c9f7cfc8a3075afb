import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { toConfigIssues, type ConfigIssue } from './issues.js';
import { umbraConfigSchema, type UmbraConfig } from './schema.js';
import { locatePath } from './yaml-locate.js';
import { isObjectSchema, schemaAt } from './schema-walk.js';
import { resolveTrafficPaths, trafficFileIssues, type ReadFile } from './traffic-files.js';

/** The outcome of loading a policy file: the config, or every issue found in it. */
export type ConfigLoadResult = { ok: true; config: UmbraConfig } | { ok: false; errors: ConfigIssue[] };

/** Strips yaml's " at line L, column C:" and the code excerpt: the formatter prints the place. */
function yamlMessage(message: string): string {
  const first = message.split('\n')[0];
  return first.replace(/ at line \d+, column \d+:?$/, '');
}

/** What {@link parseConfigText} may do beyond validating the text. */
export interface ParseConfigOptions {
  /** Resolve relative paths in the file (`traffic:`) against this directory (the file's). */
  baseDir?: string;
  /** Check the files the config names (the TSIG secret) with this reader; unchecked without it. */
  readFile?: ReadFile;
}

/**
 * Parses and validates the text of a policy file. Pure: no I/O (unless `opts.readFile` is
 * given). YAML syntax errors are reported with their line and column (and stop there);
 * otherwise every invalid field and every unknown key is reported, each at the line of its
 * key. Empty text means every default.
 */
export function parseConfigText(text: string, opts: ParseConfigOptions = {}): ConfigLoadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, keepSourceTokens: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const issue: ConfigIssue = { path: '', message: `YAML syntax: ${yamlMessage(e.message)}` };
        if (e.linePos) {
          issue.line = e.linePos[0].line;
          issue.column = e.linePos[0].col;
        }
        return issue;
      }),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    return { ok: false, errors: [{ path: '', message: `YAML: ${(err as Error).message}` }] };
  }
  // An empty file, or one with only comments, is a valid file with every default.
  if (data === null || data === undefined) data = {};
  dropEmptySections(data, []);
  const parsed = umbraConfigSchema.safeParse(data);
  let issues: ConfigIssue[];
  if (parsed.success) {
    const config = opts.baseDir ? { ...parsed.data, traffic: resolveTrafficPaths(parsed.data.traffic, opts.baseDir) } : parsed.data;
    issues = opts.readFile ? trafficFileIssues(config.traffic, opts.readFile) : [];
    if (!issues.length) return { ok: true, config };
  } else issues = toConfigIssues(parsed.error.issues, data, umbraConfigSchema);
  for (const issue of issues) {
    const pos = locatePath(doc, lineCounter, pathSegments(issue.path));
    if (pos) {
      issue.line = pos.line;
      issue.column = pos.column;
    }
  }
  issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return { ok: false, errors: issues };
}

/**
 * A section written with nothing under it (`budgets:` whose entries are all commented out) is
 * null in YAML; it means "the defaults", as an absent section does. Scalars stay null (and fail).
 */
function dropEmptySections(data: unknown, path: PropertyKey[]): void {
  if (data === null || typeof data !== 'object') return;
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    const key: PropertyKey = Array.isArray(data) ? Number(k) : k;
    const childPath = [...path, key];
    if (v === null && !Array.isArray(data)) {
      const s = schemaAt(umbraConfigSchema, childPath);
      if (s && isObjectSchema(s)) delete (data as Record<string, unknown>)[k];
    } else dropEmptySections(v, childPath);
  }
}

/** `policies.groups[0].name` → `['policies', 'groups', 0, 'name']`. */
export function pathSegments(path: string): PropertyKey[] {
  const out: PropertyKey[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return out;
}

/**
 * Reads and validates a policy file: relative paths in it are resolved against its directory
 * and the files it names (the TSIG secret) are checked. A file that cannot be read is reported
 * as one issue (path `''`) so that callers have a single shape to print.
 */
export function loadConfigFile(file: string): ConfigLoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    return { ok: false, errors: [{ path: '', message: `cannot read the policy file: ${why}` }] };
  }
  return parseConfigText(text, { baseDir: dirname(file), readFile: (p) => readFileSync(p) });
}
