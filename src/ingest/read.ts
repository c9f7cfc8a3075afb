import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { InputError, UmbraError, isUmbraError } from '../core/errors.js';
import type { RawSeries } from '../forecast/types.js';
import { readBitbrains } from './bitbrains.js';
import { readCsv } from './csv.js';
import { detectFormat, readHead } from './detect.js';
import type { InputFormat } from './formats.js';
import { readNab } from './nab.js';
import { readPrometheusFile } from './prometheus.js';

/** Options for {@link readInputs} and {@link iterInputs}. */
export interface ReadInputsOptions {
  /** Force a format instead of detecting it per file. */
  format?: InputFormat;
}

/** What reading many inputs gave: every series that could be read, and one error per bad file. */
export interface ReadInputsResult {
  series: RawSeries[];
  errors: UmbraError[];
}

/** The outcome of one file in {@link iterInputs}: its series or its error. */
export type FileOutcome = { file: string; series: RawSeries[]; error?: undefined } | { file: string; series?: undefined; error: UmbraError };

const READERS: Record<InputFormat, (path: string, series: string) => Promise<RawSeries[]>> = {
  csv: readCsv,
  bitbrains: readBitbrains,
  nab: readNab,
  prometheus: readPrometheusFile,
};

/** The series id of a file: its name without the (last) extension. */
export function seriesIdOf(path: string): string {
  const name = basename(path);
  const ext = extname(name);
  return ext.length > 0 && ext.length < name.length ? name.slice(0, -ext.length) : name;
}

/**
 * Reads one input file in the given format, or in the format detected from its content.
 *
 * @throws InputError (missing or unreadable file, empty file, bad content, with file and line)
 *   or UmbraError `INPUT_UNSUPPORTED` (unknown format).
 */
export async function readFile(path: string, format?: InputFormat): Promise<RawSeries[]> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw fsError(path, e);
  }
  if (info.isDirectory()) throw new InputError('is a directory (use readInputs for a directory of series)', { file: path });
  if (info.size === 0) throw new InputError('empty file', { file: path, line: 1 });
  let chosen = format;
  if (chosen === undefined) {
    let head: string;
    try {
      head = await readHead(path);
    } catch (e) {
      throw fsError(path, e);
    }
    chosen = detectFormat(path, head);
  }
  try {
    return await READERS[chosen](path, seriesIdOf(path));
  } catch (e) {
    if (isUmbraError(e)) throw e;
    throw fsError(path, e);
  }
}

/**
 * Reads files and directories one file at a time, yielding each file's series or error, so a
 * caller can forecast and release each before the next is read (bounded memory for fleets).
 * A directory stands for the files directly inside it (in natural order: 2 before 10; hidden files and
 * sub-directories skipped). A missing path or an empty directory yields an error.
 */
export async function* iterInputs(paths: string[], opts: ReadInputsOptions = {}): AsyncGenerator<FileOutcome> {
  for (const path of paths) {
    let files: string[];
    try {
      files = await expand(path);
    } catch (e) {
      yield { file: path, error: isUmbraError(e) ? e : fsError(path, e) };
      continue;
    }
    for (const file of files) {
      try {
        yield { file, series: await readFile(file, opts.format) };
      } catch (e) {
        yield { file, error: isUmbraError(e) ? e : new UmbraError('INTERNAL', String(e), { file }, { cause: e }) };
      }
    }
  }
}

/**
 * Reads every input. Never throws for a bad file: its error is collected and the other files
 * are still read, so that the rest of a fleet is still forecast.
 */
export async function readInputs(paths: string[], opts: ReadInputsOptions = {}): Promise<ReadInputsResult> {
  const out: ReadInputsResult = { series: [], errors: [] };
  for await (const r of iterInputs(paths, opts)) {
    if (r.error) out.errors.push(r.error);
    else out.series.push(...r.series);
  }
  return out;
}

/**
 * Expands inputs into files without reading them (a directory is its visible regular files,
 * sorted); a missing path or an empty directory becomes an error, the others still listed.
 */
export async function expandInputs(paths: string[]): Promise<{ files: string[]; errors: UmbraError[] }> {
  const out: { files: string[]; errors: UmbraError[] } = { files: [], errors: [] };
  for (const path of paths) {
    try {
      out.files.push(...(await expand(path)));
    } catch (e) {
      out.errors.push(isUmbraError(e) ? e : fsError(path, e));
    }
  }
  return out;
}

/** A file is itself; a directory is its visible regular files, sorted. */
async function expand(path: string): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const files = entries
    .filter((e) => !e.name.startsWith('.') && (e.isFile() || e.isSymbolicLink()))
    .map((e) => e.name)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((name) => join(path, name));
  const regular: string[] = [];
  for (const f of files) if ((await stat(f).catch(() => undefined))?.isFile()) regular.push(f);
  if (regular.length === 0) throw new InputError('directory has no input files', { file: path });
  return regular;
}

/** Turns a file-system error into an InputError naming the file. */
function fsError(path: string, e: unknown): InputError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const message =
    code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : `cannot read: ${(e as Error)?.message ?? String(e)}`;
  return new InputError(message, { file: path }, { cause: e });
}
