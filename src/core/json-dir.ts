/**
 * A directory of JSON records, one `<key>.json` file per record, as the agent keeps its VM,
 * shadow and replication records. Writes are atomic (temp file + rename: a crash leaves the old
 * or the new file); a file that does not read or parse back (torn, foreign) is skipped.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Options of a {@link JsonDir}. */
export interface JsonDirOptions {
  /** File mode of written files (e.g. `0o600` when records hold secrets); default: the process umask. */
  mode?: number;
}

/** The files of one directory of JSON records; the directory is created when missing. */
export class JsonDir {
  readonly dir: string;
  private readonly mode: number | undefined;

  constructor(dir: string, opts: JsonDirOptions = {}) {
    this.dir = dir;
    this.mode = opts.mode;
    mkdirSync(dir, { recursive: true });
  }

  /**
   * Every record that reads back, in file-name order. `parse` checks one file's JSON and may
   * throw: that file is skipped, like one that is torn or not JSON.
   */
  readAll<T>(parse: (raw: unknown) => T): T[] {
    const out: T[] = [];
    for (const f of readdirSync(this.dir).sort()) {
      if (!f.endsWith('.json')) continue;
      try {
        out.push(parse(JSON.parse(readFileSync(join(this.dir, f), 'utf8'))));
      } catch {
        // A torn or foreign file: not a record this code wrote.
      }
    }
    return out;
  }

  /** Writes `<key>.json` atomically. */
  write(key: string, value: unknown): void {
    const f = this.file(key);
    writeFileSync(`${f}.tmp`, JSON.stringify(value, null, 2), this.mode === undefined ? undefined : { mode: this.mode });
    renameSync(`${f}.tmp`, f);
  }

  /** Deletes `<key>.json`; no-op when it is missing. */
  remove(key: string): void {
    const f = this.file(key);
    if (existsSync(f)) rmSync(f, { force: true });
  }

  private file(key: string): string {
    return join(this.dir, `${key}.json`);
  }
}

/** How a {@link JsonRecordStore} names and checks its records. */
export interface JsonRecordStoreOptions<R> extends JsonDirOptions {
  /** The record's key (its file name without `.json`). */
  keyOf: (rec: R) => string;
  /** Checks (and may normalize) one file's JSON; throws for a file that is not a record. */
  parse: (raw: unknown) => R;
}

/**
 * Records of a {@link JsonDir} kept in memory too: read once at construction, written through
 * on every change. Returned records are copies: change them through {@link put} or {@link update}.
 */
export class JsonRecordStore<R> {
  private readonly files: JsonDir;
  private readonly keyOf: (rec: R) => string;
  private readonly byKey = new Map<string, R>();

  constructor(dir: string, opts: JsonRecordStoreOptions<R>) {
    this.files = new JsonDir(dir, opts);
    this.keyOf = opts.keyOf;
    for (const rec of this.files.readAll(opts.parse)) this.byKey.set(this.keyOf(rec), rec);
  }

  /** The keys of every record, sorted. */
  ids(): string[] {
    return [...this.byKey.keys()].sort();
  }

  get(id: string): R | undefined {
    const r = this.byKey.get(id);
    return r ? structuredClone(r) : undefined;
  }

  /** Every record (copies), in key order. */
  all(): R[] {
    return this.ids().map((id) => this.get(id)!);
  }

  /** Writes a record (atomically: a crash leaves the old or the new file). */
  put(rec: R): void {
    const copy = structuredClone(rec);
    const key = this.keyOf(copy);
    this.files.write(key, copy);
    this.byKey.set(key, copy);
  }

  /** Changes a record with `fn` and writes it; no-op for an unknown id. */
  update(id: string, fn: (r: R) => void): R | undefined {
    const r = this.get(id);
    if (!r) return undefined;
    fn(r);
    this.put(r);
    return r;
  }

  remove(id: string): void {
    this.byKey.delete(id);
    this.files.remove(id);
  }
}
