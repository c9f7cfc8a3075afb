import type { z } from 'zod';
import { closest } from '../core/edit-distance.js';
import { keysAt } from './schema-walk.js';

/** One problem in a policy file, placed at the field it is about. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `policies.shadow_creation_threshold` or `forecast.levels[1]`; `''` for the whole file. */
  path: string;
  /** What is wrong, for an operator: `expected a number between 0 and 1, got 1.5`. */
  message: string;
  /** 1-based line in the file, when known. */
  line?: number;
  /** 1-based column in the file, when known. */
  column?: number;
}

/** `['policies', 'groups', 0, 'name']` → `policies.groups[0].name`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/** The value at `path` inside plain data (undefined when absent). */
export function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg as string];
  }
  return cur;
}

/** The closest known key to a misspelt one, when it is close enough to be a typo. */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  const best = closest(unknown.toLowerCase().replace(/-/g, '_'), known);
  const limit = Math.max(2, Math.floor(unknown.length / 4));
  return best !== undefined && best.distance <= limit ? best.match : undefined;
}

/** A short rendering of a received value for a message; undefined for mappings and lists. */
function show(v: unknown): string | undefined {
  if (v === null) return 'an empty value';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return undefined;
}

const FRIENDLY: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
};

/** zod's default "Invalid input: expected object, received null" → "expected a mapping". */
function friendly(message: string): string {
  const m = /^Invalid input: expected (\w+), received \w+$/.exec(message);
  return m ? `expected ${FRIENDLY[m[1]] ?? m[1]}` : message;
}

function lowerFirst(s: string): string {
  s = friendly(s);
  return s.length ? s[0].toLowerCase() + s.slice(1) : s;
}

/**
 * Turns zod's issues into operator-facing ones: one issue per unknown key (with a "did you
 * mean" hint), the received value appended (", got 1.5"), a missing field said to be missing.
 * `data` is the parsed YAML (to show received values); `schema` gives the known keys.
 */
export function toConfigIssues(issues: readonly z.core.$ZodIssue[], data: unknown, schema: z.ZodType): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const iss of issues) {
    const path = iss.path as PropertyKey[];
    if (iss.code === 'unrecognized_keys') {
      const known = keysAt(schema, path);
      for (const key of iss.keys) {
        const hint = suggestKey(key, known);
        const msg = `unknown key "${key}"` + (hint ? ` (did you mean "${hint}"?)` : known.length ? ` (expected one of: ${known.join(', ')})` : '');
        out.push({ path: formatPath([...path, key]), message: msg });
      }
      continue;
    }
    if (iss.code === 'invalid_union' && valueAt(data, path) === undefined) {
      out.push({ path: formatPath(path), message: `missing: ${lowerFirst(iss.message)}` });
      continue;
    }
    if (iss.code === 'invalid_union') {
      // Our schema avoids bare unions except duration(); keep the first branch's words short.
      out.push({ path: formatPath(path), message: lowerFirst(iss.message) + got(valueAt(data, path), true) });
      continue;
    }
    const value = valueAt(data, path);
    if (value === undefined && iss.code === 'invalid_type') {
      out.push({ path: formatPath(path), message: `missing: ${lowerFirst(iss.message)}` });
      continue;
    }
    if (iss.code === 'custom' && (iss.params as { noValue?: boolean } | undefined)?.noValue) {
      out.push({ path: formatPath(path), message: iss.message });
      continue;
    }
    out.push({ path: formatPath(path), message: lowerFirst(iss.message) + got(value, iss.code === 'invalid_type') });
  }
  return out;
}

function got(value: unknown, wrongType = false): string {
  if (value === undefined) return '';
  const s = show(value);
  // Messages about a whole mapping or list ("expected exactly one of http: or command:") read
  // fine alone; a mapping where a scalar was expected is worth saying.
  if (s === undefined || (!wrongType && (s === 'a mapping' || s === 'a list'))) return '';
  return `, got ${s}`;
}
