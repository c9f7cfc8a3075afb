import { open } from 'node:fs/promises';
import { InputError, UmbraError } from '../core/errors.js';
import type { InputFormat } from './formats.js';

/** How many bytes of a file detection looks at. */
const HEAD_BYTES = 64 * 1024;

/**
 * Guesses the format of an input from the start of its content (the extension is not
 * trusted): JSON → `prometheus`; a `;`-separated 11-column header starting with `Timestamp`
 * (or 11 `;`-separated numbers) → `bitbrains`; a header of exactly `timestamp,value` → `nab`;
 * any other delimited text with at least two columns → `csv`.
 *
 * @param file the path, used in the error message only.
 * @param head the first kilobytes of the file as text.
 * @throws InputError when the content is empty; UmbraError `INPUT_UNSUPPORTED` when nothing fits.
 */
export function detectFormat(file: string, head: string): InputFormat {
  const text = head.charCodeAt(0) === 0xfeff ? head.slice(1) : head;
  const trimmed = text.trimStart();
  if (trimmed.length === 0) throw new InputError('empty file', { file, line: 1 });
  if (text.includes('\u0000')) throw unsupported(file, 'it looks like a binary file');
  const c = trimmed[0];
  if (c === '{' || c === '[') {
    if (/"(resultType|result|values|status)"\s*:/.test(trimmed)) return 'prometheus';
    throw unsupported(file, 'it is JSON but not a Prometheus query_range response');
  }
  const firstLine = firstContentLine(text);
  const semicolonFields = firstLine.split(';').map((f) => f.trim());
  if (semicolonFields.length === 11) {
    if (/^timestamp/i.test(semicolonFields[0]) && /cpu cores/i.test(firstLine)) return 'bitbrains';
    if (semicolonFields.every((f) => f !== '' && Number.isFinite(Number(f)))) return 'bitbrains';
  }
  if (/^"?timestamp"?\s*,\s*"?value"?$/.test(firstLine.trim())) return 'nab';
  for (const delimiter of [',', ';', '\t']) {
    if (firstLine.split(delimiter).length >= 2) return 'csv';
  }
  throw unsupported(file, 'expected CSV with a time column, a Bitbrains GWA-T-12 trace, a NAB file or Prometheus JSON');
}

/** Reads up to the first 64 KiB of a file as UTF-8 text (for {@link detectFormat}). */
export async function readHead(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

function firstContentLine(text: string): string {
  for (const raw of text.split('\n', 50)) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() !== '' && !line.startsWith('#')) return line;
  }
  return '';
}

function unsupported(file: string, why: string): UmbraError {
  return new UmbraError('INPUT_UNSUPPORTED', `unknown input format: ${why}`, { file });
}
