import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JsonDir, JsonRecordStore } from './json-dir.js';

interface Rec {
  id: string;
  n: number;
}

const parseRec = (raw: unknown): Rec => {
  const r = raw as Rec;
  if (typeof r.id !== 'string' || typeof r.n !== 'number') throw new Error('not a record');
  return r;
};

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ujd-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('JsonDir', () => {
  it('creates the dir, writes atomically, reads back in name order and skips torn or foreign files', () => {
    const dir = join(tmp(), 'a', 'b');
    const files = new JsonDir(dir);
    files.write('b', { id: 'b', n: 2 });
    files.write('a', { id: 'a', n: 1 });
    writeFileSync(join(dir, 'torn.json'), '{"id": "t", "n":');
    writeFileSync(join(dir, 'foreign.json'), '{"x": 1}');
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    expect(files.readAll(parseRec)).toEqual([{ id: 'a', n: 1 }, { id: 'b', n: 2 }]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    files.remove('a');
    files.remove('missing');
    expect(files.readAll(parseRec).map((r) => r.id)).toEqual(['b']);
  });

  it('writes new files with the given mode', () => {
    const files = new JsonDir(tmp(), { mode: 0o600 });
    files.write('s', { id: 's', n: 0 });
    expect(statSync(join(files.dir, 's.json')).mode & 0o777).toBe(0o600);
  });
});

describe('JsonRecordStore', () => {
  it('reads records back after a restart and hands out copies', () => {
    const dir = tmp();
    const store = new JsonRecordStore<Rec>(dir, { keyOf: (r) => r.id, parse: parseRec });
    store.put({ id: 'y', n: 1 });
    store.put({ id: 'x', n: 2 });
    const got = store.get('x')!;
    got.n = 99;
    expect(store.get('x')).toEqual({ id: 'x', n: 2 });
    expect(store.update('x', (r) => (r.n += 1))).toEqual({ id: 'x', n: 3 });
    expect(store.update('nope', () => undefined)).toBeUndefined();

    const again = new JsonRecordStore<Rec>(dir, { keyOf: (r) => r.id, parse: parseRec });
    expect(again.ids()).toEqual(['x', 'y']);
    expect(again.all()).toEqual([{ id: 'x', n: 3 }, { id: 'y', n: 1 }]);
    again.remove('y');
    expect(new JsonRecordStore<Rec>(dir, { keyOf: (r) => r.id, parse: parseRec }).ids()).toEqual(['x']);
  });
});
