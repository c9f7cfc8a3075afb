/**
 * Small HTTP helpers on node:http: read a JSON body under a size limit, validate it (or a query
 * string) with a zod schema into a RequestInvalidError that names every bad field's path, and
 * send JSON.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { formatPath } from '../config/issues.js';
import { PayloadTooLargeError, RequestInvalidError } from './errors.js';

/** Reads the body as JSON (an empty body is `undefined`). */
export async function readJson(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw new PayloadTooLargeError(limitBytes);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks, size).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new RequestInvalidError('request body', [{ path: '', message: `not JSON: ${(e as Error).message}` }]);
  }
}

/**
 * Parses `value` with `schema`; on failure every issue becomes `{ path, message }` with the
 * path under `prefix` (e.g. `query.from`).
 */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string, prefix: readonly PropertyKey[] = []): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new RequestInvalidError(
    what,
    r.error.issues.map((i) => ({ path: formatPath([...prefix, ...i.path]), message: i.message })),
  );
}

/** Sends `body` as JSON with `status` (204 sends nothing). */
export function sendJson(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (status === 204 || body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
