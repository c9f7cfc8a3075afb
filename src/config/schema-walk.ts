import type { z } from 'zod';

/**
 * Walks the policy schema by path, to find the keys allowed at a place (for "did you mean")
 * and to list every field with its type, default and description (for docs).
 * Uses zod 4's `_zod.def`, which zod documents for library authors.
 */

type AnyDef = {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  defaultValue?: unknown;
  entries?: Record<string, string>;
  values?: unknown[];
  options?: z.ZodType[];
};

const WRAPPERS = new Set(['prefault', 'default', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional']);

function defOf(s: z.ZodType): AnyDef {
  return (s as unknown as { _zod: { def: AnyDef } })._zod.def;
}

/** Strips wrappers (optional, prefault, ...) and pipes (transforms) down to the validating schema. */
export function unwrapSchema(s: z.ZodType): z.ZodType {
  let cur = s;
  for (;;) {
    const d = defOf(cur);
    if (WRAPPERS.has(d.type) && d.innerType) cur = d.innerType;
    else if (d.type === 'pipe' && d.in) cur = d.in;
    else return cur;
  }
}

/** The schema at `path` below `root` (array indices step into elements), or undefined. */
export function schemaAt(root: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let cur: z.ZodType | undefined = root;
  for (const seg of path) {
    if (!cur) return undefined;
    const d = defOf(unwrapSchema(cur));
    if (d.type === 'object' && d.shape) cur = d.shape[String(seg)];
    else if (d.type === 'array' && d.element) cur = d.element;
    else if (d.type === 'record' && d.valueType) cur = d.valueType;
    else return undefined;
  }
  return cur;
}

/** Whether `s` (under its wrappers) is an object schema. */
export function isObjectSchema(s: z.ZodType): boolean {
  return defOf(unwrapSchema(s)).type === 'object';
}

/** The keys an object schema at `path` accepts ([] when it is not an object). */
export function keysAt(root: z.ZodType, path: readonly PropertyKey[]): string[] {
  const s = schemaAt(root, path);
  if (!s) return [];
  const d = defOf(unwrapSchema(s));
  return d.type === 'object' && d.shape ? Object.keys(d.shape) : [];
}

/** One documented field of the schema. */
export interface FieldDoc {
  /** Dotted path; `[]` marks list elements, e.g. `policies.groups[].name`. */
  path: string;
  /** A short type such as `duration`, `number`, `sync | async | periodic`, `list of duration`. */
  type: string;
  /** The default as written in a file, when there is one. */
  default?: unknown;
  description?: string;
}

function describeOf(s: z.ZodType): string | undefined {
  // `.describe()` sets `description` on the instance it returns; wrappers keep their own.
  let cur: z.ZodType | undefined = s;
  while (cur) {
    const desc = (cur as unknown as { description?: string }).description;
    if (desc) return desc;
    const d = defOf(cur);
    cur = WRAPPERS.has(d.type) ? d.innerType : d.type === 'pipe' ? d.in : undefined;
  }
  return undefined;
}

function defaultOf(s: z.ZodType): unknown {
  let cur: z.ZodType | undefined = s;
  while (cur) {
    const d = defOf(cur);
    if (d.type === 'prefault' || d.type === 'default') return d.defaultValue;
    cur = WRAPPERS.has(d.type) ? d.innerType : d.type === 'pipe' ? d.in : undefined;
  }
  return undefined;
}

function isOptional(s: z.ZodType): boolean {
  let cur: z.ZodType | undefined = s;
  while (cur) {
    const d = defOf(cur);
    if (d.type === 'optional') return true;
    cur = WRAPPERS.has(d.type) ? d.innerType : d.type === 'pipe' ? d.in : undefined;
  }
  return false;
}

function typeName(s: z.ZodType): string {
  const inner = unwrapSchema(s);
  const d = defOf(inner);
  switch (d.type) {
    case 'union': {
      const kinds = (d.options ?? []).map((o) => defOf(unwrapSchema(o)).type);
      // duration(): string | number piped into a transform
      return kinds.includes('string') && kinds.includes('number') ? 'duration' : kinds.join(' | ');
    }
    case 'enum':
      return Object.values(d.entries ?? {}).join(' | ');
    case 'literal':
      return (d.values ?? []).map(String).join(' | ');
    case 'array':
      return `list of ${d.element ? typeName(d.element) : 'any'}`;
    case 'record':
      return 'mapping';
    case 'object':
      return 'mapping';
    default:
      return d.type;
  }
}

/** Every field of `root`, depth first, with type, default and description. */
export function listFields(root: z.ZodType, prefix = ''): FieldDoc[] {
  const out: FieldDoc[] = [];
  const d = defOf(unwrapSchema(root));
  if (d.type === 'object' && d.shape) {
    for (const [key, child] of Object.entries(d.shape)) {
      const path = prefix ? `${prefix}.${key}` : key;
      const def = defaultOf(child);
      const doc: FieldDoc = { path, type: typeName(child) + (isOptional(child) ? ' (optional)' : '') };
      if (def !== undefined) doc.default = def;
      const desc = describeOf(child);
      if (desc) doc.description = desc;
      out.push(doc);
      const cd = defOf(unwrapSchema(child));
      if (cd.type === 'object') out.push(...listFields(child, path));
      else if (cd.type === 'array' && cd.element && defOf(unwrapSchema(cd.element)).type === 'object') {
        out.push(...listFields(cd.element, `${path}[]`));
      }
    }
  }
  return out;
}
