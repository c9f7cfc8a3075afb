import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

/** A 1-based place in a YAML file. */
export interface SourcePos {
  line: number;
  column: number;
}

function start(node: Node | null | undefined, lc: LineCounter): SourcePos | undefined {
  const offset = node?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = lc.linePos(offset);
  return { line, column: col };
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  if (key === null || key === undefined) return undefined;
  return typeof key === 'object' ? undefined : String(key);
}

/**
 * Where the field at `path` is written: the key of the last mapping entry on the path (so a
 * message points at `shadow_creation_threshold:`), or the element of a list. When the path does
 * not exist in the file (a required field is missing) it returns the nearest written ancestor.
 */
export function locatePath(doc: Document, lc: LineCounter, path: readonly PropertyKey[]): SourcePos | undefined {
  let node: unknown = doc.contents;
  let pos = start(doc.contents as Node | null, lc);
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(seg));
      if (!pair) return pos;
      pos = start(pair.key as Node, lc) ?? pos;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return pos;
      pos = start(item as Node, lc) ?? pos;
      node = item;
    } else {
      return pos;
    }
  }
  return pos;
}
